// Staff sign-in. A customer's credentials are valid but not enough: the session just made
// is ended again at once and the person is told why.

import { humanMessage } from "./api.js";
import { h, notice } from "./dom.js";
import { errorSummary, field, showErrors } from "./forms.js";

export const NOT_STAFF =
  "This account is not a staff account, so it cannot use the dashboard. Customers shop in the storefront.";

export function signInView({ api, message, onSignedIn }) {
  const status = h("div", { class: "status-slot" }, message ? notice(message) : null);
  const submit = h("button", { type: "submit" }, "Sign in");
  const form = h(
    "form",
    { class: "signin", novalidate: true },
    errorSummary(),
    field({ label: "Email", name: "email", type: "email", autocomplete: "username", required: true }),
    field({ label: "Password", name: "password", type: "password", autocomplete: "current-password", required: true }),
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const email = form.elements.email.value.trim();
    const password = form.elements.password.value;
    const missing = [];
    if (!email) missing.push({ field: "email", message: "Enter your email address." });
    if (!password) missing.push({ field: "password", message: "Enter your password." });
    if (missing.length) {
      showErrors(form, missing);
      return;
    }
    submit.disabled = true;
    try {
      await api.signIn(email, password);
      const user = await api.get("/me");
      if (!user.is_staff) {
        await api.signOut();
        showErrors(form, [{ field: "", message: NOT_STAFF }], "You cannot sign in here");
        return;
      }
      onSignedIn(user);
    } catch (error) {
      const text =
        error.code === "invalid_credentials"
          ? "The email or the password is wrong."
          : humanMessage(error);
      showErrors(form, [{ field: "", message: text }], "You could not be signed in");
    } finally {
      submit.disabled = false;
    }
  });
  return h(
    "section",
    { class: "narrow" },
    h("h1", {}, "Sign in to the dashboard"),
    status,
    form,
  );
}
