// The storefront: routes, navigation, the offline banner and the service worker.

import { ApiError, onSessionChange, session } from "./api.js";
import { registerView, signInView, signOut } from "./auth.js";
import { cartView, forgetCart, loadCart } from "./cart.js";
import { catalogView, productView } from "./catalog.js";
import { checkoutView } from "./checkout.js";
import { orderView, ordersView } from "./orders.js";
import { clearMessages, focusHeading, h, say, show } from "./ui.js";

const ROUTES = [
  [/^\/$/, catalogView],
  [/^\/products\/(\d+)$/, productView],
  [/^\/cart$/, cartView],
  [/^\/checkout$/, checkoutView],
  [/^\/orders$/, ordersView],
  [/^\/orders\/(\d+)$/, orderView],
  [/^\/signin$/, signInView],
  [/^\/register$/, registerView],
];

const ctx = {
  /** Shows another page; ``replace`` keeps a redirect out of the history. */
  go(url, replace = false) {
    history[replace ? "replaceState" : "pushState"]({}, "", url);
    route(true);
  },
  /** What to do with an error that ends a page: sign in again, or say what happened. */
  fail(error) {
    if (!(error instanceof ApiError)) throw error;
    if (error.code === "session_expired") return ctx.signIn(error.message);
    if (error.status === 404) {
      show("Not found", h("p", {}, error.message), h("p", {}, h("a", { href: "/" }, "Back to the shop")));
      return;
    }
    say(error.message, "error");
  },
  signIn(message) {
    forgetCart();
    const next = location.pathname + location.search;
    ctx.go(`/signin?next=${encodeURIComponent(next)}`, true);
    say(message, "error");
  },
};

let pending = 0;

async function route(navigated = false) {
  const path = location.pathname;
  const ticket = ++pending;
  if (navigated) clearMessages();
  markCurrent(path);
  for (const [pattern, view] of ROUTES) {
    const match = pattern.exec(path);
    if (!match) continue;
    try {
      await view(ctx, ...match.slice(1));
    } catch (error) {
      if (error instanceof ApiError) ctx.fail(error);
      else {
        say("Something went wrong in this page. Please reload.", "error");
        throw error;
      }
    }
    if (navigated && ticket === pending) focusHeading();
    return;
  }
  show("Page not found", h("p", {}, "There is no such page. "),
    h("p", {}, h("a", { href: "/" }, "Back to the shop")));
}

function markCurrent(path) {
  for (const link of document.querySelectorAll("nav a")) {
    const href = link.getAttribute("href");
    const current = href === "/" ? path === "/" || path.startsWith("/products")
      : path.startsWith(href);
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function account(signedIn) {
  const slot = document.getElementById("account");
  if (signedIn) {
    const out = h("button", { type: "button", class: "link" }, "Sign out");
    out.addEventListener("click", () => { forgetCart(); signOut(ctx); });
    slot.replaceChildren(out);
  } else {
    slot.replaceChildren(h("a", { href: "/signin" }, "Sign in"));
  }
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[href]");
  if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey
      || event.shiftKey || event.altKey || link.target || link.hasAttribute("download")) return;
  const url = new URL(link.href);
  if (url.origin !== location.origin || url.pathname.startsWith("/api/")) return;
  if (url.hash && url.pathname === location.pathname && url.search === location.search) return;
  event.preventDefault();
  ctx.go(url.pathname + url.search);
});
addEventListener("popstate", () => route(true));

function connectivity() {
  document.getElementById("offline").hidden = navigator.onLine;
}
addEventListener("online", connectivity);
addEventListener("offline", connectivity);
connectivity();

onSessionChange((signedIn) => {
  account(signedIn);
  if (!signedIn) forgetCart();
});
account(session.signedIn);
if (session.signedIn) loadCart().catch(() => {});
route();

if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {
    // Without a service worker the shop works online only; nothing to tell the customer.
  });
  // The worker answered a catalog read from its cache and then found a newer answer:
  // show the page again with it (a price edited meanwhile, a product sold out).
  let refresh = null;
  navigator.serviceWorker.addEventListener("message", (event) => {
    if (event.data?.type !== "catalog-updated" || document.querySelector(".grid > li:nth-child(13)")) return;
    clearTimeout(refresh);
    refresh = setTimeout(redrawKeepingFocus, 100);
  });
}

/** A redraw the customer did not ask for keeps their place: the control they were on (found
 * again by its id, with what they had typed), or at least the main content, never the top
 * of the page, where a keyboard or screen-reader user would have to start over. */
async function redrawKeepingFocus() {
  const before = document.activeElement;
  const id = before && before !== document.body ? before.id : "";
  const typed = before instanceof HTMLInputElement ? before.value : null;
  const inMain = !!before && document.getElementById("main").contains(before);
  await route(false);
  if (!before || document.contains(before)) return; // not redrawn: focus is where it was
  const again = id ? document.getElementById(id) : null;
  if (again) {
    if (typed !== null && again instanceof HTMLInputElement) again.value = typed;
    again.focus({ preventScroll: true });
  } else if (inMain) {
    document.getElementById("main").focus({ preventScroll: true });
  }
}
