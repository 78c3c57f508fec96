"""The storefront in Chromium, at phone and desktop sizes, against a real server."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, Request, expect

from tests.browser.conftest import SECRET_KEY, LiveServer, assert_accessible
from tests.server.helpers import access_claims, mint

Shot = Callable[[Page, str], None]
# For what does not depend on the screen (messages, weight) or belongs to one (touch, keys).
PHONE_ONLY = pytest.mark.parametrize("viewport", ["phone"], indirect=True)
DESKTOP_ONLY = pytest.mark.parametrize("viewport", ["desktop"], indirect=True)
ADDRESS = {
    "Full name": "Ada Lovelace",
    "Address line 1": "12 Analytical Street",
    "Town or city": "London",
    "Postcode": "N1 7AA",
    "Country code": "GB",
}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@example.com"


def say_heading(page: Page, name: str | re.Pattern[str]) -> None:
    expect(page.get_by_role("heading", level=1, name=name)).to_be_visible()


def message(page: Page) -> Any:
    return page.locator("#messages")


def stored_session(page: Page) -> dict[str, str]:
    value: dict[str, str] = page.evaluate(
        "JSON.parse(localStorage.getItem('minicommerce.session'))"
    )
    return value


def customer(server: LiveServer) -> tuple[int, dict[str, Any]]:
    """A customer made through the API: its id and a token pair."""
    email, password = unique("buyer"), "a long enough password"
    user = server.api(
        "POST", "/auth/register", json={"email": email, "password": password}, expect=201
    )
    return int(user["id"]), server.login(email, password)


def sign_in_with(page: Page, tokens: dict[str, Any]) -> None:
    """Puts a session into the storefront's storage, as a sign-in would."""
    page.goto("/")
    page.evaluate(
        "pair => localStorage.setItem('minicommerce.session', JSON.stringify(pair))",
        {"access_token": tokens["access_token"], "refresh_token": tokens["refresh_token"]},
    )


def new_product(server: LiveServer, name: str, price: str = "10.00", stock: int = 5) -> int:
    body = {"name": name, "price": price, "stock_quantity": stock}
    product = server.api("POST", "/products", token=server.staff_token(), json=body, expect=201)
    return int(product["id"])


def fill_address(page: Page, **changes: str) -> None:
    for label, value in {**ADDRESS, **changes}.items():
        page.get_by_label(label, exact=True).fill(value)


def assert_total_under_line_totals(page: Page) -> None:
    """The total's figure ends where the lines' figures end, at every width (it stopped at
    32rem on a desktop, in the middle of the page)."""
    total = page.locator(".total strong").bounding_box()
    line = page.locator(".line-total").last.bounding_box()
    assert total is not None
    assert line is not None
    assert abs((total["x"] + total["width"]) - (line["x"] + line["width"])) <= 1


