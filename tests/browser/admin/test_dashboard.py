"""The staff dashboard at /admin, driven in headless Chromium against the real server."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, ViewportSize, expect

from minicommerce import NewProduct
from tests.browser.admin.conftest import DESKTOP, PASSWORD, PHONE, LiveShop, save_screenshot
from tests.browser.conftest import assert_accessible

ADDRESS = {
    "full_name": "Ada Lovelace",
    "line1": "12 St James's Square",
    "city": "London",
    "postal_code": "SW1Y 4JH",
    "country": "GB",
}
NOT_STAFF = "This account is not a staff account"


def sign_in(page: Page, live: LiveShop, email: str) -> None:
    page.goto(live.url + "/admin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def signed_in_staff(
    new_page: Callable[..., Page], live: LiveShop, viewport: ViewportSize = DESKTOP
) -> Page:
    live.account("staff@example.com", staff=True, first="Grace", last="Hopper")
    page = new_page(viewport)
    sign_in(page, live, "staff@example.com")
    expect(page.get_by_text("Signed in as")).to_contain_text("staff@example.com")
    return page


def place_order(live: LiveShop, email: str, quantity: int = 2) -> int:
    """A customer's order, placed through the API as the storefront would."""
    product = live.shop.catalog.create(
        NewProduct(name="Enamel mug", price="12.50", stock_quantity=20, sku="MUG-1")
    )
    token = live.token(email)
    response = live.call(
        "POST",
        "/orders",
        token,
        json={
            "shipping_address": ADDRESS,
            "items": [{"product_id": product.id, "quantity": quantity}],
        },
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_staff_sees_a_customers_order_and_marks_it_paid_then_shipped(
    live: LiveShop, new_page: Callable[..., Page]
) -> None:
    live.account("ada@example.com", first="Ada", last="Lovelace")
    order_id = place_order(live, "ada@example.com")
    page = signed_in_staff(new_page, live)

    page.get_by_role("navigation", name="Dashboard sections").get_by_role(
        "link", name="Orders"
    ).click()
    expect(page.get_by_role("heading", name="Orders", level=1)).to_be_visible()
    row = page.get_by_role("row").filter(has_text=f"#{order_id}")
    expect(row).to_contain_text("ada@example.com")
    expect(row).to_contain_text("Ada Lovelace")
    expect(row).to_contain_text("pending")
    expect(row).to_contain_text("$25.00")
    assert_accessible(page, page.url)
    save_screenshot(page, "admin-orders-desktop")

    row.get_by_role("link", name=f"#{order_id}").click()
    expect(page.get_by_role("heading", name=f"Order #{order_id}")).to_be_visible()
    expect(page.locator("address")).to_contain_text("SW1Y 4JH")
    expect(page.get_by_role("row").filter(has_text="MUG-1")).to_contain_text("$12.50")
    actions = page.get_by_role("group", name="Change the status")
    expect(actions.get_by_role("button")).to_have_text(["Mark as paid", "Cancel order"])
    assert_accessible(page, page.url)

    actions.get_by_role("button", name="Mark as paid").click()
    expect(page.get_by_role("status")).to_contain_text(f"Order #{order_id} is now paid")
    expect(actions.get_by_role("button")).to_have_text(["Mark as shipped", "Cancel order"])
    actions.get_by_role("button", name="Mark as shipped").click()
    expect(page.get_by_role("status")).to_contain_text("is now shipped")
    expect(actions.get_by_role("button")).to_have_text(["Mark as delivered"])
    save_screenshot(page, "admin-order-desktop")

    order = live.call("GET", f"/orders/{order_id}", live.token("ada@example.com")).json()
    assert order["status"] == "shipped"


def test_orders_filter_by_status(live: LiveShop, new_page: Callable[..., Page]) -> None:
    live.account("ada@example.com")
    first = place_order(live, "ada@example.com", 1)
    token = live.token("ada@example.com")
    assert live.call("POST", f"/orders/{first}/cancel", token).status_code == 200
    page = signed_in_staff(new_page, live)
    page.goto(live.url + "/admin#/orders")
    expect(page.get_by_role("row").filter(has_text=f"#{first}")).to_contain_text("cancelled")
    # Choosing changes nothing by itself (no change of context on input); the button does.
    page.get_by_label("Status").select_option("pending")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No order is pending.")).to_be_visible()
    page.get_by_label("Status").select_option("cancelled")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("row").filter(has_text=f"#{first}")).to_be_visible()
    page.get_by_role("link", name=f"#{first}").click()
    expect(page.get_by_text("A cancelled order cannot change any more.")).to_be_visible()
    expect(page.get_by_role("group", name="Change the status").get_by_role("button")).to_have_count(
        0
    )


