// Browse, search and filter the catalog; product detail.

import { api, ApiError } from "./api.js";
import { addToCart } from "./cart.js";
import { busy, h, money, say, show } from "./ui.js";

const SORTS = [
  ["newest", "Newest first"],
  ["price_asc", "Price: low to high"],
  ["price_desc", "Price: high to low"],
  ["name", "Name: A to Z"],
];

export function stockText(product) {
  if (!product.in_stock) return "Sold out";
  if (product.stock_quantity <= 5) return `Only ${product.stock_quantity} left`;
  return "In stock";
}

/** The product's main image (responsive, lazy), or a tidy placeholder. */
export function productImage(product, sizes, { eager = false, image } = {}) {
  const picked = image || product.images?.[0];
  if (!picked) {
    return h("div", { class: "placeholder", "aria-hidden": "true" },
      h("span", {}, product.name.charAt(0).toUpperCase()));
  }
  const byFormat = new Map();
  for (const r of picked.renditions || []) {
    if (!byFormat.has(r.format)) byFormat.set(r.format, []);
    byFormat.get(r.format).push(`${r.url} ${r.width}w`);
  }
  const img = h("img", {
    src: picked.url, alt: picked.alt || "", width: picked.width, height: picked.height,
    loading: eager ? "eager" : "lazy", decoding: "async", sizes,
  });
  const fallback = [...byFormat.entries()].find(([format]) => format !== "webp");
  if (fallback) img.setAttribute("srcset", fallback[1].join(", "));
  const webp = byFormat.get("webp");
  return h("picture", { class: "photo" },
    webp ? h("source", { type: "image/webp", srcset: webp.join(", "), sizes }) : null, img);
}

function queryFromLocation() {
  const params = new URLSearchParams(location.search);
  const query = new URLSearchParams();
  for (const key of ["q", "min_price", "max_price", "sort"]) {
    if (params.get(key)) query.set(key, params.get(key));
  }
  if (params.get("in_stock") === "true") query.set("in_stock", "true");
  return query;
}

export function catalogView(ctx) {
  const query = queryFromLocation();
  const list = h("ul", { class: "grid", "aria-label": "Products" });
  const status = h("p", { class: "muted", role: "status" });
  const more = h("button", { type: "button", class: "secondary more", hidden: true }, "Show more");
  const form = filters(ctx, query);
  show(query.get("q") ? `Results for “${query.get("q")}”` : "Shop", form, status, list, more);

  let cursor = null;
  async function load() {
    const params = new URLSearchParams(query);
    params.set("limit", "12");
    if (cursor) params.set("cursor", cursor);
    const page = await api(`/products?${params}`);
    const firstNew = list.children.length;
    list.append(...page.items.map((p) => card(ctx, p)));
    cursor = page.next_cursor;
    more.hidden = !cursor;
    status.textContent = list.children.length
      ? `${list.children.length} product${list.children.length === 1 ? "" : "s"}${cursor ? " shown, more below" : ""}.`
      : "No products match. Try another search or fewer filters.";
    return firstNew;
  }
  more.addEventListener("click", () => busy(more, "Loading…", async () => {
    try {
      const firstNew = await load();
      list.children[firstNew]?.querySelector("a")?.focus();
    } catch (error) {
      say(error.message, "error");
    }
  }));
  return load().catch((error) => {
    status.textContent = "";
    say(error instanceof ApiError ? error.message : String(error), "error");
  });
}