def test_a_customer_registers_shops_checks_out_and_cancels(
    page: Page, live_server: LiveServer, screenshot: Shot
) -> None:
    page.goto("/")
    say_heading(page, "Shop")
    expect(page.locator(".card").first).to_be_visible()
    expect(page.locator(".card .price").first).to_have_text(re.compile(r"^\$\d+\.\d\d$"))
    assert_accessible(page, "catalog")
    screenshot(page, "catalog")

    page.get_by_role("link", name="Sign in").click()
    say_heading(page, "Sign in")
    assert_accessible(page, "sign in")
    screenshot(page, "sign-in")
    page.get_by_role("link", name="Create an account").click()
    say_heading(page, "Create an account")
    assert_accessible(page, "register")
    page.get_by_label("First name").fill("Ada")
    page.get_by_label("Email address").fill(unique("ada"))
    page.get_by_label("Password").fill("analytical engine")
    page.get_by_role("button", name="Create account").click()
    expect(message(page)).to_contain_text("Your account is ready")
    say_heading(page, "Shop")
    page.get_by_role("link", name=re.compile("^Cart")).click()
    expect(page.get_by_text("Your cart is empty.")).to_be_visible()
    assert_accessible(page, "empty cart")
    page.get_by_role("link", name="Browse the shop").click()

    page.get_by_label("Search products").fill("mug")
    page.get_by_role("button", name="Search", exact=True).click()
    say_heading(page, "Results for “mug”")
    page.get_by_role("button", name="Add Enamel camp mug to cart").click()
    expect(message(page)).to_contain_text("Added Enamel camp mug to your cart.")
    assert_accessible(page, "search results")
    screenshot(page, "search")

    page.get_by_label("Search products").fill("bottle")
    page.get_by_role("button", name="Search", exact=True).click()
    page.get_by_role("link", name="Steel water bottle 750 ml").click()
    say_heading(page, "Steel water bottle 750 ml")
    expect(page.get_by_text("In stock", exact=True)).to_be_visible()
    assert_accessible(page, "product")
    screenshot(page, "product")
    page.get_by_role("button", name="Add to cart").click()
    expect(message(page)).to_contain_text("Added Steel water bottle 750 ml")
    expect(page.locator("#cart-count")).to_have_text("2")

    page.get_by_role("link", name=re.compile("^Cart")).click()
    say_heading(page, "Your cart")
    expect(page.locator(".total")).to_contain_text("$29.49")  # 9.50 + 19.99, from the API
    page.get_by_label("Quantity of Enamel camp mug").fill("2")
    page.locator(".line", has_text="Enamel camp mug").get_by_role("button", name="Update").click()
    expect(page.locator(".total")).to_contain_text("$38.99")
    assert_accessible(page, "cart")
    assert_total_under_line_totals(page)
    screenshot(page, "cart")

    page.get_by_role("link", name="Check out").click()
    say_heading(page, "Checkout")
    fill_address(page, **{"Full name": "", "Country code": "1X"})
    page.get_by_role("button", name=re.compile("^Place order")).click()
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link")).to_have_count(2)
    country = page.locator('[data-field="shipping_address.country"]')
    expect(country.locator(".error-message")).to_contain_text("two-letter code")
    expect(page.get_by_label("Country code", exact=True)).to_have_attribute("aria-invalid", "true")
    name = page.locator('[data-field="shipping_address.full_name"] .error-message')
    expect(name).to_have_text("Error: This is required")
    assert_accessible(page, "checkout with errors")
    screenshot(page, "checkout-errors")

    fill_address(page)
    page.get_by_role("button", name="Place order · $38.99").click()
    say_heading(page, re.compile(r"^Order \d+$"))
    expect(message(page)).to_contain_text("is placed")
    expect(page.get_by_text("Pending", exact=True)).to_be_visible()
    expect(page.locator("#cart-count")).to_be_hidden()
    first = int(page.url.rsplit("/", 1)[1])
    assert_accessible(page, "order")
    assert_total_under_line_totals(page)
    screenshot(page, "order")

    # A second order, to cancel.
    page.goto("/?q=notebook")
    page.get_by_role("button", name="Add A5 dotted notebook to cart").click()
    expect(message(page)).to_contain_text("Added A5 dotted notebook")
    page.goto("/checkout")
    fill_address(page)
    page.get_by_role("button", name="Place order · $12.50").click()
    say_heading(page, re.compile(r"^Order \d+$"))
    second = int(page.url.rsplit("/", 1)[1])
    assert second != first

    page.get_by_role("link", name="Orders", exact=True).click()
    say_heading(page, "Your orders")
    expect(page.get_by_role("link", name=f"Order {first}", exact=True)).to_be_visible()
    assert_accessible(page, "orders")
    screenshot(page, "orders")
    page.get_by_role("link", name=f"Order {second}", exact=True).click()
    page.get_by_role("button", name="Cancel order").click()
    page.get_by_role("button", name="Yes, cancel this order").click()
    expect(message(page)).to_contain_text(f"Order {second} is cancelled.")
    expect(page.get_by_text("Cancelled", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Cancel order")).to_have_count(0)

    token = stored_session(page)["access_token"]
    orders = live_server.api("GET", "/orders", token=token)["items"]
    assert {o["id"]: o["status"] for o in orders} == {first: "pending", second: "cancelled"}

    page.get_by_role("button", name="Sign out").click()
    expect(message(page)).to_contain_text("You are signed out.")
    assert page.evaluate("localStorage.getItem('minicommerce.session')") is None


def test_a_double_click_or_a_lost_answer_makes_one_order(
    new_context: Callable[..., BrowserContext], live_server: LiveServer
) -> None:
    # The service worker is blocked here so that the test can drop the first answer.
    page = new_context(service_workers="block").new_page()
    _, tokens = customer(live_server)
    product = new_product(live_server, f"Double {uuid.uuid4().hex[:6]}")
    live_server.api(
        "PUT", f"/cart/items/{product}", token=tokens["access_token"], json={"quantity": 1}
    )
    sign_in_with(page, tokens)
    posts: list[str] = []

    def on_request(request: Request) -> None:
        if request.method == "POST" and request.url.endswith("/api/v1/orders"):
            posts.append(request.headers.get("idempotency-key", ""))

    page.on("request", on_request)
    # The first answer is lost on the way back (the order is made, the browser sees an error).
    dropped: list[int] = []

    def lose_first_answer(route: Any) -> None:
        if dropped:
            route.continue_()
            return
        response = route.fetch()
        dropped.append(response.status)
        route.abort("connectionreset")

    page.route("**/api/v1/orders", lose_first_answer)
    page.goto("/checkout")
    fill_address(page)
    place = page.get_by_role("button", name=re.compile("^Place order"))
    place.dblclick()
    expect(message(page)).to_contain_text("try again")
    assert dropped == [201]
    assert len(posts) == 1  # the second click found the button disabled
    place.click()  # the retry: same attempt, same key
    say_heading(page, re.compile(r"^Order \d+$"))
    assert len(posts) == 2
    assert posts[0] == posts[1]
    orders = live_server.api("GET", "/orders", token=tokens["access_token"])["items"]
    assert len(orders) == 1
    assert page.url.endswith(f"/orders/{orders[0]['id']}")
    assert page.evaluate("sessionStorage.getItem('minicommerce.checkout')") is None


def test_a_product_sold_out_in_one_tab_is_named_at_checkout_in_another(
    new_context: Callable[..., BrowserContext], live_server: LiveServer
) -> None:
    context = new_context()
    name = f"Last lamp {uuid.uuid4().hex[:6]}"
    product = new_product(live_server, name, stock=1)
    _, tokens = customer(live_server)
    shop = context.new_page()
    sign_in_with(shop, tokens)
    shop.goto(f"/products/{product}")
    shop.get_by_role("button", name="Add to cart").click()
    expect(message(shop)).to_contain_text(f"Added {name}")

    checkout = context.new_page()
    checkout.goto("/checkout")
    fill_address(checkout)
    # Meanwhile, staff sells the last one elsewhere.
    live_server.api(
        "PATCH",
        f"/products/{product}",
        token=live_server.staff_token(),
        json={"stock_quantity": 0},
    )
    checkout.get_by_role("button", name=re.compile("^Place order")).click()
    alert = checkout.get_by_role("alert")
    expect(alert).to_contain_text(f"Sorry, not enough stock: {name} is sold out.")
    expect(alert.get_by_role("link", name="Change your cart")).to_be_visible()
    assert live_server.api("GET", "/orders", token=tokens["access_token"])["items"] == []


def test_an_expired_access_token_is_renewed_without_a_new_sign_in(
    page: Page, live_server: LiveServer
) -> None:
    user_id, tokens = customer(live_server)
    past = datetime.now(UTC) - timedelta(hours=1)
    stale = mint(access_claims(user_id, iat=past - timedelta(minutes=15), exp=past), key=SECRET_KEY)
    assert live_server.api("GET", "/me", token=stale, expect=401) is not None
    sign_in_with(page, {**tokens, "access_token": stale})
    page.goto("/orders")
    say_heading(page, "Your orders")
    expect(page.get_by_text("No orders yet.")).to_be_visible()
    renewed = stored_session(page)
    assert renewed["refresh_token"] != tokens["refresh_token"]  # rotated once
    assert renewed["access_token"] != stale
    live_server.api("GET", "/me", token=renewed["access_token"])


def test_a_revoked_session_sends_the_customer_to_sign_in(
    page: Page, live_server: LiveServer
) -> None:
    _, tokens = customer(live_server)
    live_server.api(
        "POST", "/auth/logout", json={"refresh_token": tokens["refresh_token"]}, expect=204
    )
    sign_in_with(page, {**tokens, "access_token": "not-a-token"})
    page.goto("/cart")
    say_heading(page, "Sign in")
    expect(page.get_by_role("alert")).to_contain_text("Your session has ended")
    assert page.evaluate("localStorage.getItem('minicommerce.session')") is None
    assert "next=%2Fcart" in page.url


@PHONE_ONLY
def test_sign_in_returns_to_a_page_of_the_shop_only(page: Page, live_server: LiveServer) -> None:
    email, password = unique("next"), "a long enough password"
    live_server.api(
        "POST", "/auth/register", json={"email": email, "password": password}, expect=201
    )
    page.goto("/signin?next=//example.com/phish")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(message(page)).to_contain_text("You are signed in.")
    assert page.url == live_server.base_url + "/"


def test_the_storefront_works_offline_from_its_cache(
    page: Page, live_server: LiveServer, screenshot: Shot
) -> None:
    page.goto("/")
    # (not wait_for_function: its polling evaluates strings, which the page's CSP forbids)
    page.evaluate(
        """() => navigator.serviceWorker.controller || new Promise((resolve) =>
            navigator.serviceWorker.addEventListener("controllerchange", resolve))"""
    )
    page.reload()  # now through the worker, which keeps the catalog page
    expect(page.locator(".card").first).to_be_visible()
    names = page.locator(".card-name").all_text_contents()
    page.context.set_offline(True)
    try:
        page.reload()
        say_heading(page, "Shop")
        expect(page.locator("#offline")).to_be_visible()
        expect(page.locator(".card-name")).to_have_text(names)
        assert_accessible(page, "offline catalog")
        screenshot(page, "offline")
        # A page never seen cannot come from the cache: the customer is told why.
        page.goto("/products/999999")
        expect(page.locator("main")).to_contain_text("You are offline. Check your connection")
    finally:
        page.context.set_offline(False)


def test_a_price_edited_by_staff_shows_in_the_storefront(
    page: Page, live_server: LiveServer
) -> None:
    name = f"Price lamp {uuid.uuid4().hex[:6]}"
    product = new_product(live_server, name, price="10.00")
    page.goto(f"/?q={name.split()[-1]}")
    card = page.locator(".card", has_text=name)
    expect(card.locator(".price")).to_have_text("$10.00")
    live_server.api(
        "PATCH", f"/products/{product}", token=live_server.staff_token(), json={"price": "12.34"}
    )
    page.reload()
    expect(card.locator(".price")).to_have_text("$12.34")
    card.get_by_role("link").click()
    expect(page.locator(".price.big")).to_have_text("$12.34")


@PHONE_ONLY
@pytest.mark.parametrize("path", ["/", "/products/1", "/cart", "/signin", "/register"])
def test_first_load_weighs_under_100_kb(page: Page, path: str) -> None:
    page.goto(path)
    page.wait_for_load_state("networkidle")
    sizes: dict[str, int] = page.evaluate(
        """() => Object.fromEntries(performance.getEntriesByType("resource")
            .filter((e) => /\\.(js|css)$/.test(new URL(e.name).pathname))
            .map((e) => [new URL(e.name).pathname.split("/").pop(), e.encodedBodySize]))"""
    )
    total = sum(sizes.values())
    print(f"first load of {path}: {total} bytes of JS and CSS, compressed: {sizes}")
    assert "app.js" in sizes
    assert "style.css" in sizes
    assert total < 100_000


ICON = (
    Path(__file__).resolve().parents[2]
    / "src/minicommerce_server/static/storefront/assets/icons/icon-192.png"
).read_bytes()


def test_product_images_are_responsive_and_lazy_with_a_placeholder_otherwise(
    new_context: Callable[..., BrowserContext], live_server: LiveServer
) -> None:
    # The image API is another part of the work: its answers are written in here, in the
    # shape of the contract, and the image files are served by the test.
    page = new_context(service_workers="block").new_page()
    image = {
        "id": 1,
        "alt": "A green mug on a rock",
        "width": 800,
        "height": 600,
        "url": "/media/test/800.png",
        "renditions": [
            {"width": 400, "height": 300, "format": "webp", "url": "/media/test/400.webp"},
            {"width": 400, "height": 300, "format": "png", "url": "/media/test/400.png"},
            {"width": 800, "height": 600, "format": "png", "url": "/media/test/800.png"},
        ],
    }
    fetched: list[str] = []

    def with_images(route: Any) -> None:
        response = route.fetch()
        body = response.json()
        items = body.get("items", [body])
        items[0]["images"] = [image, {**image, "id": 2, "alt": "The mug from above"}]
        route.fulfill(response=response, json=body)

    def media(route: Any) -> None:
        fetched.append(route.request.url)
        route.fulfill(body=ICON, content_type="image/png")

    page.route(re.compile(r".*/api/v1/products(\?.*|/\d+)$"), with_images)
    page.route("**/media/**", media)
    page.goto("/")
    first = page.locator(".card").first
    img = first.locator("picture img")
    expect(img).to_have_attribute("alt", "A green mug on a rock")
    expect(img).to_have_attribute("loading", "lazy")
    expect(img).to_have_attribute("srcset", "/media/test/400.png 400w, /media/test/800.png 800w")
    expect(first.locator("picture source")).to_have_attribute("srcset", "/media/test/400.webp 400w")
    expect(page.locator(".card").nth(1).locator(".placeholder")).to_be_visible()
    assert page.locator(".card").nth(1).locator("img").count() == 0
    assert_accessible(page, "catalog with images")

    first.locator("a").click()
    gallery = page.locator(".gallery")
    expect(gallery.locator("picture img").first).to_have_attribute("loading", "eager")
    expect(gallery.locator(".thumbs img")).to_have_attribute("alt", "The mug from above")
    assert page.evaluate("document.querySelector('.gallery img').naturalWidth") > 0
    assert fetched


@PHONE_ONLY
@pytest.mark.parametrize(
    ("status", "headers", "body", "expected"),
    [
        (
            429,
            {"Retry-After": "7"},
            {"code": "rate_limited", "retry_after": 7},
            "Too many requests. Please wait 7 seconds and try again.",
        ),
        (
            503,
            {"Retry-After": "30"},
            {"code": "service_unavailable"},
            "The shop is unavailable right now. Please try again in 30 seconds.",
        ),
        (
            500,
            {},
            {"code": "internal_error", "request_id": "abc123"},
            "Something went wrong on our side (reference abc123). Please try again.",
        ),
        (None, {}, {}, "The shop cannot be reached right now."),
    ],
)
def test_api_errors_become_human_messages(
    new_context: Callable[..., BrowserContext],
    live_server: LiveServer,
    status: int | None,
    headers: dict[str, str],
    body: dict[str, Any],
    expected: str,
) -> None:
    page = new_context(service_workers="block").new_page()

    def answer(route: Any) -> None:
        if status is None:
            route.abort("connectionrefused")
        else:
            problem = {"type": "x", "title": "t", "status": status, "detail": "d", **body}
            route.fulfill(
                status=status,
                headers=headers,
                json=problem,
                content_type="application/problem+json",
            )

    page.route("**/api/v1/products?*", answer)
    page.goto("/")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text(expected)
    assert "rate_limited" not in alert.inner_text()


def test_a_background_redraw_keeps_focus_and_what_was_typed(page: Page) -> None:
    page.goto("/")
    expect(page.locator(".card").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    search = page.get_by_label("Search products")
    search.focus()
    page.keyboard.type("soc")
    page.locator(".card").first.evaluate("el => { el.dataset.old = 'yes'; }")
    # What the service worker posts when a catalog answer it served from its cache changed.
    page.evaluate(
        """() => navigator.serviceWorker.dispatchEvent(
            new MessageEvent("message", { data: { type: "catalog-updated" } }))"""
    )
    expect(page.locator(".card[data-old]")).to_have_count(0)  # the page was drawn again
    expect(search).to_be_focused()
    expect(search).to_have_value("soc")


@DESKTOP_ONLY
def test_keyboard_only_search_with_visible_focus(page: Page) -> None:
    page.goto("/")
    expect(page.locator(".card").first).to_be_visible()
    # The first visit installs the service worker, whose fresh copy of the catalog may
    # redraw the page once: let that happen before the keys, as a person would.
    page.wait_for_load_state("networkidle")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_have_css("outline-style", "solid")
    page.keyboard.press("Enter")
    search = page.get_by_label("Search products")
    for _ in range(4):  # from the main content, the search box is among the first stops
        page.keyboard.press("Tab")
        if search.evaluate("el => el === document.activeElement"):
            break
    expect(search).to_be_focused()
    page.keyboard.type("socks")
    page.keyboard.press("Enter")
    say_heading(page, "Results for “socks”")
    expect(page.get_by_role("heading", level=1)).to_be_focused()
    expect(page.locator(".card")).to_have_count(1)


@PHONE_ONLY
def test_touch_targets_are_at_least_44_px_on_a_phone(page: Page, live_server: LiveServer) -> None:
    _, tokens = customer(live_server)
    sign_in_with(page, tokens)
    small: list[str] = []
    for path in ["/", "/products/1", "/signin", "/orders"]:
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        page.wait_for_load_state("networkidle")
        small += page.evaluate(
            """(path) => [...document.querySelectorAll(
                "nav a, nav button, main button, main input, main select, summary, .card-link")]
              .filter((el) => el.getClientRects().length && el.type !== "checkbox")
              .map((el) => [el, el.getBoundingClientRect()])
              .filter(([, r]) => r.width < 44 || r.height < 44)
              .map(([el, r]) =>
                `${path} ${el.tagName} ${el.textContent.trim()} ${r.width}x${r.height}`)
            """,
            path,
        )
    assert not small
