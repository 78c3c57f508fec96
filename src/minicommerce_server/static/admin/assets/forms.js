// Forms the GOV.UK way: a label on every field, an error summary at the top that links to
// the fields, and each message next to its field. The API's problem `errors[]` map onto it.

import { h, nextId, replace } from "./dom.js";

export function field({ label, name, type = "text", value = "", hint, required, ...attrs }) {
  const id = nextId(`f-${name}`);
  const hintId = hint ? `${id}-hint` : undefined;
  const errorId = `${id}-error`;
  const control =
    type === "textarea"
      ? h("textarea", { id, name, rows: 4, "aria-describedby": hintId, required, ...attrs }, value)
      : h("input", { id, name, type, value: String(value ?? ""), "aria-describedby": hintId, required, ...attrs });
  return h(
    "div",
    { class: "field", dataset: { field: name } },
    h("label", { for: id }, label),
    hint ? h("p", { class: "hint", id: hintId }, hint) : null,
    h("p", { class: "field-error", id: errorId, hidden: true }),
    control,
  );
}

export function select({ label, name, options, value }) {
  const id = nextId(`f-${name}`);
  return h(
    "div",
    { class: "field", dataset: { field: name } },
    h("label", { for: id }, label),
    h(
      "select",
      { id, name },
      options.map(([optionValue, text]) =>
        h("option", { value: optionValue, selected: optionValue === value }, text),
      ),
    ),
  );
}

export function errorSummary() {
  return h("div", { class: "error-summary", tabindex: "-1", hidden: true, "aria-labelledby": nextId("summary") });
}

export function clearErrors(form) {
  for (const wrapper of form.querySelectorAll(".field.has-error")) {
    wrapper.classList.remove("has-error");
    const message = wrapper.querySelector(".field-error");
    message.hidden = true;
    message.textContent = "";
    const control = wrapper.querySelector("input, textarea, select");
    control.removeAttribute("aria-invalid");
    control.setAttribute("aria-describedby", control.getAttribute("aria-describedby")?.replace(message.id, "").trim() || "");
    if (!control.getAttribute("aria-describedby")) control.removeAttribute("aria-describedby");
  }
  const summary = form.querySelector(".error-summary");
  if (summary) {
    summary.hidden = true;
    summary.replaceChildren();
  }
}

// Shows `errors` ({field, message}) in the form; messages for fields the form does not have
// are listed in the summary alone. Moves the focus to the summary.
export function showErrors(form, errors, intro = "There is a problem") {
  clearErrors(form);
  const summary = form.querySelector(".error-summary");
  const items = errors.map(({ field: name, message }) => {
    const wrapper = form.querySelector(`.field[data-field="${CSS.escape(name)}"]`);
    if (!wrapper) return h("li", {}, message);
    const control = wrapper.querySelector("input, textarea, select");
    const label = wrapper.querySelector("label").textContent;
    const slot = wrapper.querySelector(".field-error");
    wrapper.classList.add("has-error");
    slot.hidden = false;
    slot.textContent = `${label}: ${message}`;
    control.setAttribute("aria-invalid", "true");
    const described = control.getAttribute("aria-describedby");
    control.setAttribute("aria-describedby", [described, slot.id].filter(Boolean).join(" "));
    return h("li", {}, h("a", { href: `#${control.id}`, onclick: (event) => {
      event.preventDefault();
      control.focus();
    } }, `${label}: ${message}`));
  });
  const headingId = summary.getAttribute("aria-labelledby");
  replace(summary, h("h2", { id: headingId }, intro), h("ul", {}, items));
  summary.hidden = false;
  summary.setAttribute("role", "alert");
  summary.focus();
}

export function values(form) {
  return Object.fromEntries(new FormData(form).entries());
}
