// Register, sign in and sign out.

import { api, ApiError, session } from "./api.js";
import { busy, clearFormErrors, field, formData, h, say, show, showFormErrors } from "./ui.js";

const LABELS = {
  email: "Email address", password: "Password", first_name: "First name", last_name: "Last name",
};

/** Where to go after signing in: a page of this shop only (never another site). */
function nextPage() {
  const next = new URLSearchParams(location.search).get("next") || "/";
  return /^\/(?![/\\])/.test(next) ? next : "/";
}

export function signInView(ctx) {
  const next = nextPage();
  const button = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h("form", { novalidate: true, class: "stack", onsubmit: async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    const data = formData(form);
    if (!data.email || !data.password) {
      showFormErrors(form, "There is a problem", [
        !data.email && { field: "email", message: "Enter your email address" },
        !data.password && { field: "password", message: "Enter your password" },
      ].filter(Boolean), LABELS);
      return;
    }
    await busy(button, "Signing in…", async () => {
      try {
        session.save(await api("/auth/login", { method: "POST", body: data }));
        ctx.go(next);
        say("You are signed in.");
      } catch (error) {
        report(form, error);
      }
    });
  } },
  field("email", LABELS.email, { type: "email", autocomplete: "email", required: true }),
  field("password", LABELS.password,
    { type: "password", autocomplete: "current-password", required: true }),
  button);
  show("Sign in", form,
    h("p", {}, "New here? ", h("a", { href: `/register?next=${encodeURIComponent(next)}` },
      "Create an account")));
}

export function registerView(ctx) {
  const next = nextPage();
  const button = h("button", { type: "submit", class: "primary" }, "Create account");
  const form = h("form", { novalidate: true, class: "stack", onsubmit: async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    const data = formData(form);
    for (const key of ["first_name", "last_name"]) if (!data[key]) delete data[key];
    await busy(button, "Creating your account…", async () => {
      try {
        await api("/auth/register", { method: "POST", body: data });
        session.save(await api("/auth/login", {
          method: "POST", body: { email: data.email, password: data.password },
        }));
        ctx.go(next);
        say("Welcome! Your account is ready.");
      } catch (error) {
        report(form, error);
      }
    });
  } },
  field("first_name", LABELS.first_name, { autocomplete: "given-name" }),
  field("last_name", LABELS.last_name, { autocomplete: "family-name" }),
  field("email", LABELS.email, { type: "email", autocomplete: "email", required: true }),
  field("password", LABELS.password,
    { type: "password", autocomplete: "new-password", required: true, minlength: "8" },
    "At least 8 characters."),
  button);
  show("Create an account", form,
    h("p", {}, "Already have an account? ",
      h("a", { href: `/signin?next=${encodeURIComponent(next)}` }, "Sign in")));
}

function report(form, error) {
  if (!(error instanceof ApiError)) throw error;
  const fields = error.code === "email_taken"
    ? [{ field: "email", message: error.message }] : error.errors;
  if (!showFormErrors(form, "There is a problem", fields, LABELS)) say(error.message, "error");
}

export async function signOut(ctx) {
  const tokens = session.read();
  session.clear();
  if (tokens) {
    try {
      await api("/auth/logout", { method: "POST", body: { refresh_token: tokens.refresh_token } });
    } catch { /* offline: the tokens are gone here, and expire on their own */ }
  }
  ctx.go("/");
  say("You are signed out.");
}

/** Sends an anonymous visitor to sign in, coming back here afterwards. */
export function requireSignIn(ctx, message = "Please sign in to continue.") {
  if (session.signedIn) return true;
  ctx.go(`/signin?next=${encodeURIComponent(location.pathname + location.search)}`, true);
  say(message);
  return false;
}
