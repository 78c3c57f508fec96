"""The dashboard's end-to-end fixtures, beside the shared ones of ``tests/browser/conftest.py``.

The dashboard's tests each get their own shop (``live``): the app over a fresh SQLite
database, served by uvicorn in a thread on a free port, so that a test sees only what it
made (an empty catalog, one order, its own users) and can move the shop's clock (to hand
out access tokens that have already expired). The browser is the shared Chromium.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from litestar.types import ASGIApp, Receive, Scope, Send
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize

from minicommerce import Registration, Shop
from minicommerce.clock import utcnow
from minicommerce_server.app import create_app
from tests.browser.conftest import SCREENSHOTS, chromium_path
from tests.conftest import FAST_ARGON2, SECRET
from tests.server.conftest import make_settings
from tests.test_serve import free_port

PHONE: ViewportSize = {"width": 360, "height": 740}
DESKTOP: ViewportSize = {"width": 1280, "height": 860}
PASSWORD = "a long enough password"


class ShiftedClock:
    """The shop's clock, which a test can move (to issue tokens that are already expired)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)
        self.until_refresh = False

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    def expire_access_tokens_until_a_refresh(self) -> None:
        """The next login's tokens are issued an hour ago, so the server (which checks
        expiry by the same clock, back at the present) finds its access token expired;
        ``until_refresh`` stays set until the next ``POST /auth/refresh``."""
        self.offset = -timedelta(hours=1)
        self.until_refresh = True


def _resetting_clock_on_refresh(app: ASGIApp, clock: ShiftedClock) -> ASGIApp:
    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path")
        if clock.until_refresh and path == "/api/v1/auth/refresh":
            clock.until_refresh = False
        await app(scope, receive, send)
        if clock.until_refresh and path == "/api/v1/auth/login":
            clock.offset = timedelta(0)  # back to the present: the new token is stale

    return wrapped


@dataclass
class LiveShop:
    url: str
    shop: Shop
    clock: ShiftedClock

    @property
    def api(self) -> str:
        return self.url + "/api/v1"

    def account(self, email: str, *, staff: bool = False, first: str = "", last: str = "") -> int:
        user = self.shop.accounts.register(
            Registration(email=email, password=PASSWORD, first_name=first, last_name=last),
            is_staff=staff,
        )
        return user.id

    def token(self, email: str) -> str:
        response = httpx.post(self.api + "/auth/login", json={"email": email, "password": PASSWORD})
        response.raise_for_status()
        return str(response.json()["access_token"])

    def call(self, method: str, path: str, token: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        headers.update(kwargs.pop("headers", {}))
        return httpx.request(method, self.api + path, headers=headers, timeout=10, **kwargs)


@pytest.fixture
def live(sqlite_url: str) -> Iterator[LiveShop]:
    """The app over a fresh SQLite shop, served by uvicorn in a thread on a free port."""
    chromium_path()  # no server to start when there is no browser to drive it

    clock = ShiftedClock()
    with Shop.open(
        sqlite_url, secret_key=SECRET, argon2=FAST_ARGON2, migrate=False, clock=clock
    ) as shop:
        app = create_app(make_settings(), shop=shop, configure_logs=False)
        port = free_port()
        config = uvicorn.Config(
            _resetting_clock_on_refresh(app, clock),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            ws="none",
            lifespan="on",
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                pytest.fail("the test server did not start")
            time.sleep(0.05)
        try:
            yield LiveShop(f"http://127.0.0.1:{port}", shop, clock)
        finally:
            server.should_exit = True
            thread.join(timeout=10)


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """Pages in fresh browser contexts (no shared storage), desktop-sized by default; a
    page's console errors fail the test (a CSP refusal shows up there)."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    def make(viewport: ViewportSize = DESKTOP) -> Page:
        phone: dict[str, Any] = {"is_mobile": True, "has_touch": True} if viewport == PHONE else {}
        context = browser.new_context(viewport=viewport, locale="en-US", **phone)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.on(
            "console",
            lambda message: errors.append(message.text) if message.type == "error" else None,
        )
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    yield make
    for context in contexts:
        context.close()
    unexpected = [e for e in errors if not _expected_console_error(e)]
    assert not unexpected, unexpected


def _expected_console_error(text: str) -> bool:
    # The browser logs every non-2xx fetch; the tests provoke 401, 409, 412 and 422 on purpose.
    return "Failed to load resource" in text


def save_screenshot(page: Page, name: str) -> None:
    """``docs/screenshots/<name>.png``, the whole page."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
