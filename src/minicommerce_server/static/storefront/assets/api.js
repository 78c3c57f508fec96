// The one client of the JSON API (/api/v1): bearer token, renewal through the refresh
// token (one refresh in flight, shared by every tab), and problems turned into messages.

const BASE = "/api/v1";
const KEY = "minicommerce.session";

/** Why an API call failed: the HTTP status, the RFC 9457 problem (if any), and a
 * sentence for people. ``code`` is the problem's code or one of ours: ``offline``,
 * ``unavailable``, ``session_expired``. */
export class ApiError extends Error {
  constructor(status, problem, message) {
    super(message);
    this.status = status;
    this.problem = problem || {};
    this.code = this.problem.code || "";
    this.errors = this.problem.errors || [];
  }
}

// Tokens live in localStorage (see docs/clients.md): the session then survives closing
// the app, as customers expect of a phone app, and every tab shares it.
export const session = {
  read() {
    try { return JSON.parse(localStorage.getItem(KEY)) || null; } catch { return null; }
  },
  save(pair) {
    localStorage.setItem(KEY, JSON.stringify({
      access_token: pair.access_token, refresh_token: pair.refresh_token,
    }));
    notify();
  },
  clear() {
    localStorage.removeItem(KEY);
    notify();
  },
  get signedIn() { return Boolean(this.read()); },
};

const listeners = new Set();
export function onSessionChange(listener) { listeners.add(listener); }
function notify() { for (const listener of listeners) listener(session.signedIn); }
addEventListener("storage", (event) => { if (event.key === KEY) notify(); });

let refreshing = null;

/** One refresh at a time in this tab; the Web Lock makes it one across tabs too, because
 * a refresh token is single use: two tabs presenting the same one would look like theft
 * to the server, which then ends the whole session. */
function renew(staleRefresh) {
  refreshing ??= (navigator.locks
    ? navigator.locks.request("minicommerce-refresh", () => refreshOnce(staleRefresh))
    : refreshOnce(staleRefresh)
  ).finally(() => { refreshing = null; });
  return refreshing;
}

async function refreshOnce(staleRefresh) {
  const current = session.read();
  if (!current) throw expired();
  if (current.refresh_token !== staleRefresh) return;  // another tab renewed it meanwhile
  const response = await send("POST", "/auth/refresh", { refresh_token: staleRefresh });
  if (response.ok) {
    session.save(await response.json());
    return;
  }
  if (response.status === 401) {
    session.clear();
    throw expired();
  }
  throw await failure(response);
}

function expired() {
  return new ApiError(401, { code: "session_expired" },
    "Your session has ended. Please sign in again.");
}

async function send(method, path, body, headers = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  try {
    return await fetch(BASE + path, init);
  } catch {
    throw navigator.onLine === false
      ? new ApiError(0, { code: "offline" },
        "You are offline. Check your connection; nothing was sent.")
      : new ApiError(0, { code: "unavailable" },
        "The shop cannot be reached right now. Please try again in a moment.");
  }
}

/**
 * Calls the API and returns the parsed body (``null`` for 204).
 * ``auth``: send the access token; a 401 renews it once through the refresh token and
 * retries, and a failed renewal throws ``session_expired``.
 */
export async function api(path, { method = "GET", body, auth = false, headers = {} } = {}) {
  let tokens = auth ? session.read() : null;
  if (auth && !tokens) throw expired();
  const call = () => send(method, path, body,
    tokens ? { ...headers, Authorization: `Bearer ${tokens.access_token}` } : headers);
  let response = await call();
  if (response.status === 401 && tokens) {
    await renew(tokens.refresh_token);
    tokens = session.read();
    if (!tokens) throw expired();  // signed out in another tab meanwhile
    response = await call();
    if (response.status === 401) {
      session.clear();
      throw expired();
    }
  }
  if (!response.ok) throw await failure(response);
  if (response.status === 204) return null;
  return response.json();
}

async function failure(response) {
  let problem = {};
  try { problem = await response.json(); } catch { /* not JSON: a proxy's error page */ }
  const retry = Number(response.headers.get("Retry-After") || problem.retry_after || 0);
  return new ApiError(response.status, problem, humanMessage(response.status, problem, retry));
}

const MESSAGES = {
  invalid_credentials: "That email and password do not match an account.",
  email_taken: "An account with this email already exists. Sign in instead?",
  empty_cart: "Your cart is empty: add something before checking out.",
  invalid_transition: "This order can no longer be changed that way.",
  not_found: "We could not find that. It may have been removed.",
  validation_error: "Please correct the highlighted fields.",
  idempotency_key_in_progress: "Your order is still being placed. Please wait a moment.",
  insufficient_stock: "Some products no longer have enough stock.",
};

/** A sentence for people from a status and a problem; never a raw code. */
export function humanMessage(status, problem = {}, retryAfter = 0) {
  if (status === 429) {
    const wait = retryAfter > 0 ? `${retryAfter} second${retryAfter === 1 ? "" : "s"}` : "a moment";
    if (problem.detail && /account/i.test(problem.detail)) {
      return `Too many sign-in attempts. Please wait ${wait} and try again.`;
    }
    return `Too many requests. Please wait ${wait} and try again.`;
  }
  if (status === 503 || status === 502 || status === 504) {
    const wait = retryAfter > 0 ? ` in ${retryAfter} seconds` : " in a moment";
    return `The shop is unavailable right now. Please try again${wait}.`;
  }
  if (status >= 500) {
    const ref = problem.request_id ? ` (reference ${problem.request_id})` : "";
    return `Something went wrong on our side${ref}. Please try again.`;
  }
  if (MESSAGES[problem.code]) return MESSAGES[problem.code];
  if (status === 401) return "Please sign in to continue.";
  if (status === 403) return "You are not allowed to do that.";
  return problem.detail || problem.title || "That did not work. Please try again.";
}
