"""The staff dashboard's files at /admin: served from the wheel, under a strict CSP."""

from __future__ import annotations

import re

from minicommerce_server.pages import STATIC_DIR
from tests.server.conftest import Client

ADMIN_DIR = STATIC_DIR / "admin"


def test_admin_is_the_dashboard_page_with_a_strict_policy(client: Client) -> None:
    for path in ("/admin", "/admin/", "/admin/orders/12"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html")
        assert "<title>Dashboard · minicommerce</title>" in response.text
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert "unsafe-inline" not in policy
        assert "unsafe-eval" not in policy
        assert "frame-ancestors 'none'" in policy
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-cache"


def test_the_page_has_no_inline_script_or_style(client: Client) -> None:
    html = client.get("/admin").text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert "<style" not in html
    assert " style=" not in html
    assert not re.search(r"\son[a-z]+=", html)


def test_every_module_and_stylesheet_is_served_versioned_and_immutable(client: Client) -> None:
    html = client.get("/admin").text
    entry = re.search(r'<script type="module" src="([^"]+)app\.js"', html)
    assert entry, html
    base = entry.group(1)
    assert re.fullmatch(r"/admin/assets/[0-9a-f]{12}/", base), base
    names = sorted(p.name for p in (ADMIN_DIR / "assets").iterdir())
    assert {"app.js", "api.js", "admin.css"} <= set(names)
    for name in names:
        response = client.get(base + name)
        assert response.status_code == 200, name
        assert "immutable" in response.headers["cache-control"]
        if name.endswith(".js"):
            assert response.headers["content-type"].startswith("text/javascript")
            # Every relative import names a file that is shipped.
            for imported in re.findall(r'from "\./([a-z_]+\.js)"', response.text):
                assert imported in names, (name, imported)


def test_a_missing_dashboard_file_is_a_404_problem(client: Client) -> None:
    assert client.get("/admin/assets/000000000000/app.js").status_code == 404
    assert client.get("/admin/nothing.js").status_code == 404
    assert client.get("/admin/../pages.py").status_code == 404


def test_the_dashboard_uses_only_the_public_api() -> None:
    """A reference client: no private endpoint, every path one of API.md's."""
    paths: set[str] = set()
    for module in (ADMIN_DIR / "assets").glob("*.js"):
        text = module.read_text()
        paths |= set(re.findall(r'[`"](/(?:admin|auth|me|products|orders)[^`"?]*)', text))
    known = re.compile(
        r"^/(me|auth/(login|refresh|logout)|products(/\$\{[^}]+\}(/images(/\$\{[^}]+\})?)?)?"
        r"|admin/(stats|orders|users)(/\$\{[^}]+\})?|orders(/\$\{[^}]+\})?)$"
    )
    assert {"/admin/stats", "/admin/orders", "/auth/refresh", "/me"} <= paths
    # The dashboard's own hash routes start with "#", so they are not matched here.
    unknown = sorted(p for p in paths if not known.match(p))
    assert not unknown, unknown


def test_the_dashboard_weighs_under_100_kb_compressed(client: Client) -> None:
    """The issue's budget for a first load: JavaScript and CSS, as the server sends them
    to a browser that accepts gzip."""
    html = client.get("/admin").text
    base = re.search(r'src="([^"]+)app\.js"', html)
    assert base
    total = 0
    for asset in (ADMIN_DIR / "assets").iterdir():
        if asset.suffix in (".js", ".css"):
            response = client.get(base.group(1) + asset.name, headers={"Accept-Encoding": "gzip"})
            total += int(response.headers["content-length"])
    assert 10_000 < total < 100_000, total