def test_a_customer_is_refused(live: LiveShop, new_page: Callable[..., Page]) -> None:
    live.account("ada@example.com")
    page = new_page()
    sign_in(page, live, "ada@example.com")
    expect(page.get_by_role("alert")).to_contain_text(NOT_STAFF)
    expect(page.get_by_role("navigation", name="Dashboard sections")).to_be_hidden()
    # The session made for the check was ended again: nothing is kept in the browser.
    assert page.evaluate("() => sessionStorage.length") == 0
    assert_accessible(page, page.url)


def test_wrong_password_is_a_message_and_sign_out_ends_the_session(
    live: LiveShop, new_page: Callable[..., Page]
) -> None:
    live.account("staff@example.com", staff=True)
    page = new_page(PHONE)
    page.goto(live.url + "/admin")
    expect(page.get_by_role("heading", name="Sign in to the dashboard")).to_be_visible()
    # What a first visit transfers (compressed, headers included): the page, its modules and
    # its stylesheet.
    transferred = page.evaluate(
        """() => performance.getEntriesByType("navigation")
            .concat(performance.getEntriesByType("resource"))
            .reduce((sum, entry) => sum + entry.transferSize, 0)"""
    )
    assert 10_000 < transferred < 100_000, transferred
    print(f"dashboard first load: {transferred} bytes transferred")
    save_screenshot(page, "admin-signin-phone")
    page.get_by_label("Email").fill("staff@example.com")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("The email or the password is wrong.")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("Overview|Sign in"))
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_contain_text("You have signed out.")
    assert page.evaluate("() => sessionStorage.length") == 0
    page.reload()
    expect(page.get_by_role("heading", name="Sign in to the dashboard")).to_be_visible()


def test_an_expired_access_token_is_renewed_without_a_new_sign_in(
    live: LiveShop, new_page: Callable[..., Page]
) -> None:
    live.account("staff@example.com", staff=True)
    page = new_page()
    live.clock.expire_access_tokens_until_a_refresh()
    sign_in(page, live, "staff@example.com")
    expect(page.get_by_text("Signed in as")).to_be_visible()
    assert not live.clock.until_refresh  # the page did renew its token
    page.goto(live.url + "/admin#/users")
    expect(page.get_by_role("row").filter(has_text="staff@example.com")).to_be_visible()
    # And a reload keeps the session (the refresh token is in this tab's sessionStorage).
    page.reload()
    expect(page.get_by_role("row").filter(has_text="staff@example.com")).to_be_visible()


def test_product_created_then_its_price_edited(
    live: LiveShop, new_page: Callable[..., Page]
) -> None:
    page = signed_in_staff(new_page, live)
    page.goto(live.url + "/admin#/products")
    page.get_by_role("link", name="New product").click()
    page.get_by_label("Name").fill("Linen apron")
    page.get_by_label("SKU").fill("APRON-1")
    page.get_by_label("Price").fill("1.999")
    page.get_by_label("Units in stock").fill("7")
    page.get_by_role("button", name="Create product").click()
    # The API's field error, in the summary and next to the field.
    summary = page.locator(".error-summary")
    expect(summary).to_contain_text("There is a problem")
    expect(summary.get_by_role("link")).to_contain_text("Price")
    price_error = page.locator('.field[data-field="price"] .field-error')
    expect(price_error).to_be_visible()
    expect(page.get_by_label("Price (store currency)")).to_have_attribute("aria-invalid", "true")
    assert_accessible(page, page.url)

    page.get_by_label("Price").fill("24.00")
    page.get_by_role("button", name="Create product").click()
    expect(page.get_by_role("heading", name="Edit “Linen apron”")).to_be_visible()
    product_id = int(page.url.rsplit("/", 1)[1])
    page.get_by_label("Price").fill("19.90")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status")).to_contain_text("Saved.")

    # What the storefront reads: the public catalog API, and the storefront's own page.
    response = live.call("GET", f"/products/{product_id}", "")
    assert response.json()["price"] == "19.90"
    shopper = new_page(PHONE)
    shopper.goto(live.url + f"/products/{product_id}")
    expect(shopper.locator(".price.big")).to_have_text("$19.90")
    page.goto(live.url + "/admin#/products?q=apron")
    row = page.get_by_role("row").filter(has_text="APRON-1")
    expect(row).to_contain_text("$19.90")
    assert_accessible(page, page.url)
    save_screenshot(page, "admin-products-desktop")


