// Accounts: list and search; grant or remove staff access; deactivate or reactivate. The API
// refuses staff changing their own access (`self_modification`): its message is shown.

import { humanMessage } from "./api.js";
import { confirmDialog } from "./dialog.js";
import { fullName, h, notice, replace, stacked, when } from "./dom.js";
import { field } from "./forms.js";
import { pager } from "./pager.js";

export async function userListView({ api, query, navigate, me }) {
  const q = query.get("q") || "";
  const cursor = query.get("cursor") || "";
  const page = await api.get("/admin/users", { q, cursor, limit: 20 });
  const status = h("div", { class: "status-slot" });
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Users" },
    field({ label: "Search", name: "q", type: "search", value: q, hint: "Email or name" }),
    h("button", { type: "submit" }, "Search"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    navigate("/users", { q: form.elements.q.value.trim() });
  });
  const body = h("tbody", {}, page.items.map((user) => userRow(user)));
  return h(
    "section",
    {},
    h("h1", {}, "Users"),
    form,
    status,
    page.items.length
      ? h(
          "div",
          { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Users table" },
          h(
            "table",
            { class: "users list" },
            h("caption", { class: "visually-hidden" }, q ? `Users matching “${q}”` : "Users, newest first"),
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                h("th", { scope: "col" }, "Email"),
                h("th", { scope: "col" }, "Name"),
                h("th", { scope: "col" }, "Role"),
                h("th", { scope: "col" }, "Account"),
                h("th", { scope: "col" }, "Last sign-in"),
                h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")),
              ),
            ),
            body,
          ),
        )
      : h("p", {}, q ? `No user matches “${q}”.` : "No user yet."),
    pager({ query, nextCursor: page.next_cursor, path: "/users", navigate }),
  );

  function userRow(user) {
    const row = h("tr", { dataset: { userId: user.id } });
    const change = async (changes, done, question) => {
      if (question) {
        const sure = await confirmDialog(question);
        if (!sure) return;
      }
      try {
        const updated = await api.patch(`/admin/users/${user.id}`, changes);
        const fresh = userRow(updated);
        row.replaceWith(fresh);
        stacked(fresh.closest("table"));
        replace(status, notice(`${updated.email}: ${done}.`));
        fresh.querySelector("button")?.focus();
      } catch (error) {
        replace(status, notice(humanMessage(error), "error"));
      }
    };
    const self = user.id === me.id;
    replace(
      row,
      h("th", { scope: "row" }, user.email, self ? h("span", { class: "you" }, " (you)") : null),
      h("td", {}, fullName(user) || "—"),
      h("td", {}, user.is_staff ? "Staff" : "Customer"),
      h("td", {}, user.is_active ? "Active" : h("strong", {}, "Deactivated")),
      h("td", {}, when(user.last_login)),
      h(
        "td",
        { class: "actions" },
        user.is_staff
          ? h("button", { type: "button", class: "secondary small", "aria-label": `Remove staff access of ${user.email}`, onclick: () => change({ is_staff: false }, "staff access removed", { title: `Remove staff access of ${user.email}?`, body: "They will no longer be able to use this dashboard.", confirm: "Remove staff access" }) }, "Remove staff")
          : h("button", { type: "button", class: "secondary small", "aria-label": `Make ${user.email} staff`, onclick: () => change({ is_staff: true }, "now staff", { title: `Make ${user.email} staff?`, body: "Staff can change products, orders and every account, including this one.", confirm: "Make staff" }) }, "Make staff"),
        user.is_active
          ? h("button", { type: "button", class: "danger small", "aria-label": `Deactivate ${user.email}`, onclick: () => change({ is_active: false }, "deactivated", { title: `Deactivate ${user.email}?`, body: "They are signed out everywhere at once and cannot sign in until reactivated.", confirm: "Deactivate" }) }, "Deactivate")
          : h("button", { type: "button", class: "secondary small", "aria-label": `Reactivate ${user.email}`, onclick: () => change({ is_active: true }, "reactivated") }, "Reactivate"),
      ),
    );
    return row;
  }
}
