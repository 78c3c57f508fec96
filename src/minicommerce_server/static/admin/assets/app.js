// The dashboard's shell: sign-in gate, hash routes, and the one place views are swapped in.

import { createApi, humanMessage } from "./api.js";
import { h, notice, replace, stacked } from "./dom.js";
import { overviewView } from "./overview.js";
import { productEditView, productListView } from "./products.js";
import { orderDetailView, orderListView } from "./orders.js";
import { signInView } from "./signin.js";
import { userListView } from "./users.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const account = document.getElementById("account");

const api = createApi({
  storage: window.sessionStorage,
  onSignedOut: () => showSignIn("Your session has ended. Sign in again."),
});

let me = null;
let renderCount = 0;

const ROUTES = [
  [/^\/$/, overviewView, "Overview"],
  [/^\/products$/, productListView, "Products"],
  [/^\/products\/new$/, productEditView, "New product"],
  [/^\/products\/(\d+)$/, productEditView, "Product"],
  [/^\/orders$/, orderListView, "Orders"],
  [/^\/orders\/(\d+)$/, orderDetailView, "Order"],
  [/^\/users$/, userListView, "Users"],
];

function currentRoute() {
  const raw = window.location.hash.replace(/^#/, "") || "/";
  const [path, search = ""] = raw.split("?");
  return { path, query: new URLSearchParams(search) };
}

// Changes the address (and so the view) to `path` with `query` (entries with no value dropped).
export function navigate(path, query = {}) {
  const search = new URLSearchParams(
    Object.entries(query).filter(([, value]) => value !== undefined && value !== null && value !== ""),
  ).toString();
  const target = `#${path}${search ? `?${search}` : ""}`;
  if (window.location.hash === target) render();
  else window.location.hash = target;
}

async function render() {
  if (!me) return;
  const count = ++renderCount;
  const { path, query } = currentRoute();
  const match = ROUTES.map(([pattern, view, title]) => [path.match(pattern), view, title]).find(
    ([found]) => found,
  );
  markCurrent(path);
  if (!match) {
    show(h("section", {}, h("h1", {}, "Page not found"), h("p", {}, h("a", { href: "#/" }, "Go to the overview"))), "Not found");
    return;
  }
  const [found, view, title] = match;
  let node;
  try {
    node = await view({ api, params: found.slice(1), query, navigate, me });
  } catch (error) {
    node = h("section", {}, h("h1", {}, title), notice(humanMessage(error), "error"));
  }
  if (count === renderCount && me) show(node, title);
}

function show(node, title) {
  replace(main, node);
  for (const table of main.querySelectorAll("table.list")) stacked(table);
  document.title = `${title} · minicommerce staff`;
  const heading = main.querySelector("h1");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: false });
  }
}

function markCurrent(path) {
  for (const link of nav.querySelectorAll("a")) {
    const target = link.getAttribute("href").slice(1);
    const current = target === "/" ? path === "/" : path.startsWith(target);
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function showSignIn(message) {
  me = null;
  nav.hidden = true;
  account.replaceChildren();
  show(signInView({ api, message, onSignedIn: enter }), "Sign in");
}

function enter(user) {
  me = user;
  nav.hidden = false;
  replace(
    account,
    h("span", { class: "who" }, "Signed in as ", h("strong", {}, user.email)),
    h("button", { type: "button", class: "secondary", onclick: signOut }, "Sign out"),
  );
  render();
}

async function signOut() {
  await api.signOut();
  showSignIn("You have signed out.");
}

async function start() {
  document.getElementById("skip").addEventListener("click", (event) => {
    event.preventDefault(); // the hash is the route: move the focus instead
    (main.querySelector("h1") || main).focus();
  });
  window.addEventListener("hashchange", render);
  if (!api.signedIn) {
    showSignIn();
    return;
  }
  try {
    const user = await api.get("/me");
    if (user.is_staff) enter(user);
    else {
      await api.signOut();
      showSignIn();
    }
  } catch (error) {
    // A 401 has already brought the sign-in form (onSignedOut) with its message.
    if (error.status !== 401) replace(main, notice(humanMessage(error), "error"));
  }
}

start();
