// Products: the catalog's own list API (q, sort, cursor) as a table; create, edit (with the
// ETag as If-Match, so a change made meanwhile by someone else is a 412, not lost), delete.

import { humanMessage } from "./api.js";
import { confirmDialog } from "./dialog.js";
import { h, money, notice, replace } from "./dom.js";
import { clearErrors, errorSummary, field, select, showErrors } from "./forms.js";
import { imagesSection } from "./images.js";
import { pager } from "./pager.js";

const SORTS = [
  ["newest", "Newest first"],
  ["name", "Name"],
  ["price_asc", "Price, lowest first"],
  ["price_desc", "Price, highest first"],
];

export const CONFLICT =
  "Someone else changed this product while you were editing it. Reload it to see their changes, then make yours again.";

export async function productListView({ api, query, navigate }) {
  const q = query.get("q") || "";
  const sort = SORTS.some(([value]) => value === query.get("sort")) ? query.get("sort") : "newest";
  const cursor = query.get("cursor") || "";
  const page = await api.get("/products", { q, sort, cursor, limit: 20 });
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Products" },
    field({ label: "Search", name: "q", type: "search", value: q, hint: "Name, description or SKU" }),
    select({ label: "Sort by", name: "sort", options: SORTS, value: sort }),
    h("button", { type: "submit" }, "Search"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    navigate("/products", { q: form.elements.q.value.trim(), sort: form.elements.sort.value });
  });
  const status = h("div", { class: "status-slot" });
  return h(
    "section",
    {},
    h("div", { class: "title-row" }, h("h1", {}, "Products"), h("a", { href: "#/products/new", class: "button" }, "New product")),
    form,
    status,
    page.items.length
      ? h(
          "div",
          { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Products table" },
          h(
            "table",
            { class: "list" },
            h("caption", { class: "visually-hidden" }, q ? `Products matching “${q}”` : "Products"),
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                h("th", { scope: "col" }, "Name"),
                h("th", { scope: "col" }, "SKU"),
                h("th", { scope: "col", class: "num" }, "Price"),
                h("th", { scope: "col", class: "num" }, "Stock"),
                h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")),
              ),
            ),
            h("tbody", {}, page.items.map((product) => productRow(api, product, status, navigate))),
          ),
        )
      : h("p", {}, q ? `No product matches “${q}”.` : "The catalog is empty."),
    pager({ query, nextCursor: page.next_cursor, path: "/products", navigate }),
  );
}

function productRow(api, product, status, navigate) {
  const remove = async () => {
    const sure = await confirmDialog({
      title: `Delete “${product.name}”?`,
      body: "It leaves the catalog and can no longer be bought. Orders that contain it keep their lines.",
      confirm: "Delete product",
    });
    if (!sure) return;
    try {
      await api.del(`/products/${product.id}`);
      navigate("/products", {});
    } catch (error) {
      replace(status, notice(humanMessage(error), "error"));
    }
  };
  return h(
    "tr",
    {},
    h("th", { scope: "row" }, h("a", { href: `#/products/${product.id}` }, product.name)),
    h("td", {}, product.sku || "—"),
    h("td", { class: "num" }, money(product.price, product.currency)),
    h("td", { class: "num" }, product.stock_quantity),
    h(
      "td",
      { class: "actions" },
      h("button", { type: "button", class: "danger small", onclick: remove, "aria-label": `Delete ${product.name}` }, "Delete"),
    ),
  );
}

const FIELDS = ["name", "sku", "price", "stock_quantity", "description"];

export async function productEditView({ api, params, navigate }) {
  const id = params[0] ? Number(params[0]) : null;
  let product = null;
  let etag = null;
  if (id !== null) {
    const response = await api.request("GET", `/products/${id}`);
    product = await response.json();
    etag = response.headers.get("ETag");
  }
  const status = h("div", { class: "status-slot" });
  const submit = h("button", { type: "submit" }, product ? "Save changes" : "Create product");
  const form = h(
    "form",
    { class: "product-form", novalidate: true },
    errorSummary(),
    field({ label: "Name", name: "name", value: product?.name ?? "", required: true, maxlength: 200 }),
    field({ label: "SKU", name: "sku", value: product?.sku ?? "", hint: "Optional. Letters, digits and . _ / -", maxlength: 64 }),
    field({ label: `Price (${product?.currency ?? "store currency"})`, name: "price", value: product?.price ?? "", inputmode: "decimal", required: true, hint: "For example 19.99" }),
    field({ label: "Units in stock", name: "stock_quantity", type: "number", min: 0, step: 1, inputmode: "numeric", value: product?.stock_quantity ?? 0, required: true }),
    field({ label: "Description", name: "description", type: "textarea", value: product?.description ?? "" }),
    h("div", { class: "form-actions" }, submit, h("a", { href: "#/products", class: "button secondary" }, "Back to products")),
  );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    replace(status);
    const body = bodyOf(form, product);
    if (product && Object.keys(body).length === 0) {
      replace(status, notice("Nothing has changed."));
      return;
    }
    submit.disabled = true;
    try {
      if (product) {
        const response = await api.request("PATCH", `/products/${product.id}`, {
          body,
          headers: etag ? { "If-Match": etag } : {},
        });
        product = await response.json();
        etag = response.headers.get("ETag");
        replace(status, notice("Saved."));
      } else {
        const created = await api.post("/products", body);
        navigate(`/products/${created.id}`);
      }
    } catch (error) {
      if (error.status === 412) {
        replace(
          status,
          h(
            "div",
            { class: "notice notice-error", role: "alert" },
            h("p", {}, CONFLICT),
            h("button", { type: "button", onclick: () => navigate(`/products/${product.id}`) }, "Reload the product"),
          ),
        );
      } else if (error.code === "sku_taken") {
        showErrors(form, [{ field: "sku", message: "another product already has this SKU" }]);
      } else if (error.errors.length) {
        showErrors(form, error.errors.map(({ field: name, message }) => ({ field: FIELDS.includes(name) ? name : "", message: FIELDS.includes(name) ? message : `${name}: ${message}` })));
      } else {
        replace(status, notice(humanMessage(error), "error"));
      }
    } finally {
      submit.disabled = false;
    }
  });

  return h(
    "section",
    { class: "narrow-wide" },
    h("h1", {}, product ? `Edit “${product.name}”` : "New product"),
    status,
    form,
    product
      ? imagesSection({
          api,
          product,
          // An image change may move the product's version on; adopt the new ETag only when
          // the fields this form edits are still as read, so that a real conflict still shows.
          onChanged: (fresh, freshEtag) => {
            if (FIELDS.every((name) => (fresh[name] ?? null) === (product[name] ?? null))) etag = freshEtag;
          },
        })
      : null,
  );
}

// The JSON body: every field for a new product; only what changed for an existing one.
function bodyOf(form, product) {
  const raw = Object.fromEntries(FIELDS.map((name) => [name, form.elements[name].value]));
  const body = {
    name: raw.name.trim(),
    sku: raw.sku.trim() || null,
    price: raw.price.trim(),
    // A whole number goes as a number; anything else as typed, for the API to explain.
    stock_quantity: /^\s*\d+\s*$/.test(raw.stock_quantity) ? Number(raw.stock_quantity) : raw.stock_quantity,
    description: raw.description,
  };
  if (!product) {
    if (body.sku === null) delete body.sku;
    return body;
  }
  return Object.fromEntries(Object.entries(body).filter(([name, value]) => value !== (product[name] ?? null)));
}
