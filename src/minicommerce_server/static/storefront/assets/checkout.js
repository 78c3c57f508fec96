// Checkout: the shipping address, then one order per attempt, however often it is sent.

import { api, ApiError } from "./api.js";
import { requireSignIn } from "./auth.js";
import { loadCart } from "./cart.js";
import { busy, clearFormErrors, field, formData, h, money, say, show, showFormErrors } from "./ui.js";

const ATTEMPT = "minicommerce.checkout";
const ADDRESS = [
  ["full_name", "Full name", { autocomplete: "name", required: true }],
  ["line1", "Address line 1", { autocomplete: "address-line1", required: true }],
  ["line2", "Address line 2 (optional)", { autocomplete: "address-line2" }],
  ["city", "Town or city", { autocomplete: "address-level2", required: true }],
  ["region", "Region or state (optional)", { autocomplete: "address-level1" }],
  ["postal_code", "Postcode", { autocomplete: "postal-code", required: true }],
  ["country", "Country code", { autocomplete: "country", required: true, maxlength: "2",
    class: "short" }, "Two letters, for example DE, FR or US."],
  ["phone", "Phone (optional)", { autocomplete: "tel", type: "tel" }],
];
const LABELS = Object.fromEntries(ADDRESS.map(([name, label]) => [`shipping_address.${name}`, label]));

/**
 * The Idempotency-Key of this checkout attempt. It is kept in sessionStorage with the
 * body it was made for, so that a reload or a retry after a lost answer sends the same key
 * (and the server answers with the order it already made); a different body, or an
 * attempt the server answered, starts a new key.
 */
function attemptKey(body) {
  const text = JSON.stringify(body);
  try {
    const saved = JSON.parse(sessionStorage.getItem(ATTEMPT));
    if (saved && saved.body === text) return saved.key;
  } catch { /* nothing saved */ }
  const key = crypto.randomUUID();
  sessionStorage.setItem(ATTEMPT, JSON.stringify({ key, body: text }));
  return key;
}

function endAttempt() {
  sessionStorage.removeItem(ATTEMPT);
}

/** Whether the server surely did not place an order for this attempt. */
function answered(error) {
  return error instanceof ApiError && error.status >= 400 && error.status < 500
    && error.code !== "idempotency_key_in_progress";
}

export async function checkoutView(ctx) {
  if (!requireSignIn(ctx, "Please sign in to check out.")) return;
  show("Checkout", h("p", { class: "muted" }, "Loading…"));
  let cart;
  try {
    cart = await loadCart();
  } catch (error) {
    return ctx.fail(error);
  }
  if (!cart.items.length) {
    show("Checkout", h("p", {}, "Your cart is empty."),
      h("p", {}, h("a", { href: "/", class: "button primary" }, "Browse the shop")));
    return;
  }
  const names = new Map(cart.items.map((item) => [item.product_id, item.name]));
  const place = h("button", { type: "submit", class: "primary" },
    `Place order · ${money(cart.total, cart.currency)}`);
  let inFlight = false;
  const form = h("form", { novalidate: true, class: "stack address", onsubmit: async (event) => {
    event.preventDefault();
    if (inFlight) return;
    inFlight = true;
    clearFormErrors(form);
    const address = formData(form);
    for (const key of Object.keys(address)) if (!address[key]) delete address[key];
    if (address.country) address.country = address.country.toUpperCase();
    const body = { shipping_address: address };
    try {
      await busy(place, "Placing your order…", async () => {
        try {
          const order = await api("/orders", {
            method: "POST", auth: true, body, headers: { "Idempotency-Key": attemptKey(body) },
          });
          endAttempt();
          await loadCart().catch(() => {});
          ctx.go(`/orders/${order.id}`);
          say(`Thank you! Order ${order.id} is placed.`);
        } catch (error) {
          if (answered(error)) endAttempt();
          report(ctx, form, error, names);
        }
      });
    } finally {
      inFlight = false;
    }
  } },
  h("fieldset", {},
    h("legend", {}, "Shipping address"),
    ADDRESS.map(([name, label, attrs, hint]) =>
      field(`shipping_address.${name}`, label, { ...attrs, name }, hint))),
  place);
  show("Checkout",
    h("section", { class: "summary", "aria-labelledby": "summary-title" },
      h("h2", { id: "summary-title" }, "Your order"),
      h("ul", { class: "lines compact" }, cart.items.map((item) => h("li", { class: "line-head" },
        h("span", {}, `${item.quantity} × ${item.name}`),
        h("span", {}, money(item.line_total, cart.currency))))),
      h("p", { class: "total" }, "Total ", h("strong", {}, money(cart.total, cart.currency)))),
    form);
}

function report(ctx, form, error, names) {
  if (!(error instanceof ApiError)) throw error;
  if (error.code === "session_expired") return ctx.signIn(error.message);
  if (error.code === "insufficient_stock") {
    const short = error.errors.map(({ field: f, message }) => {
      const id = Number(f.split(":")[1]);
      const available = /available (\d+)/.exec(message)?.[1];
      const name = names.get(id) || `product ${id}`;
      return available === "0" ? `${name} is sold out` : `only ${available} of ${name} left`;
    });
    say(`Sorry, not enough stock: ${short.join("; ")}. Change your cart and try again.`, "error");
    const link = h("a", { href: "/cart" }, "Change your cart");
    document.querySelector("#messages .note span").append(" ", link);
    return;
  }
  const errors = error.errors.map(({ field: name, message }) => ({
    field: name,
    message: name === "shipping_address.country" && /pattern/.test(message)
      ? "Enter the two-letter code of the country, like DE or GB" : message,
  }));
  if (!showFormErrors(form, "There is a problem with your address", errors, LABELS)) {
    say(error.message, "error");
  }
}
