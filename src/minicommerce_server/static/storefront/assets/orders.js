// Order history and detail; cancelling a pending order.

import { api } from "./api.js";
import { requireSignIn } from "./auth.js";
import { busy, dateTime, h, money, say, show } from "./ui.js";

const STATUS = {
  pending: "Pending", paid: "Paid", shipped: "Shipped", delivered: "Delivered",
  cancelled: "Cancelled",
};

function items(order) {
  const count = order.items.reduce((n, item) => n + item.quantity, 0);
  return `${count} item${count === 1 ? "" : "s"}`;
}

const badge = (status) => h("span", { class: `badge status-${status}` }, STATUS[status] || status);

export async function ordersView(ctx) {
  if (!requireSignIn(ctx, "Please sign in to see your orders.")) return;
  const list = h("ul", { class: "lines", "aria-label": "Orders" });
  const more = h("button", { type: "button", class: "secondary more", hidden: true }, "Show more");
  show("Your orders", list, more);
  let cursor = null;
  async function load() {
    const params = new URLSearchParams({ limit: "10" });
    if (cursor) params.set("cursor", cursor);
    const page = await api(`/orders?${params}`, { auth: true });
    list.append(...page.items.map((order) => h("li", { class: "line" },
      h("div", { class: "line-head" },
        h("a", { href: `/orders/${order.id}` }, `Order ${order.id}`),
        h("span", { class: "line-total" }, money(order.total_amount, order.currency))),
      h("p", { class: "muted" }, dateTime(order.created_at), " · ",
        `${items(order)} · `, badge(order.status)))));
    cursor = page.next_cursor;
    more.hidden = !cursor;
    if (!list.children.length) {
      list.replaceWith(h("p", {}, "No orders yet. ", h("a", { href: "/" }, "Browse the shop")));
    }
  }
  more.addEventListener("click", () => busy(more, "Loading…", () => load().catch(ctx.fail)));
  try {
    await load();
  } catch (error) {
    ctx.fail(error);
  }
}

export async function orderView(ctx, id) {
  if (!requireSignIn(ctx, "Please sign in to see your orders.")) return;
  let order;
  try {
    order = await api(`/orders/${encodeURIComponent(id)}`, { auth: true });
  } catch (error) {
    return ctx.fail(error);
  }
  render(ctx, order);
}

function render(ctx, order) {
  const a = order.shipping_address;
  const actions = h("div", { class: "actions" });
  if (order.status === "pending") {
    const cancel = h("button", { type: "button", class: "secondary danger" }, "Cancel order");
    cancel.addEventListener("click", () => {
      const yes = h("button", { type: "button", class: "primary danger" }, "Yes, cancel this order");
      const no = h("button", { type: "button", class: "secondary" }, "Keep it");
      no.addEventListener("click", () => { actions.replaceChildren(cancel); cancel.focus(); });
      yes.addEventListener("click", () => busy(yes, "Cancelling…", async () => {
        try {
          const next = await api(`/orders/${order.id}/cancel`, { method: "POST", auth: true });
          render(ctx, next);
          say(`Order ${order.id} is cancelled.`);
        } catch (error) {
          ctx.fail(error);
        }
      }));
      actions.replaceChildren(h("p", {}, "Cancel this order? Its products go back on sale."), yes, no);
      yes.focus();
    });
    actions.append(cancel);
  }
  show(`Order ${order.id}`,
    h("p", {}, "Status: ", badge(order.status), " · placed ", dateTime(order.created_at)),
    h("ul", { class: "lines", "aria-label": "Order lines" }, order.items.map((item) => h("li", { class: "line" },
      h("div", { class: "line-head" }, h("span", {}, `${item.quantity} × ${item.name}`),
        h("span", { class: "line-total" }, money(item.line_total, order.currency))),
      h("p", { class: "muted" }, `${money(item.unit_price, order.currency)} each`, item.sku ? ` · SKU ${item.sku}` : "")))),
    h("p", { class: "total" }, "Total ", h("strong", {}, money(order.total_amount, order.currency))),
    h("section", { "aria-labelledby": "ship-title" },
      h("h2", { id: "ship-title" }, "Shipping to"),
      h("address", {}, [a.full_name, a.line1, a.line2, [a.postal_code, a.city].join(" "), a.region,
        a.country, a.phone].filter(Boolean).flatMap((part) => [part, h("br")]))),
    actions,
    h("p", {}, h("a", { href: "/orders" }, "← All orders")));
}
