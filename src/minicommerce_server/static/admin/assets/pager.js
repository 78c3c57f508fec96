// "Previous" and "Next" for the API's cursor pages. The API only gives the next cursor, so
// the cursors of the pages seen before are kept here, per list and filter.

import { h } from "./dom.js";

const trails = new Map();

export function pager({ query, nextCursor, path, navigate }) {
  const params = Object.fromEntries(query.entries());
  const cursor = params.cursor || "";
  delete params.cursor;
  const key = `${path}?${new URLSearchParams(params)}`;
  const trail = trails.get(key) || [];
  trails.set(key, trail);
  if (!cursor) trail.length = 0;
  const previous = () => {
    navigate(path, { ...params, cursor: trail.pop() || "" });
  };
  const next = () => {
    trail.push(cursor);
    navigate(path, { ...params, cursor: nextCursor });
  };
  if (!cursor && !nextCursor) return null;
  return h(
    "nav",
    { class: "pager", "aria-label": "Pages" },
    cursor ? h("button", { type: "button", class: "secondary", onclick: previous }, "Previous page") : null,
    nextCursor ? h("button", { type: "button", class: "secondary", onclick: next }, "Next page") : null,
  );
}