def test_a_change_made_meanwhile_is_a_conflict_with_a_reload(
    live: LiveShop, new_page: Callable[..., Page]
) -> None:
    product = live.shop.catalog.create(
        NewProduct(name="Teapot", price="30.00", stock_quantity=3, sku="TEA-1")
    )
    page = signed_in_staff(new_page, live)
    page.goto(live.url + f"/admin#/products/{product.id}")
    expect(page.get_by_label("Price")).to_have_value("30.00")

    # Someone else changes the product through the API meanwhile.
    other = live.call(
        "PATCH",
        f"/products/{product.id}",
        live.token("staff@example.com"),
        json={"stock_quantity": 9},
    )
    assert other.status_code == 200

    page.get_by_label("Price").fill("28.00")
    page.get_by_role("button", name="Save changes").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Someone else changed this product")
    assert_accessible(page, page.url)
    save_screenshot(page, "admin-conflict-desktop")
    alert.get_by_role("button", name="Reload the product").click()
    expect(page.get_by_label("Units in stock")).to_have_value("9")
    expect(page.get_by_label("Price")).to_have_value("30.00")
    assert live.call("GET", f"/products/{product.id}", "").json()["price"] == "30.00"


def test_delete_asks_for_confirmation(live: LiveShop, new_page: Callable[..., Page]) -> None:
    product = live.shop.catalog.create(
        NewProduct(name="Teapot", price="30.00", stock_quantity=3, sku="TEA-1")
    )
    page = signed_in_staff(new_page, live)
    page.goto(live.url + "/admin#/products")
    page.get_by_role("button", name="Delete Teapot").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Delete “Teapot”?")
    dialog.get_by_role("button", name="Cancel").click()
    assert live.call("GET", f"/products/{product.id}", "").status_code == 200
    page.get_by_role("button", name="Delete Teapot").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete product").click()
    expect(page.get_by_text("The catalog is empty.")).to_be_visible()
    assert live.call("GET", f"/products/{product.id}", "").status_code == 404


