// The storefront's service worker. The app shell is cache-first under a versioned cache
// (the server writes the version in; a new version installs a new cache and the old ones
// are deleted on activate). Catalog reads are stale-while-revalidate, so the last pages
// seen work offline. Everything else, and every write, goes to the network only: an
// order is never queued to be sent later.

const VERSION = "{{version}}";
const ASSETS = "{{assets}}";
const SHELL = `shell-${VERSION}`;
const CATALOG = "catalog-v1";
const FILES = [
  "/", "app.js", "api.js", "ui.js", "auth.js", "catalog.js", "cart.js", "checkout.js",
  "orders.js", "style.css", "manifest.webmanifest", "icons/icon-192.png",
].map((file) => (file.startsWith("/") ? file : ASSETS + file));

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL).then((cache) => cache.addAll(FILES))
    .then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys
      .filter((key) => key.startsWith("shell-") && key !== SHELL)
      .map((key) => caches.delete(key))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;  // writes: network only, never queued
  const url = new URL(request.url);
  if (url.origin !== location.origin) return;
  if (request.mode === "navigate" && !url.pathname.startsWith("/api/")) {
    event.respondWith(page(request));
  } else if (url.pathname.startsWith(ASSETS)) {
    event.respondWith(caches.match(request).then((hit) => hit || fetch(request)));
  } else if (url.pathname.startsWith("/api/v1/products") && !request.headers.has("Authorization")) {
    event.respondWith(staleWhileRevalidate(event, request));
  }
});

/** App routes are all the same page: the fresh one when online, else the cached shell. */
async function page(request) {
  try {
    const response = await fetch(request);
    if (response.ok) return response;
    return (await caches.match("/", { cacheName: SHELL })) || response;
  } catch {
    const shell = await caches.match("/", { cacheName: SHELL });
    if (shell) return shell;
    throw new Error("offline and no cached shell");
  }
}

/** The cached page at once, and the network's answer into the cache; when that answer
 * differs, the page is told (Workbox's "broadcast update"), so that a changed price shows
 * without a second reload. */
async function staleWhileRevalidate(event, request) {
  const cache = await caches.open(CATALOG);
  const cached = await cache.match(request);
  const fresh = fetch(request).then(async (response) => {
    if (response.ok) {
      await cache.put(request, response.clone());
      if (cached && (await cached.clone().text()) !== (await response.clone().text())) {
        const client = await self.clients.get(event.clientId);
        client?.postMessage({ type: "catalog-updated", url: request.url });
      }
    }
    return response;
  });
  if (cached) {
    event.waitUntil(fresh.catch(() => undefined));
    return cached.clone();
  }
  return fresh;
}