function filters(ctx, query) {
  const sort = h("select", { id: "f-sort", name: "sort" },
    SORTS.map(([value, label]) => h("option", { value, selected: query.get("sort") === value }, label)));
  const form = h("form", { class: "filters", role: "search", onsubmit: (event) => {
    event.preventDefault();
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(form)) {
      if (String(value).trim()) params.set(key, String(value).trim());
    }
    if (params.get("sort") === "newest") params.delete("sort");
    ctx.go(params.size ? `/?${params}` : "/");
  } },
  h("div", { class: "search" },
    h("label", { for: "f-q" }, "Search products"),
    h("div", { class: "row" },
      h("input", { id: "f-q", name: "q", type: "search", value: query.get("q") || "",
        autocomplete: "off", enterkeyhint: "search" }),
      h("button", { type: "submit", class: "primary" }, "Search"))),
  h("details", { class: "more-filters", open: Boolean(query.get("min_price") || query.get("max_price") || query.get("in_stock") || query.get("sort")) },
    h("summary", {}, "Filter and sort"),
    h("div", { class: "filter-grid" },
      h("div", { class: "field" }, h("label", { for: "f-min" }, "Lowest price"),
        h("input", { id: "f-min", name: "min_price", type: "number", min: "0", step: "0.01",
          inputmode: "decimal", value: query.get("min_price") || "" })),
      h("div", { class: "field" }, h("label", { for: "f-max" }, "Highest price"),
        h("input", { id: "f-max", name: "max_price", type: "number", min: "0", step: "0.01",
          inputmode: "decimal", value: query.get("max_price") || "" })),
      h("div", { class: "field" }, h("label", { for: "f-sort" }, "Sort by"), sort),
      h("div", { class: "check" },
        h("input", { id: "f-stock", name: "in_stock", type: "checkbox", value: "true",
          checked: query.get("in_stock") === "true" }),
        h("label", { for: "f-stock" }, "In stock only"))),
    h("button", { type: "submit", class: "secondary" }, "Apply filters")));
  return form;
}

function card(ctx, product) {
  const add = h("button", { type: "button", class: "primary", disabled: !product.in_stock,
    "aria-label": `Add ${product.name} to cart` }, product.in_stock ? "Add to cart" : "Sold out");
  add.addEventListener("click", () => busy(add, "Adding…", () => addToCart(ctx, product, 1)));
  return h("li", { class: "card" },
    h("a", { href: `/products/${product.id}`, class: "card-link" },
      productImage(product, "(min-width: 60rem) 14rem, (min-width: 36rem) 33vw, 50vw"),
      h("span", { class: "card-name" }, product.name)),
    h("p", { class: "price" }, money(product.price, product.currency)),
    h("p", { class: `stock ${product.in_stock ? "ok" : "out"}` }, stockText(product)),
    add);
}

export async function productView(ctx, id) {
  show("Product");
  let product;
  try {
    product = await api(`/products/${encodeURIComponent(id)}`);
  } catch (error) {
    show(error.status === 404 ? "Product not found" : "Product",
      h("p", {}, error.message), h("p", {}, h("a", { href: "/" }, "Back to the shop")));
    return;
  }
  const quantity = h("input", { id: "f-qty", type: "number", min: "1", max: String(Math.min(product.stock_quantity, 1000) || 1), value: "1", inputmode: "numeric" });
  const add = h("button", { type: "submit", class: "primary", disabled: !product.in_stock },
    product.in_stock ? "Add to cart" : "Sold out");
  const gallery = h("div", { class: "gallery" }, productImage(product, "(min-width: 48rem) 28rem, 100vw", { eager: true }));
  if (product.images?.length > 1) {
    gallery.append(h("ul", { class: "thumbs", "aria-label": "More pictures" },
      product.images.slice(1).map((image) => h("li", {},
        productImage(product, "6rem", { image })))));
  }
  show(product.name,
    h("div", { class: "detail" },
      gallery,
      h("div", { class: "stack" },
        h("p", { class: "price big" }, money(product.price, product.currency)),
        h("p", { class: `stock ${product.in_stock ? "ok" : "out"}` }, stockText(product)),
        product.description ? h("p", {}, product.description) : null,
        product.sku ? h("p", { class: "muted" }, `SKU ${product.sku}`) : null,
        h("form", { class: "add-form", onsubmit: (event) => {
          event.preventDefault();
          const n = Number.parseInt(quantity.value, 10);
          if (!(n >= 1)) { say("Choose a quantity of at least 1.", "error"); quantity.focus(); return; }
          busy(add, "Adding…", () => addToCart(ctx, product, n));
        } },
        h("div", { class: "field" }, h("label", { for: "f-qty" }, "Quantity"), quantity),
        add))),
    h("p", {}, h("a", { href: "/" }, "← Back to the shop")));
}
