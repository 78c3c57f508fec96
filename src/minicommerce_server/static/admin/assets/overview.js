// Overview: orders and revenue per day (7 or 30 days), orders by status, low-stock products.
// Everything comes from GET /admin/stats; the low-stock threshold is a setting of this browser.

import { humanMessage } from "./api.js";
import { barChart } from "./chart.js";
import { h, money, notice, replace } from "./dom.js";
import { field } from "./forms.js";

const THRESHOLD_KEY = "minicommerce.admin.low_stock";
const STATUSES = ["pending", "paid", "shipped", "delivered", "cancelled"];
const dayLabel = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", timeZone: "UTC" });

export function storedThreshold() {
  const raw = window.localStorage.getItem(THRESHOLD_KEY);
  return raw !== null && /^\d+$/.test(raw) ? Number(raw) : null;
}

export async function overviewView({ api, query, navigate }) {
  const days = query.get("days") === "7" ? 7 : 30;
  const threshold = storedThreshold();
  const stats = await api.get("/admin/stats", { days, low_stock: threshold ?? undefined });
  return h(
    "section",
    { class: "overview" },
    h("h1", {}, "Overview"),
    periodSwitch(days, navigate),
    salesSection(stats),
    h(
      "div",
      { class: "columns" },
      statusSection(stats, days),
      lowStockSection(api, stats),
    ),
  );
}

function periodSwitch(days, navigate) {
  return h(
    "nav",
    { class: "period", "aria-label": "Period" },
    [7, 30].map((value) =>
      h(
        "a",
        {
          href: value === 30 ? "#/" : "#/?days=7",
          class: "pill",
          "aria-current": value === days ? "page" : undefined,
          onclick: (event) => {
            event.preventDefault();
            navigate("/", value === 30 ? {} : { days: 7 });
          },
        },
        `Last ${value} days`,
      ),
    ),
  );
}

function salesSection(stats) {
  const { currency } = stats;
  const totalOrders = stats.days.reduce((sum, day) => sum + day.orders, 0);
  const labels = stats.days.map((day) => dayLabel.format(new Date(`${day.date}T00:00:00Z`)));
  const orderPoints = stats.days.map((day, i) => ({
    label: labels[i],
    value: day.orders,
    text: `${day.orders} order${day.orders === 1 ? "" : "s"}`,
  }));
  // Bar heights need numbers; every figure a person reads is the API's decimal string.
  const revenuePoints = stats.days.map((day, i) => ({
    label: labels[i],
    value: Number(day.revenue),
    text: money(day.revenue, currency),
  }));
  const busiest = stats.days.reduce((best, day) => (day.orders > best.orders ? day : best), stats.days[0]);
  const period = `the last ${stats.days.length} days`;
  return h(
    "section",
    { "aria-labelledby": "sales-heading" },
    h("h2", { id: "sales-heading" }, `Orders and revenue, ${period}`),
    h("p", { class: "lead" }, `${totalOrders} order${totalOrders === 1 ? "" : "s"} placed (cancelled ones not counted).`),
    h(
      "div",
      { class: "charts" },
      barChart({
        title: "Orders per day",
        description: `Bar chart of orders per day over ${period}: ${totalOrders} in all${
          busiest && busiest.orders ? `, most on ${busiest.date} (${busiest.orders})` : ""
        }. The table below gives every day.`,
        points: orderPoints,
        formatAxis: (tick) => (Number.isInteger(tick) ? String(tick) : ""),
      }),
      barChart({
        title: `Revenue per day (${currency})`,
        description: `Bar chart of revenue per day over ${period}. The table below gives every day.`,
        points: revenuePoints,
        formatAxis: (tick) => new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 }).format(tick),
      }),
    ),
    h(
      "details",
      { class: "table-alternative" },
      h("summary", {}, "Show these figures as a table"),
      h(
        "table",
        {},
        h("caption", {}, `Orders and revenue per day, ${period}`),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Day"), h("th", { scope: "col", class: "num" }, "Orders"), h("th", { scope: "col", class: "num" }, "Revenue"))),
        h(
          "tbody",
          {},
          stats.days.map((day) =>
            h("tr", {}, h("th", { scope: "row" }, day.date), h("td", { class: "num" }, day.orders), h("td", { class: "num" }, money(day.revenue, currency))),
          ),
        ),
      ),
    ),
  );
}

function statusSection(stats, days) {
  return h(
    "section",
    { "aria-labelledby": "status-heading" },
    h("h2", { id: "status-heading" }, "Orders by status"),
    h(
      "table",
      {},
      h("caption", { class: "visually-hidden" }, `Orders placed in the last ${days} days, by status`),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Status"), h("th", { scope: "col", class: "num" }, "Orders"))),
      h(
        "tbody",
        {},
        STATUSES.map((status) =>
          h(
            "tr",
            {},
            h("th", { scope: "row" }, h("a", { href: `#/orders?status=${status}` }, status)),
            h("td", { class: "num" }, stats.by_status[status] ?? 0),
          ),
        ),
      ),
    ),
  );
}

function lowStockSection(api, stats) {
  const list = h("div", { class: "low-stock-list" }, lowStockTable(stats));
  const status = h("div", { class: "status-slot" });
  const form = h(
    "form",
    { class: "inline-form", novalidate: true },
    field({
      label: "Low-stock threshold",
      name: "low_stock",
      type: "number",
      min: 0,
      max: 100000,
      step: 1,
      inputmode: "numeric",
      value: stats.low_stock_threshold,
      hint: "Products with this many units or fewer are listed. Kept in this browser.",
    }),
    h("button", { type: "submit", class: "secondary" }, "Apply"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const raw = form.elements.low_stock.value.trim();
    if (!/^\d+$/.test(raw) || Number(raw) > 100000) {
      replace(status, notice("Enter a whole number from 0 to 100000.", "error"));
      return;
    }
    try {
      const fresh = await api.get("/admin/stats", { days: stats.days.length, low_stock: raw });
      window.localStorage.setItem(THRESHOLD_KEY, raw);
      replace(list, lowStockTable(fresh));
      replace(status, notice(`Threshold set to ${raw}.`));
    } catch (error) {
      replace(status, notice(humanMessage(error), "error"));
    }
  });
  return h(
    "section",
    { "aria-labelledby": "low-stock-heading" },
    h("h2", { id: "low-stock-heading" }, "Low stock"),
    form,
    status,
    list,
  );
}

function lowStockTable(stats) {
  if (!stats.low_stock.length) {
    return h("p", {}, `No product has ${stats.low_stock_threshold} units or fewer.`);
  }
  return h(
    "table",
    {},
    h("caption", { class: "visually-hidden" }, `Products with ${stats.low_stock_threshold} units or fewer, lowest first`),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Product"), h("th", { scope: "col" }, "SKU"), h("th", { scope: "col", class: "num" }, "In stock"))),
    h(
      "tbody",
      {},
      stats.low_stock.map((product) =>
        h(
          "tr",
          {},
          h("th", { scope: "row" }, h("a", { href: `#/products/${product.id}` }, product.name)),
          h("td", {}, product.sku || "—"),
          h("td", { class: "num" }, product.stock_quantity),
        ),
      ),
    ),
  );
}
