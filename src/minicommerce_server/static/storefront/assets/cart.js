// The signed-in customer's cart: add, change quantities, remove. Totals are the API's.

import { api, ApiError, session } from "./api.js";
import { requireSignIn } from "./auth.js";
import { busy, h, money, say, show } from "./ui.js";

let cached = null;

export function cartCount(cart = cached) {
  const badge = document.getElementById("cart-count");
  const count = cart ? cart.item_count : 0;
  badge.textContent = count ? String(count) : "";
  badge.hidden = !count;
  document.getElementById("cart-link").setAttribute("aria-label",
    count ? `Cart, ${count} item${count === 1 ? "" : "s"}` : "Cart, empty");
}

export async function loadCart() {
  cached = session.signedIn ? await api("/cart", { auth: true }) : null;
  cartCount();
  return cached;
}

export function forgetCart() {
  cached = null;
  cartCount();
}

/** Adds ``quantity`` of a product: PUT sets a quantity, so add to what is there. */
export async function addToCart(ctx, product, quantity) {
  if (!requireSignIn(ctx, "Please sign in to add products to your cart.")) return;
  try {
    const cart = cached || await loadCart();
    const line = cart.items.find((item) => item.product_id === product.id);
    cached = await api(`/cart/items/${product.id}`, {
      method: "PUT", auth: true, body: { quantity: (line ? line.quantity : 0) + quantity },
    });
    cartCount();
    say(`Added ${product.name} to your cart.`);
  } catch (error) {
    say(stockMessage(error, product.name), "error");
    if (error.code === "session_expired") ctx.signIn(error.message);
  }
}

function stockMessage(error, name) {
  if (error.code === "insufficient_stock") {
    const available = /available (\d+)/.exec(error.errors[0]?.message || "")?.[1];
    return available === "0" || available === undefined
      ? `Sorry, ${name} is sold out.`
      : `Sorry, only ${available} of ${name} ${available === "1" ? "is" : "are"} left.`;
  }
  return error.message;
}

export async function cartView(ctx) {
  if (!requireSignIn(ctx, "Please sign in to see your cart.")) return;
  show("Your cart", h("p", { class: "muted" }, "Loading…"));
  let cart;
  try {
    cart = await loadCart();
  } catch (error) {
    return ctx.fail(error);
  }
  render(ctx, cart);
}

function render(ctx, cart) {
  if (!cart.items.length) {
    show("Your cart", h("p", {}, "Your cart is empty."),
      h("p", {}, h("a", { href: "/", class: "button primary" }, "Browse the shop")));
    return;
  }
  const update = async (button, productId, quantity, name) => busy(button, "…", async () => {
    try {
      const next = quantity > 0
        ? await api(`/cart/items/${productId}`, { method: "PUT", auth: true, body: { quantity } })
        : await api(`/cart/items/${productId}`, { method: "DELETE", auth: true });
      cached = next;
      cartCount();
      render(ctx, next);
      say(quantity > 0 ? `${name}: quantity ${quantity}.` : `Removed ${name}.`);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      say(stockMessage(error, name), "error");
      if (error.code === "session_expired") ctx.signIn(error.message);
    }
  });
  const rows = cart.items.map((item) => {
    const id = `qty-${item.product_id}`;
    const qty = h("input", { id, type: "number", min: "1", max: "1000", value: String(item.quantity),
      inputmode: "numeric", class: "qty" });
    const set = h("button", { type: "submit", class: "secondary" }, "Update");
    const remove = h("button", { type: "button", class: "link danger",
      "aria-label": `Remove ${item.name}` }, "Remove");
    remove.addEventListener("click", () => update(remove, item.product_id, 0, item.name));
    return h("li", { class: "line" },
      h("div", { class: "line-head" },
        h("a", { href: `/products/${item.product_id}` }, item.name),
        h("span", { class: "line-total" }, money(item.line_total, cart.currency))),
      h("p", { class: "muted" }, `${money(item.unit_price, cart.currency)} each`),
      h("form", { class: "line-form", onsubmit: (event) => {
        event.preventDefault();
        const n = Number.parseInt(qty.value, 10);
        if (!(n >= 0 && n <= 1000)) { say("Choose a quantity from 0 to 1000.", "error"); qty.focus(); return; }
        update(set, item.product_id, n, item.name);
      } },
      h("label", { for: id }, `Quantity of ${item.name}`), qty, set, remove));
  });
  show("Your cart",
    h("ul", { class: "lines", "aria-label": "Cart lines" }, rows),
    h("p", { class: "total" }, "Total ", h("strong", {}, money(cart.total, cart.currency))),
    h("p", {}, h("a", { href: "/checkout", class: "button primary" }, "Check out")));
}
