"""Static web sites served beside the API: the storefront at ``/`` (and the staff
dashboard at ``/admin``), each a directory of files shipped in the wheel.

A site directory holds entry files at its top (``index.html``, ``sw.js``) and everything
else under ``assets/``. The files are read once, when the app is built:

- assets are served at ``<prefix>assets/<version>/<path>``, where the version is a hash of
  the whole site, with a year-long ``immutable`` cache lifetime: a new release has new URLs,
  and ES modules importing each other by relative paths inherit the version for free;
- entry files are served at ``<prefix><name>`` with ``no-cache`` and an ETag, with
  ``{{assets}}``, ``{{version}}`` and ``{{base}}`` written in (that is how ``index.html``
  finds the current assets and how the service worker names its cache);
- any other path under the prefix that does not look like a file (``/products/12``) is the
  site's ``index.html``, so that the client's history routing survives a reload.

Every page carries a strict Content-Security-Policy: nothing inline, nothing from another
origin except product images from ``MINICOMMERCE_MEDIA_URL`` when it is absolute.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from litestar import Request, Response, Router, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

# Paths of the API and operations; a site at "/" never answers for them, so that their
# unknown paths stay JSON problems.
RESERVED = ("/api/", "/api", "/schema", "/health", "/ready", "/metrics", "/media/")
ENTRY_CACHE = "no-cache"
ASSET_CACHE = "public, max-age=31536000, immutable"
_TEMPLATED = (".html", ".js", ".webmanifest", ".json", ".css")
_TYPES = {
    ".js": "text/javascript",  # Litestar adds the charset to text types
    ".css": "text/css",
    ".html": "text/html",
    ".webmanifest": "application/manifest+json",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
_COMPRESSIBLE = (".js", ".css", ".html", ".webmanifest", ".json", ".svg")


def content_security_policy(media_url: str = "/media/") -> str:
    """The pages' policy: own origin only, plus the media origin for images."""
    images = ["'self'", "data:"]
    parts = urlsplit(media_url)
    if parts.scheme in ("http", "https") and parts.netloc:
        images.append(f"{parts.scheme}://{parts.netloc}")
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {' '.join(images)}",
            "connect-src 'self'",
            "manifest-src 'self'",
            "worker-src 'self'",
            "object-src 'none'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
        ]
    )


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    gzipped: bytes | None
    media_type: str
    cache_control: str
    etag: str


@dataclass(frozen=True)
class Site:
    """The files of one site directory, ready to serve."""

    prefix: str
    version: str
    entries: dict[str, StaticFile]
    assets: dict[str, StaticFile]

    @classmethod
    def load(cls, path_prefix: str, directory: Path) -> Site:
        prefix = "/" + path_prefix.strip("/") + "/" if path_prefix.strip("/") else "/"
        files = sorted(p for p in directory.rglob("*") if p.is_file())
        if not (directory / "index.html").is_file():
            raise FileNotFoundError(f"{directory} has no index.html")
        digest = hashlib.sha256()
        for path in files:
            digest.update(path.relative_to(directory).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
        version = digest.hexdigest()[:12]
        values = {
            "{{assets}}": f"{prefix}assets/{version}/",
            "{{version}}": version,
            "{{base}}": prefix,
        }
        entries: dict[str, StaticFile] = {}
        assets: dict[str, StaticFile] = {}
        for path in files:
            relative = path.relative_to(directory).as_posix()
            if relative.startswith("assets/"):
                assets[relative.removeprefix("assets/")] = _static(
                    path, path.read_bytes(), ASSET_CACHE
                )
            elif "/" not in relative:
                body = path.read_bytes()
                if path.suffix in _TEMPLATED:
                    text = body.decode()
                    for placeholder, value in values.items():
                        text = text.replace(placeholder, value)
                    body = text.encode()
                entries[relative] = _static(path, body, ENTRY_CACHE)
        return cls(prefix, version, entries, assets)

    def find(self, path: str) -> StaticFile | None:
        """The file for a path below the prefix (``""`` is the index)."""
        if path.startswith("assets/"):
            version, _, name = path.removeprefix("assets/").partition("/")
            return self.assets.get(name) if version == self.version else None
        if path in self.entries:
            return self.entries[path]
        if "." in PurePosixPath(path).name:
            return None  # a missing file, not an app route
        return self.entries["index.html"]


def _static(path: Path, body: bytes, cache_control: str) -> StaticFile:
    media_type = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0]
    compressed = gzip.compress(body, 9, mtime=0) if path.suffix in _COMPRESSIBLE else None
    return StaticFile(
        body=body,
        gzipped=compressed if compressed is not None and len(compressed) < len(body) else None,
        media_type=media_type or "application/octet-stream",
        cache_control=cache_control,
        etag='"' + hashlib.sha256(body).hexdigest()[:20] + '"',
    )


def static_site(path_prefix: str, directory: Path, *, csp: str | None = None) -> Router:
    """A router serving the site in ``directory`` at ``path_prefix`` (see the module)."""
    site = Site.load(path_prefix, directory)
    headers = {
        # X-Content-Type-Options comes from the edge middleware, on every response.
        "Content-Security-Policy": csp or content_security_policy(),
        "Referrer-Policy": "same-origin",
        "Cross-Origin-Opener-Policy": "same-origin",
    }

    def serve(request: Request[Any, Any, Any], path: str) -> Response[bytes]:
        full = site.prefix + path
        if site.prefix == "/" and any(
            full == r.rstrip("/") or full.startswith(r) for r in RESERVED
        ):
            raise NotFoundException()
        found = site.find(path)
        if found is None:
            raise NotFoundException()
        response_headers = {
            **headers,
            "Cache-Control": found.cache_control,
            "ETag": found.etag,
            "Vary": "Accept-Encoding",
        }
        if request.headers.get("if-none-match") == found.etag:
            return Response(b"", status_code=304, headers=response_headers)
        body = found.body
        if found.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
            body = found.gzipped
            response_headers["Content-Encoding"] = "gzip"
        return Response(body, media_type=found.media_type, headers=response_headers)

    @get("/", include_in_schema=False, sync_to_thread=False, name=f"site:{site.prefix}")
    def index(request: Request[Any, Any, Any]) -> Response[bytes]:
        return serve(request, "")

    @get("/{path:path}", include_in_schema=False, sync_to_thread=False)
    def page(request: Request[Any, Any, Any], path: FromPath[str]) -> Response[bytes]:
        return serve(request, path.lstrip("/"))

    return Router(path=site.prefix.rstrip("/") or "/", route_handlers=[index, page])


STATIC_DIR = Path(__file__).parent / "static"
