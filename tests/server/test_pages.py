"""The storefront's files at /: routing beside the API, caching, CSP, compression."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import httpx
import pytest

from minicommerce_server.pages import STATIC_DIR, Site, content_security_policy
from tests.server.conftest import Client
from tests.server.helpers import PROBLEM, media_type

STOREFRONT = STATIC_DIR / "storefront"


def csp_of(response: httpx.Response) -> dict[str, str]:
    policy = response.headers["content-security-policy"]
    return {d.split(" ", 1)[0]: d.split(" ", 1)[1] for d in policy.split("; ")}


def asset_urls(index: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/assets/[^"]+)"', index)


@pytest.mark.parametrize("path", ["/", "/products/12", "/cart", "/orders/3", "/signin"])
def test_app_routes_are_the_index_page(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert media_type(response) == "text/html"
    assert '<script type="module" src="/assets/' in response.text
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_pages_have_a_strict_content_security_policy(client: Client) -> None:
    policy = csp_of(client.get("/"))
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["img-src"] == "'self' data:"
    assert policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["base-uri"] == "'none'"
    assert policy["form-action"] == "'self'"
    assert "unsafe" not in client.get("/").headers["content-security-policy"]


def test_an_absolute_media_url_is_allowed_for_images_only() -> None:
    policy = content_security_policy("https://cdn.example.com/shop/media/")
    assert "img-src 'self' data: https://cdn.example.com;" in policy
    assert policy.count("cdn.example.com") == 1
    assert "img-src 'self' data:;" in content_security_policy("/media/")


def test_the_index_has_no_inline_script_or_style() -> None:
    index = (STOREFRONT / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", index)
    assert "<style" not in index
    assert not re.search(r"\sstyle=|\son[a-z]+=", index)


def test_assets_are_versioned_and_cached_for_a_year(client: Client) -> None:
    urls = asset_urls(client.get("/").text)
    assert len(urls) >= 5
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.headers["x-content-type-options"] == "nosniff"
    module = client.get(next(u for u in urls if u.endswith("/app.js")))
    assert media_type(module) == "text/javascript"


def test_the_version_changes_with_any_file(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "assets").mkdir(parents=True)
    (site / "index.html").write_text('<script type="module" src="{{assets}}a.js"></script>')
    (site / "assets" / "a.js").write_text("export const a = 1;")
    first = Site.load("/", site)
    (site / "assets" / "a.js").write_text("export const a = 2;")
    second = Site.load("/", site)
    assert first.version != second.version
    assert f"/assets/{second.version}/a.js".encode() in second.entries["index.html"].body
    assert second.find(f"assets/{first.version}/a.js") is None  # an old version is gone
    assert (
        Site.load("/admin", site)
        .entries["index.html"]
        .body.startswith(
            f'<script type="module" src="/admin/assets/{second.version}/a.js"'.encode()
        )
    )


def test_the_service_worker_is_served_at_the_root_with_its_version(client: Client) -> None:
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert media_type(response) == "text/javascript"
    assert response.headers["cache-control"] == "no-cache"
    assert "{{version}}" not in response.text
    version = re.search(r'const VERSION = "([0-9a-f]+)"', response.text)
    assert version is not None
    assert f"/assets/{version.group(1)}/" in client.get("/").text


def test_text_files_are_compressed_when_the_client_accepts_it(client: Client) -> None:
    url = next(u for u in asset_urls(client.get("/").text) if u.endswith(".css"))
    plain = client.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    raw = client.build_request("GET", url, headers={"Accept-Encoding": "gzip"})
    compressed = client.send(raw, stream=True)
    try:
        assert compressed.headers["content-encoding"] == "gzip"
        body = compressed.read()
    finally:
        compressed.close()
    assert body == plain.content
    assert compressed.headers["vary"] == "Accept-Encoding"
    assert len(gzip.compress(plain.content)) < len(plain.content)


def test_an_unchanged_page_answers_not_modified(client: Client) -> None:
    first = client.get("/")
    again = client.get("/", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/nope",
        "/api",
        "/api/v2/products",
        "/media/0/missing.webp",
        "/favicon.ico",
        "/assets/0123456789ab/app.js",
        "/assets/nope",
    ],
)
def test_api_and_missing_files_stay_json_problems(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert media_type(response) == PROBLEM


def test_the_api_and_operations_still_route_to_the_api(client: Client) -> None:
    assert client.get("/api/v1/products").json()["items"] == []
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/schema/openapi.json").status_code == 200
    assert client.get("/metrics").status_code == 200
    paths = client.get("/schema/openapi.json").json()["paths"]
    assert not [p for p in paths if not p.startswith(("/api/", "/health", "/ready", "/metrics"))]


def test_a_write_to_a_page_is_refused(client: Client) -> None:
    assert client.post("/products/1").status_code == 405


def test_every_module_the_index_names_is_shipped(client: Client) -> None:
    index = client.get("/").text
    assert re.search(r'rel="manifest" href="/assets/[0-9a-f]+/manifest\.webmanifest"', index)
    manifest = client.get(next(u for u in asset_urls(index) if u.endswith(".webmanifest"))).json()
    base = next(u for u in asset_urls(index) if u.endswith(".webmanifest")).rsplit("/", 1)[0]
    sizes = {(icon["sizes"], icon["purpose"]) for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    for icon in manifest["icons"]:
        response = client.get(f"{base}/{icon['src']}")
        assert response.status_code == 200
        assert response.content.startswith(b"\x89PNG")
    for module in sorted((STOREFRONT / "assets").glob("*.js")):
        assert client.get(f"{base}/{module.name}").status_code == 200


def test_the_wheel_ships_the_static_files() -> None:
    import tomllib

    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    packages = project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    assert "src/minicommerce_server" in packages
    assert STOREFRONT.is_relative_to(Path(__file__).parents[2] / "src" / "minicommerce_server")
