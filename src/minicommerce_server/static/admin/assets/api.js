// The dashboard's one client of the JSON API (docs/api.md).
//
// Tokens: the access token lives in memory only (a page script cannot leak what it never
// stores); the refresh token lives in the Storage the caller passes (the dashboard uses
// sessionStorage: it survives a reload and dies with the tab). A 401 on a request made with
// an access token triggers one refresh (shared by every request waiting on it, and
// serialised across tabs with a Web Lock where the browser has them) and one retry.

export class ApiError extends Error {
  constructor(status, problem, response = null) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.code = problem.code || (status === 0 ? "offline" : "http_error");
    this.title = problem.title || "";
    this.detail = problem.detail || "";
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
    this.retryAfter = problem.retry_after ?? retryAfterOf(response);
    this.requestId = problem.request_id || response?.headers.get("X-Request-ID") || null;
  }
}

function retryAfterOf(response) {
  const value = response?.headers.get("Retry-After");
  return value && /^\d+$/.test(value) ? Number(value) : null;
}

// Not the storefront's key: a customer's session and a staff session in one browser stay apart.
const REFRESH_KEY = "minicommerce.admin.refresh_token";

export function createApi({ base = "/api/v1", storage = window.sessionStorage, onSignedOut } = {}) {
  let accessToken = null;
  let refreshing = null;

  const readRefresh = () => storage.getItem(REFRESH_KEY);

  function keep(pair) {
    accessToken = pair.access_token;
    storage.setItem(REFRESH_KEY, pair.refresh_token);
  }

  function forget() {
    accessToken = null;
    storage.removeItem(REFRESH_KEY);
  }

  async function send(method, path, { body, query, headers = {}, auth = true, form } = {}) {
    const url = new URL(base + path, window.location.origin);
    for (const [key, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
    }
    const init = { method, headers: { Accept: "application/json", ...headers } };
    if (form) {
      init.body = form; // the browser sets multipart/form-data with its boundary
    } else if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    if (auth && accessToken) init.headers.Authorization = `Bearer ${accessToken}`;
    let response;
    try {
      response = await fetch(url, init);
    } catch {
      throw new ApiError(0, {
        code: "offline",
        detail: "The server cannot be reached: check the connection.",
      });
    }
    return response;
  }

  async function refresh() {
    // Every caller waiting for a new access token waits for the same refresh.
    refreshing ??= (async () => {
      const run = async () => {
        const token = readRefresh();
        if (!token) return false;
        const response = await send("POST", "/auth/refresh", {
          body: { refresh_token: token },
          auth: false,
        });
        if (response.ok) {
          keep(await response.json());
          return true;
        }
        if (response.status === 401) forget();
        else throw await errorOf(response);
        return false;
      };
      return navigator.locks ? navigator.locks.request(REFRESH_KEY, run) : run();
    })().finally(() => {
      refreshing = null;
    });
    return refreshing;
  }

  async function request(method, path, options = {}) {
    const auth = options.auth !== false;
    if (auth && !accessToken && readRefresh()) await refresh();
    let response = await send(method, path, options);
    if (response.status === 401 && auth && readRefresh()) {
      if (await refresh()) response = await send(method, path, options);
    }
    if (response.status === 401 && auth) {
      forget();
      onSignedOut?.();
    }
    if (!response.ok) throw await errorOf(response);
    return response;
  }

  async function json(method, path, options) {
    const response = await request(method, path, options);
    if (response.status === 204) return null;
    return response.json();
  }

  return {
    get signedIn() {
      return Boolean(accessToken || readRefresh());
    },
    request,
    get: (path, query) => json("GET", path, { query }),
    post: (path, body, options = {}) => json("POST", path, { ...options, body }),
    patch: (path, body, options = {}) => json("PATCH", path, { ...options, body }),
    put: (path, body) => json("PUT", path, { body }),
    del: (path, options = {}) => json("DELETE", path, options),
    upload: (path, form) => json("POST", path, { form }),
    async signIn(email, password) {
      const pair = await json("POST", "/auth/login", { body: { email, password }, auth: false });
      keep(pair);
      return pair;
    },
    async signOut() {
      const token = readRefresh();
      forget();
      if (token) {
        try {
          await send("POST", "/auth/logout", { body: { refresh_token: token }, auth: false });
        } catch {
          // Offline: the tokens are forgotten here; the family expires on its own.
        }
      }
    },
    refresh,
  };
}

async function errorOf(response) {
  let problem = {};
  try {
    problem = await response.json();
  } catch {
    problem = {};
  }
  return new ApiError(response.status, problem, response);
}

// A sentence for a person, never a raw code.
export function humanMessage(error) {
  if (!(error instanceof ApiError)) return "Something went wrong in this page; reload it.";
  switch (error.code) {
    case "offline":
      return "You are offline, or the server cannot be reached. Check the connection and try again.";
    case "rate_limited":
      return `Too many requests. Try again in ${error.retryAfter ?? "a few"} seconds.`;
    case "service_unavailable":
      return `The shop's server is unavailable at the moment. Try again in ${error.retryAfter ?? "a few"} seconds.`;
    case "unauthenticated":
    case "invalid_token":
      return "Your session has ended. Sign in again.";
    case "permission_denied":
      return "Your account is not allowed to do this.";
    case "internal_error":
      return `Something went wrong on the server${error.requestId ? ` (request ${error.requestId})` : ""}. Try again later.`;
    default:
      return error.detail || error.title || "The request failed.";
  }
}
