// Orders, newest first, with their customers; an order's lines and address; and exactly
// the status moves the state machine allows (the API still decides: a 409 is shown).

import { humanMessage } from "./api.js";
import { h, money, notice, replace, when, fullName } from "./dom.js";
import { select } from "./forms.js";
import { pager } from "./pager.js";

const STATUSES = ["pending", "paid", "shipped", "delivered", "cancelled"];

// The state machine of API.md: pending -> paid -> shipped -> delivered; pending or paid -> cancelled.
export const MOVES = {
  pending: [["paid", "Mark as paid"], ["cancelled", "Cancel order"]],
  paid: [["shipped", "Mark as shipped"], ["cancelled", "Cancel order"]],
  shipped: [["delivered", "Mark as delivered"]],
  delivered: [],
  cancelled: [],
};

function statusBadge(status) {
  return h("span", { class: `badge badge-${status}` }, status);
}

function customer(order) {
  const name = fullName(order.user);
  return [name ? h("span", { class: "customer-name" }, name) : null, h("span", { class: "customer-email" }, order.user.email)];
}

export async function orderListView({ api, query, navigate }) {
  const status = STATUSES.includes(query.get("status")) ? query.get("status") : "";
  const cursor = query.get("cursor") || "";
  const page = await api.get("/admin/orders", { status, cursor, limit: 20 });
  const form = h(
    "form",
    { class: "filters", "aria-label": "Filter orders" },
    select({
      label: "Status",
      name: "status",
      options: [["", "Any status"], ...STATUSES.map((s) => [s, s])],
      value: status,
    }),
    h("button", { type: "submit" }, "Filter"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    navigate("/orders", { status: form.elements.status.value });
  });
  return h(
    "section",
    {},
    h("h1", {}, "Orders"),
    form,
    page.items.length
      ? h(
          "div",
          { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Orders table" },
          h(
            "table",
            { class: "orders list" },
            h("caption", { class: "visually-hidden" }, status ? `Orders with status ${status}, newest first` : "Orders, newest first"),
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                h("th", { scope: "col" }, "Order"),
                h("th", { scope: "col" }, "Placed"),
                h("th", { scope: "col" }, "Customer"),
                h("th", { scope: "col" }, "Status"),
                h("th", { scope: "col", class: "num" }, "Total"),
              ),
            ),
            h(
              "tbody",
              {},
              page.items.map((order) =>
                h(
                  "tr",
                  {},
                  h("th", { scope: "row" }, h("a", { href: `#/orders/${order.id}` }, `#${order.id}`)),
                  h("td", {}, when(order.created_at)),
                  h("td", { class: "customer" }, customer(order)),
                  h("td", {}, statusBadge(order.status)),
                  h("td", { class: "num" }, money(order.total_amount, order.currency)),
                ),
              ),
            ),
          ),
        )
      : h("p", {}, status ? `No order is ${status}.` : "No order yet."),
    pager({ query, nextCursor: page.next_cursor, path: "/orders", navigate }),
  );
}

export async function orderDetailView({ api, params }) {
  const id = Number(params[0]);
  const order = await api.get(`/admin/orders/${id}`);
  const section = h("section", { class: "order-detail" });
  draw(order);
  return section;

  function draw(current, message) {
    const status = h("div", { class: "status-slot" }, message || null);
    const actions = MOVES[current.status].map(([target, label]) =>
      h(
        "button",
        {
          type: "button",
          class: target === "cancelled" ? "danger" : undefined,
          onclick: async (event) => {
            const button = event.currentTarget;
            button.disabled = true;
            try {
              const moved = await api.patch(`/admin/orders/${current.id}`, { status: target });
              draw(moved, notice(`Order #${moved.id} is now ${moved.status}.`));
              section.querySelector(".order-actions button, h1")?.focus();
            } catch (error) {
              const text =
                error.code === "invalid_transition"
                  ? `This order cannot become ${target} any more: it was changed meanwhile. Reload to see its status.`
                  : humanMessage(error);
              replace(status, notice(text, "error"));
              button.disabled = false;
            }
          },
        },
        label,
      ),
    );
    const address = current.shipping_address;
    replace(
      section,
      h("p", {}, h("a", { href: "#/orders" }, "← All orders")),
      h("h1", {}, `Order #${current.id}`),
      status,
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "Status"),
        h("dd", {}, statusBadge(current.status)),
        h("dt", {}, "Placed"),
        h("dd", {}, when(current.created_at)),
        h("dt", {}, "Customer"),
        h("dd", {}, customer(current), " ", h("a", { href: `#/users?q=${encodeURIComponent(current.user.email)}` }, "(account)")),
        h("dt", {}, "Total"),
        h("dd", {}, money(current.total_amount, current.currency)),
      ),
      h(
        "div",
        { class: "order-actions", role: "group", "aria-label": "Change the status" },
        actions.length ? actions : h("p", {}, `A ${current.status} order cannot change any more.`),
      ),
      h("h2", {}, "Lines"),
      h(
        "div",
        { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Order lines table" },
        h(
          "table",
          {},
          h("caption", { class: "visually-hidden" }, "Order lines"),
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", { scope: "col" }, "Product"),
              h("th", { scope: "col" }, "SKU"),
              h("th", { scope: "col", class: "num" }, "Quantity"),
              h("th", { scope: "col", class: "num" }, "Unit price"),
              h("th", { scope: "col", class: "num" }, "Line total"),
            ),
          ),
          h(
            "tbody",
            {},
            current.items.map((item) =>
              h(
                "tr",
                {},
                h("th", { scope: "row" }, item.name),
                h("td", {}, item.sku || "—"),
                h("td", { class: "num" }, item.quantity),
                h("td", { class: "num" }, money(item.unit_price, current.currency)),
                h("td", { class: "num" }, money(item.line_total, current.currency)),
              ),
            ),
          ),
          h(
            "tfoot",
            {},
            h(
              "tr",
              {},
              h("th", { scope: "row", colspan: 4 }, "Total"),
              h("td", { class: "num" }, money(current.total_amount, current.currency)),
            ),
          ),
        ),
      ),
      h("h2", {}, "Shipping address"),
      h(
        "address",
        {},
        [address.full_name, address.line1, address.line2, [address.postal_code, address.city].filter(Boolean).join(" "), address.region, address.country, address.phone]
          .filter(Boolean)
          .map((line) => h("span", { class: "line" }, line)),
      ),
    );
  }
}
