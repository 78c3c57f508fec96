// Small DOM helpers shared by the views: one way to render (h), money from decimal
// strings, messages in live regions, and forms with GOV.UK-style error summaries.

/** Builds an element. Text is always set as text, never parsed as HTML. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

const formats = new Map();

/** "19.99" + "USD" -> "$19.99". Intl formats the decimal string itself, so no float
 * ever stands between the API's amount and what the customer reads. */
export function money(amount, currency) {
  if (!formats.has(currency)) {
    formats.set(currency, new Intl.NumberFormat(navigator.language || "en", {
      style: "currency", currency,
    }));
  }
  return formats.get(currency).format(amount);
}

export const main = () => document.getElementById("main");

/** Replaces the page content, titles the document and moves focus to the heading so
 * that screen readers announce the new page. */
export function show(title, ...content) {
  document.title = `${title} · minicommerce`;
  const heading = h("h1", { tabindex: "-1" }, title);
  main().replaceChildren(heading, ...content);
  return heading;
}

export function focusHeading() {
  main().querySelector("h1")?.focus();
}

/** A message in the live region at the top; errors are alerts, the rest polite. */
export function say(text, kind = "info") {
  const box = document.getElementById("messages");
  const note = h("div", { class: `note note-${kind}`, role: kind === "error" ? "alert" : "status" },
    h("span", {}, text),
    h("button", { type: "button", class: "link", "aria-label": "Dismiss message",
      onclick: () => note.remove() }, "×"));
  box.replaceChildren(note);
}

export function clearMessages() {
  document.getElementById("messages").replaceChildren();
}

export function field(name, label, attrs = {}, hint = "") {
  const id = `f-${name.replace(/[^a-z0-9]+/gi, "-")}`;
  const input = h("input", { id, name, ...attrs });
  if (hint) input.setAttribute("aria-describedby", `${id}-hint`);
  return h("div", { class: "field", "data-field": name },
    h("label", { for: id }, label),
    hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null,
    input);
}

/** Shows an API problem on a form: a summary at the top linking to each field, and each
 * message next to its field. Returns whether any field matched. */
export function showFormErrors(form, summaryTitle, errors, labels = {}) {
  clearFormErrors(form);
  const items = [];
  for (const { field: name, message } of errors) {
    const box = form.querySelector(`[data-field="${CSS.escape(name)}"]`);
    const label = labels[name] || name;
    if (!box) continue;
    const input = box.querySelector("input, select, textarea");
    const msgId = `${input.id}-error`;
    box.classList.add("field-error");
    box.querySelector("label").after(h("p", { class: "error-message", id: msgId },
      h("span", { class: "visually-hidden" }, "Error: "), humanField(message)));
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby",
      [input.getAttribute("aria-describedby"), msgId].filter(Boolean).join(" "));
    items.push(h("li", {}, h("a", { href: `#${input.id}`, onclick: (ev) => {
      ev.preventDefault(); input.focus();
    } }, `${label}: ${humanField(message)}`)));
  }
  if (!items.length) return false;
  const summary = h("div", { class: "error-summary", role: "alert", tabindex: "-1" },
    h("h2", {}, summaryTitle), h("ul", {}, items));
  form.prepend(summary);
  summary.focus();
  return true;
}

export function clearFormErrors(form) {
  form.querySelector(".error-summary")?.remove();
  for (const box of form.querySelectorAll(".field-error")) {
    box.classList.remove("field-error");
    box.querySelector(".error-message")?.remove();
    const input = box.querySelector("input, select, textarea");
    input.removeAttribute("aria-invalid");
    const rest = (input.getAttribute("aria-describedby") || "").split(" ")
      .filter((id) => id && !id.endsWith("-error")).join(" ");
    if (rest) input.setAttribute("aria-describedby", rest);
    else input.removeAttribute("aria-describedby");
  }
}

const FIELD_MESSAGES = [
  [/^Field required$/, () => "This is required"],
  [/^String should have at least (\d+) characters?$/, (n) => `Use at least ${n} characters`],
  [/^String should have at most (\d+) characters?$/, (n) => `Use at most ${n} characters`],
  [/^String should match pattern/, () => "This is not in the expected form"],
  [/^value is not a valid email address/, () => "Enter an email address like name@example.com"],
];

/** The API's field messages, in words for people. */
function humanField(message) {
  const text = String(message).replace(/^Value error, /, "");
  for (const [pattern, say] of FIELD_MESSAGES) {
    const match = pattern.exec(text);
    if (match) return say(...match.slice(1));
  }
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function formData(form) {
  const data = {};
  for (const [key, value] of new FormData(form)) data[key] = String(value).trim();
  return data;
}

/** Disables a button while ``work`` runs, so a double click cannot send twice. */
export async function busy(button, label, work) {
  const before = button.textContent;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  button.textContent = label;
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    button.textContent = before;
  }
}

export function dateTime(value) {
  return new Intl.DateTimeFormat(navigator.language || "en", {
    dateStyle: "medium", timeStyle: "short",
  }).format(new Date(value));
}
