// A small bar chart drawn as inline SVG. It is an image with a title and a description for
// screen readers; the overview also gives the same figures as a table.

import { h, nextId, s } from "./dom.js";

const WIDTH = 640;
const HEIGHT = 220;
const PAD = { top: 12, right: 24, bottom: 28, left: 56 };

// points: [{label, value (a number, for drawing only), text (what a person reads)}]
export function barChart({ title, description, points, formatAxis = String }) {
  const titleId = nextId("chart-title");
  const descId = nextId("chart-desc");
  const max = Math.max(0, ...points.map((p) => p.value));
  const top = niceCeiling(max);
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotW / Math.max(points.length, 1);
  const barW = Math.max(2, slot * 0.7);
  const labelEvery = points.length > 10 ? Math.ceil(points.length / 7) : 1;
  const y = (value) => PAD.top + plotH - (top ? (value / top) * plotH : 0);

  const grid = [0, top / 2, top].map((tick) =>
    s(
      "g",
      { class: "tick" },
      s("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(tick), y2: y(tick) }),
      s("text", { x: PAD.left - 6, y: y(tick) + 4, "text-anchor": "end" }, formatAxis(tick)),
    ),
  );
  const bars = points.map((point, index) => {
    const x = PAD.left + index * slot + (slot - barW) / 2;
    const barTop = y(point.value);
    return s(
      "g",
      { class: "bar" },
      s("rect", {
        x: x.toFixed(1),
        y: barTop.toFixed(1),
        width: barW.toFixed(1),
        height: Math.max(0, PAD.top + plotH - barTop).toFixed(1),
      }),
      s("title", {}, `${point.label}: ${point.text}`),
      index % labelEvery === 0 || index === points.length - 1
        ? s("text", { x: (x + barW / 2).toFixed(1), y: HEIGHT - 8, "text-anchor": "middle" }, point.label)
        : null,
    );
  });
  return h(
    "figure",
    { class: "chart" },
    h("figcaption", { id: titleId }, title),
    s(
      "svg",
      {
        viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
        role: "img",
        "aria-labelledby": titleId,
        "aria-describedby": descId,
        preserveAspectRatio: "xMidYMid meet",
      },
      s("desc", { id: descId }, description),
      grid,
      bars,
    ),
  );
}

// The smallest of 1, 2, 2.5, 5 times a power of ten at or above value (0 stays 0).
function niceCeiling(value) {
  if (value <= 0) return 0;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * power >= value) return step * power;
  }
  return 10 * power;
}
