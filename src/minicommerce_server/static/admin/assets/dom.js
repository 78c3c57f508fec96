// The one way this dashboard renders: functions that build DOM nodes with h(). Text always
// goes in as text nodes, never as HTML, so shop data cannot inject markup.

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "dataset") {
      Object.assign(node.dataset, value);
    } else if (key in node && typeof value !== "string") {
      node[key] = value; // properties such as value, checked
    } else {
      node.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(node, children);
  return node;
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function s(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) node.setAttribute(key, String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
}

export function replace(target, ...children) {
  target.replaceChildren();
  append(target, children);
}

const moneyFormats = new Map();

// Intl formats the decimal string itself (no float arithmetic on money).
export function money(amount, currency) {
  if (!moneyFormats.has(currency)) {
    moneyFormats.set(currency, new Intl.NumberFormat(undefined, { style: "currency", currency }));
  }
  return moneyFormats.get(currency).format(amount);
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export function when(timestamp) {
  return timestamp ? dateTime.format(new Date(timestamp)) : "never";
}

export function fullName(person) {
  return [person.first_name, person.last_name].filter(Boolean).join(" ");
}

let uid = 0;
export function nextId(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}

// A status message read out by screen readers (role=status or, for errors, role=alert).
export function notice(text, kind = "info") {
  return h("p", { class: `notice notice-${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

// Marks a list table for the phone layout (one block per row, see admin.css): each body cell
// gets its column's name as data-label. Called again after rows are replaced.
export function stacked(table) {
  table.classList.add("stack");
  const names = [...table.querySelectorAll("thead th")].map((th) =>
    th.querySelector(".visually-hidden") ? "" : th.textContent,
  );
  for (const row of table.querySelectorAll("tbody tr")) {
    [...row.children].forEach((cell, index) => {
      if (cell.tagName === "TD") cell.dataset.label = names[index] ?? "";
    });
  }
  return table;
}
