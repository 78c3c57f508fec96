"""The browser-test harness: a real ``minicommerce serve`` process and Debian's Chromium
driven by Playwright, shared by the storefront's and the dashboard's tests.

- ``live_server`` (session): the server on a free port, on a temporary SQLite database
  with the demo catalog, rate limits off, a known secret key, and a staff user
  (``live_server.staff_token()``); ``live_server.api(...)`` calls the API as anyone.
- ``browser`` (session): Chromium from ``/usr/bin/chromium``. Without it the tests skip
  with the reason, and fail when ``CI=true``.
- ``viewport`` (parametrised): ``phone`` (360x740, touch) and ``desktop`` (1280x800);
  ``new_context()`` opens a browser context at that viewport that fails the test on a
  Content-Security-Policy violation or an uncaught page error.
- ``assert_accessible(page, name)``: axe-core finds no serious or critical violation.
- ``screenshot(page, name)``: ``docs/screenshots/<name>-<viewport>.png``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    sync_playwright,
)

from minicommerce import Registration, Shop
from tests.conftest import FAST_ARGON2, IN_CI
from tests.test_serve import free_port

CHROMIUM = os.environ.get("MINICOMMERCE_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SECRET_KEY = "browser-tests-secret-" + "k" * 40
STAFF_EMAIL = "staff@example.com"
STAFF_PASSWORD = "staff password for the tests"
VIEWPORTS: dict[str, dict[str, Any]] = {
    "phone": {
        "viewport": {"width": 360, "height": 740},
        "is_mobile": True,
        "has_touch": True,
        "device_scale_factor": 1,
    },
    "desktop": {"viewport": {"width": 1280, "height": 800}, "device_scale_factor": 1},
}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
TIMEOUT_MS = 15_000


@dataclass
class LiveServer:
    base_url: str
    database_url: str
    _staff_token: str | None = field(default=None, repr=False)

    def api(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        expect: int | None = 200,
    ) -> Any:
        """Calls ``/api/v1<path>``; checks the status when ``expect`` is given."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = httpx.request(
            method, f"{self.base_url}/api/v1{path}", json=json, headers=headers, timeout=30
        )
        if expect is not None:
            assert response.status_code == expect, response.text
        return response.json() if response.content else None

    def login(self, email: str, password: str) -> dict[str, Any]:
        tokens: dict[str, Any] = self.api(
            "POST", "/auth/login", json={"email": email, "password": password}
        )
        return tokens

    def staff_token(self) -> str:
        """A fresh access token of the staff user (the server's tokens may be short-lived)."""
        return str(self.login(STAFF_EMAIL, STAFF_PASSWORD)["access_token"])

    def product_named(self, text: str) -> dict[str, Any]:
        page = self.api("GET", f"/products?q={text}&limit=1")
        assert page["items"], f"no product matches {text!r}"
        product: dict[str, Any] = page["items"][0]
        return product


def chromium_path() -> str:
    if Path(CHROMIUM).exists():
        return CHROMIUM
    message = f"{CHROMIUM} is missing (apt-get install -y chromium)"
    if IN_CI:
        pytest.fail(f"{message}, and CI=true requires it", pytrace=False)
    pytest.skip(message)


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - local URL
        return int(response.status)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    chromium_path()  # no server to start when there is no browser to drive it
    directory = tmp_path_factory.mktemp("live")
    database_url = f"sqlite:///{directory / 'shop.db'}"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINICOMMERCE_")}
    env.update(
        MINICOMMERCE_DATABASE_URL=database_url,
        MINICOMMERCE_SECRET_KEY=SECRET_KEY,
        MINICOMMERCE_RATE_LIMIT_ANON="0",
        MINICOMMERCE_RATE_LIMIT_USER="0",
        MINICOMMERCE_ARGON2_TIME_COST=str(FAST_ARGON2.time_cost),
        MINICOMMERCE_ARGON2_MEMORY_COST=str(FAST_ARGON2.memory_cost),
        MINICOMMERCE_ARGON2_PARALLELISM=str(FAST_ARGON2.parallelism),
        MINICOMMERCE_LOG_LEVEL="WARNING",
    )
    log = (directory / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "minicommerce_server.cli", "serve", "--port", str(port)],
        cwd=directory,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, reaped as one
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):  # up to 30 s on a busy machine
            try:
                if _get(base + "/health") == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail(
                "the server did not answer /health: " + (directory / "server.log").read_text()
            )
        with Shop.open(database_url, secret_key=SECRET_KEY, argon2=FAST_ARGON2) as shop:
            shop.accounts.register(
                Registration(email=STAFF_EMAIL, password=STAFF_PASSWORD, first_name="Sam"),
                is_staff=True,
            )
        yield LiveServer(base, database_url)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    chromium_path()
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(params=list(VIEWPORTS))
def viewport(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def new_context(
    browser: Browser, live_server: LiveServer, viewport: str
) -> Iterator[Callable[..., BrowserContext]]:
    """Opens browser contexts at the test's viewport; each fails the test on a CSP
    violation or an uncaught error in the page."""
    contexts: list[BrowserContext] = []
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        text = message.text
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            problems.append(f"CSP: {text}")

    def make(**options: Any) -> BrowserContext:
        context = browser.new_context(
            base_url=live_server.base_url, **VIEWPORTS[viewport], **options
        )
        context.set_default_timeout(TIMEOUT_MS)
        context.on("console", on_console)
        context.on("weberror", lambda error: problems.append(f"page error: {error.error}"))
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()
    assert not problems, problems


@pytest.fixture
def page(new_context: Callable[..., BrowserContext]) -> Page:
    return new_context().new_page()


_axe = Axe()


def assert_accessible(page: Page, name: str) -> None:
    """No serious or critical axe-core violation on the page as it is now."""
    results = _axe.run(page)
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"accessibility violations on {name}: {bad}"


@pytest.fixture
def screenshot(viewport: str) -> Callable[[Page, str], None]:
    def take(page: Page, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.evaluate("document.activeElement?.blur(); window.scrollTo(0, 0)")
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{viewport}.png"), animations="disabled")

    return take