def test_users_promote_and_deactivate(live: LiveShop, new_page: Callable[..., Page]) -> None:
    live.account("ada@example.com", first="Ada", last="Lovelace")
    page = signed_in_staff(new_page, live)
    page.goto(live.url + "/admin#/users")
    page.get_by_label("Search").fill("ada@")
    page.get_by_role("button", name="Search").click()
    row = page.get_by_role("row").filter(has_text="ada@example.com")
    expect(row).to_contain_text("Customer")
    expect(page.get_by_role("row").filter(has_text="staff@example.com")).to_have_count(0)

    row.get_by_role("button", name="Make ada@example.com staff").click()
    page.get_by_role("dialog").get_by_role("button", name="Make staff").click()
    expect(page.get_by_role("status")).to_contain_text("ada@example.com: now staff")
    expect(row).to_contain_text("Staff")
    row.get_by_role("button", name="Deactivate ada@example.com").click()
    page.get_by_role("dialog").get_by_role("button", name="Deactivate").click()
    expect(row).to_contain_text("Deactivated")
    ada = live.shop.accounts.find_by_email("ada@example.com")
    assert ada is not None
    assert ada.is_staff
    assert not ada.is_active
    row.get_by_role("button", name="Reactivate ada@example.com").click()
    expect(row).to_contain_text("Active")

    # The API refuses staff changing their own access; its message is shown.
    page.get_by_label("Search").fill("")
    page.get_by_role("button", name="Search").click()
    me = page.get_by_role("row").filter(has_text="staff@example.com")
    me.get_by_role("button", name="Deactivate staff@example.com").click()
    page.get_by_role("dialog").get_by_role("button", name="Deactivate").click()
    expect(page.get_by_role("alert")).to_contain_text("cannot remove their own staff flag")
    assert_accessible(page, page.url)
    save_screenshot(page, "admin-users-desktop")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_pages_on_phone_and_desktop(
    live: LiveShop, new_page: Callable[..., Page], viewport: ViewportSize
) -> None:
    """Every section, at both sizes: accessible, and a screenshot for docs/clients.md."""
    live.account("ada@example.com", first="Ada", last="Lovelace")
    order_id = place_order(live, "ada@example.com")
    kind = "phone" if viewport == PHONE else "desktop"
    page = signed_in_staff(new_page, live, viewport)
    for route, name in [
        ("#/", "overview"),
        ("#/products", "products"),
        (f"#/products/{_first_product(live)}", "product"),
        ("#/orders", "orders"),
        (f"#/orders/{order_id}", "order"),
        ("#/users", "users"),
    ]:
        page.goto(live.url + "/admin" + route)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        page.wait_for_load_state("networkidle")
        assert_accessible(page, page.url)
        save_screenshot(page, f"admin-{name}-{kind}")


def _first_product(live: LiveShop) -> int:
    from minicommerce import ProductQuery

    return live.shop.catalog.list(ProductQuery()).items[0].id


def test_an_image_uploaded_in_the_dashboard_is_on_the_product(
    live: LiveShop, new_page: Callable[..., Page], tmp_path: Path
) -> None:
    from PIL import Image

    product = live.shop.catalog.create(
        NewProduct(name="Teapot", price="30.00", stock_quantity=3, sku="TEA-1")
    )
    for name, colour in (("red.png", (200, 30, 30)), ("blue.png", (30, 30, 200))):
        Image.new("RGB", (640, 480), colour).save(tmp_path / name)
    page = signed_in_staff(new_page, live)
    page.goto(live.url + f"/admin#/products/{product.id}")
    expect(page.get_by_text("This product has no image yet.")).to_be_visible()

    page.get_by_label("Image file").set_input_files(str(tmp_path / "red.png"))
    page.get_by_label("Description (alt text)", exact=True).fill("A red teapot")
    page.get_by_role("button", name="Upload image").click()
    expect(page.get_by_role("status")).to_contain_text("Image uploaded.")
    expect(page.get_by_role("img", name="A red teapot")).to_be_visible()
    page.get_by_label("Image file").set_input_files(str(tmp_path / "blue.png"))
    page.get_by_role("button", name="Upload image").click()
    expect(page.locator(".image-item")).to_have_count(2)

    # Describe the second, then make it the main image.
    page.get_by_label("Description (alt text) of image 2").fill("A blue teapot")
    page.locator(".image-item").nth(1).get_by_role("button", name="Save description").click()
    expect(page.get_by_role("status")).to_contain_text("Description saved.")
    page.get_by_role("button", name="Move A blue teapot up").click()
    expect(page.get_by_role("status")).to_contain_text("Image moved up.")
    expect(page.locator(".image-item").first).to_contain_text("Main image")
    expect(page.locator(".image-item img").first).to_have_attribute("alt", "A blue teapot")
    assert_accessible(page, page.url)
    save_screenshot(page, "admin-product-images-desktop")

    # The storefront reads the same product from the public API, images in this order, and
    # the files are served.
    images = live.call("GET", f"/products/{product.id}", "").json()["images"]
    assert [image["alt"] for image in images] == ["A blue teapot", "A red teapot"]
    assert httpx.get(live.url + images[0]["url"]).status_code == 200
    # And a customer sees it on the storefront's product page, loaded under its CSP.
    shopper = new_page(PHONE)
    shopper.goto(live.url + f"/products/{product.id}")
    picture = shopper.get_by_role("img", name="A blue teapot")
    expect(picture).to_be_visible()
    expect(picture).to_have_js_property("complete", True)
    assert picture.evaluate("img => img.naturalWidth") > 0

    # The image is still editable after a change of the product's fields (no false 412).
    page.get_by_label("Price").fill("29.00")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status").first).to_contain_text("Saved.")

    page.get_by_role("button", name="Remove A red teapot").click()
    page.get_by_role("dialog").get_by_role("button", name="Remove image").click()
    expect(page.locator(".image-item")).to_have_count(1)
    images = live.call("GET", f"/products/{product.id}", "").json()["images"]
    assert [image["alt"] for image in images] == ["A blue teapot"]


