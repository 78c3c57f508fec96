// A product's images: upload (multipart `file`, `alt`), describe (alt text), reorder
// (`position`, 0 is the main image) and remove. After each change the list is read again
// from the product, so it always shows what the API has.

import { humanMessage } from "./api.js";
import { confirmDialog } from "./dialog.js";
import { h, notice, replace } from "./dom.js";
import { errorSummary, field, showErrors } from "./forms.js";

const UPLOAD_MESSAGES = {
  413: "The file is too large to upload.",
  415: "Only JPEG, PNG or WebP images can be uploaded.",
};

export function imagesSection({ api, product, onChanged }) {
  const list = h("div", { class: "image-list" });
  const status = h("div", { class: "status-slot" });

  async function reload(message) {
    const response = await api.request("GET", `/products/${product.id}`);
    const fresh = await response.json();
    onChanged?.(fresh, response.headers.get("ETag"));
    draw(fresh.images || []);
    replace(status, message ? notice(message) : null);
    // The buttons that were pressed are gone with the old list: keep the focus nearby.
    const shown = status.firstElementChild;
    if (shown) {
      shown.setAttribute("tabindex", "-1");
      shown.focus();
    }
  }

  async function attempt(action, message) {
    try {
      await action();
      await reload(message);
    } catch (error) {
      replace(status, notice(UPLOAD_MESSAGES[error.status] || humanMessage(error), "error"));
    }
  }

  function draw(images) {
    if (!images.length) {
      replace(list, h("p", {}, "This product has no image yet."));
      return;
    }
    replace(
      list,
      h(
        "ol",
        { class: "images" },
        images.map((image, index) => imageItem(image, index, images.length)),
      ),
    );
  }

  function imageItem(image, index, count) {
    const smallest = (image.renditions || []).find((r) => r.width >= 160) || image;
    const label = image.alt || `image ${index + 1}`;
    const altForm = h(
      "form",
      { class: "inline-form" },
      field({ label: `Description (alt text) of image ${index + 1}`, name: "alt", value: image.alt, maxlength: 1000 }),
      h("button", { type: "submit", class: "secondary small" }, "Save description"),
    );
    altForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const alt = altForm.elements.alt.value.trim();
      attempt(() => api.patch(`/products/${product.id}/images/${image.id}`, { alt }), "Description saved.");
    });
    const move = (position, word) =>
      h(
        "button",
        {
          type: "button",
          class: "secondary small",
          "aria-label": `Move ${label} ${word}`,
          onclick: () =>
            attempt(() => api.patch(`/products/${product.id}/images/${image.id}`, { position }), `Image moved ${word}.`),
        },
        `Move ${word}`,
      );
    const remove = async () => {
      const sure = await confirmDialog({
        title: "Remove this image?",
        body: "It leaves the product for good. Orders are not affected.",
        confirm: "Remove image",
      });
      if (sure) attempt(() => api.del(`/products/${product.id}/images/${image.id}`), "Image removed.");
    };
    return h(
      "li",
      { class: "image-item" },
      h("img", {
        src: smallest.url,
        alt: image.alt || "",
        width: 160,
        height: Math.round((160 * image.height) / image.width) || 160,
        loading: "lazy",
      }),
      h(
        "div",
        {},
        h("p", { class: "image-meta" }, index === 0 ? "Main image" : `Image ${index + 1}`, ` · ${image.width}×${image.height}`),
        altForm,
        h(
          "div",
          { class: "form-actions" },
          index > 0 ? move(index - 1, "up") : null,
          index < count - 1 ? move(index + 1, "down") : null,
          h("button", { type: "button", class: "danger small", onclick: remove, "aria-label": `Remove ${label}` }, "Remove"),
        ),
      ),
    );
  }

  const upload = h(
    "form",
    { class: "upload-form", novalidate: true },
    errorSummary(),
    field({ label: "Image file", name: "file", type: "file", accept: "image/jpeg,image/png,image/webp", hint: "JPEG, PNG or WebP" }),
    field({ label: "Description (alt text)", name: "alt", hint: "What the image shows, for people who cannot see it", maxlength: 1000 }),
    h("button", { type: "submit" }, "Upload image"),
  );
  upload.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = upload.elements.file.files[0];
    if (!file) {
      showErrors(upload, [{ field: "file", message: "Choose an image file." }]);
      return;
    }
    const form = new FormData();
    form.append("file", file);
    const alt = upload.elements.alt.value.trim();
    if (alt) form.append("alt", alt);
    try {
      await api.upload(`/products/${product.id}/images`, form);
      upload.reset();
      await reload("Image uploaded.");
    } catch (error) {
      const text = UPLOAD_MESSAGES[error.status] || humanMessage(error);
      const errors = error.errors.length ? error.errors : [{ field: "file", message: text }];
      showErrors(upload, errors.map((e) => ({ field: ["file", "alt"].includes(e.field) ? e.field : "file", message: e.message })));
    }
  });

  draw(product.images || []);
  return h(
    "section",
    { class: "images-section", "aria-labelledby": "images-heading" },
    h("h2", { id: "images-heading" }, "Images"),
    status,
    list,
    h("h3", {}, "Add an image"),
    upload,
  );
}
