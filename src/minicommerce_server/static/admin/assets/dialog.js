// A confirmation as a modal <dialog>: the browser traps the focus in it, Escape cancels,
// and the focus returns to where it was.

import { h } from "./dom.js";

export function confirmDialog({ title, body, confirm, cancel = "Cancel" }) {
  return new Promise((resolve) => {
    const opener = document.activeElement;
    const dialog = h(
      "dialog",
      { class: "confirm", "aria-labelledby": "confirm-title", "aria-describedby": "confirm-body" },
      h("h2", { id: "confirm-title" }, title),
      h("p", { id: "confirm-body" }, body),
      h(
        "form",
        { method: "dialog", class: "form-actions" },
        h("button", { value: "confirm", class: "danger" }, confirm),
        h("button", { value: "cancel", class: "secondary", autofocus: true }, cancel),
      ),
    );
    dialog.addEventListener("close", () => {
      dialog.remove();
      if (opener && opener.isConnected) opener.focus();
      resolve(dialog.returnValue === "confirm");
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