def test_a_file_that_is_not_an_image_is_refused_next_to_the_field(
    live: LiveShop, new_page: Callable[..., Page], tmp_path: Path
) -> None:
    product = live.shop.catalog.create(NewProduct(name="Teapot", price="30.00", stock_quantity=3))
    (tmp_path / "notes.png").write_bytes(b"this is text, not a PNG")
    page = signed_in_staff(new_page, live)
    page.goto(live.url + f"/admin#/products/{product.id}")
    page.get_by_label("Image file").set_input_files(str(tmp_path / "notes.png"))
    page.get_by_role("button", name="Upload image").click()
    expect(page.locator('.field[data-field="file"] .field-error')).to_be_visible()
    expect(page.locator(".upload-form .error-summary")).to_contain_text("Image file")
    assert live.call("GET", f"/products/{product.id}", "").json()["images"] == []


def test_overview_charts_statuses_and_low_stock(
    live: LiveShop, new_page: Callable[..., Page]
) -> None:
    live.account("ada@example.com", first="Ada", last="Lovelace")
    order_id = place_order(live, "ada@example.com", 2)  # 2 x 12.50, 18 mugs left
    live.shop.catalog.create(NewProduct(name="Last teapot", price="30.00", stock_quantity=1))
    page = signed_in_staff(new_page, live)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.get_by_role("img", name="Orders per day")).to_be_visible()
    expect(page.get_by_role("img", name="Revenue per day (USD)")).to_be_visible()
    expect(page.locator(".chart").first.locator("rect")).to_have_count(30)
    status_rows = page.get_by_role("table", name="Orders placed in the last 30 days, by status")
    expect(status_rows.get_by_role("row").filter(has_text="pending")).to_contain_text("1")
    assert_accessible(page, page.url)
    save_screenshot(page, "admin-overview-desktop")
    # The table alternative gives today's figures exactly as the API does.
    page.get_by_text("Show these figures as a table").click()
    figures = page.get_by_role("table", name=re.compile("Orders and revenue per day"))
    expect(figures.get_by_role("row").last).to_contain_text("$25.00")
    low = page.get_by_role("table", name=re.compile("Products with 5 units or fewer"))
    expect(low.get_by_role("row").filter(has_text="Last teapot")).to_contain_text("1")
    expect(low.get_by_role("row").filter(has_text="Enamel mug")).to_have_count(0)

    # The threshold is a setting of this browser, kept across visits.
    page.get_by_label("Low-stock threshold").fill("20")
    page.get_by_role("button", name="Apply").click()
    low = page.get_by_role("table", name=re.compile("Products with 20 units or fewer"))
    expect(low.get_by_role("row").filter(has_text="Enamel mug")).to_contain_text("18")
    page.get_by_role("link", name="Last 7 days").click()
    expect(page.locator(".chart").first.locator("rect")).to_have_count(7)
    expect(page.get_by_role("table", name=re.compile("Products with 20 units"))).to_be_visible()

    staff_token = live.token("staff@example.com")
    cancel = live.call(
        "PATCH", f"/admin/orders/{order_id}", staff_token, json={"status": "cancelled"}
    )
    assert cancel.status_code == 200
    page.reload()
    expect(page.get_by_text("0 orders placed")).to_be_visible()
