"""Bad input is a 4xx problem, never a 500: media types, nesting, control characters,
cursors, emails; and the security headers every answer carries."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import TestClient

from minicommerce import Registration, Shop
from minicommerce.pagination import MAX_CURSOR_LENGTH
from minicommerce.storage.engine import open_database
from minicommerce.storage.tables import users
from minicommerce_server.app import create_app
from minicommerce_server.bodies import expects_json_body
from tests.conftest import ADDRESS
from tests.server.conftest import Account, Client, make_settings
from tests.server.helpers import (
    API,
    assert_problem,
    assert_validation,
    bearer,
    cursor_of,
    make_product,
    wait_for_fresh_window,
)

PASSWORD = "a long enough password"
NESTED = b"[" * 200_000


def json_routes(app: Litestar) -> list[tuple[str, str]]:
    """Every (method, path) whose handler takes a JSON body, path parameters set to 1."""
    found: list[tuple[str, str]] = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if expects_json_body(handler):
                path = re.sub(r"\{[^}]+\}", "1", route.path)
                found.extend((method, path) for method in sorted(handler.http_methods))
    return sorted(found)


def send(client: Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return client.request(method, path, **kwargs)


@pytest.fixture
def routes(client: Client) -> list[tuple[str, str]]:
    assert isinstance(client.app, Litestar)
    found = json_routes(client.app)
    # The routes of API.md that take a body; new ones are found by json_routes as well.
    assert {
        ("POST", f"{API}/auth/register"),
        ("POST", f"{API}/auth/login"),
        ("POST", f"{API}/auth/refresh"),
        ("POST", f"{API}/auth/logout"),
        ("PATCH", f"{API}/me"),
        ("POST", f"{API}/me/password"),
        ("POST", f"{API}/products"),
        ("PATCH", f"{API}/products/1"),
        ("PUT", f"{API}/cart/items/1"),
        ("POST", f"{API}/orders"),
        ("PATCH", f"{API}/admin/orders/1"),
        ("PATCH", f"{API}/admin/users/1"),
    } <= set(found)
    return found


# --- 415: a JSON body only as application/json ------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonx",
        "application/json-patch+json",
        "text/json",
        "application/json; charset=latin-1",
    ],
)
def test_a_json_route_refuses_other_media_types_with_415(
    client: Client, routes: list[tuple[str, str]], staff: Account, content_type: str
) -> None:
    for method, path in routes:
        response = send(
            client,
            method,
            path,
            content=b'{"email": "x@example.com", "password": "a long enough password"}',
            headers={**staff.headers, "Content-Type": content_type},
        )
        assert_problem(response, 415, "unsupported_media_type")


def test_a_body_without_a_content_type_is_415(
    client: Client, routes: list[tuple[str, str]], staff: Account
) -> None:
    for method, path in routes:
        request = client.build_request(method, path, content=b"{}", headers=staff.headers)
        assert "content-type" not in request.headers
        assert_problem(client.send(request), 415, "unsupported_media_type")


def test_a_cross_site_text_plain_form_cannot_register(client: Client, sqlite_shop: Shop) -> None:
    body = b'{"email": "victim@example.com", "password": "a long enough password"}'
    response = client.post(
        f"{API}/auth/register", content=body, headers={"Content-Type": "text/plain"}
    )
    assert_problem(response, 415, "unsupported_media_type")
    assert sqlite_shop.accounts.find_by_email("victim@example.com") is None


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "APPLICATION/JSON",
        "application/json; charset=utf-8",
        'application/json;charset="UTF-8"',
        "application/json; charset=utf8",
    ],
)
def test_json_with_parameters_is_accepted(client: Client, content_type: str) -> None:
    body = b'{"email": "ann@example.com", "password": "a long enough password"}'
    response = client.post(
        f"{API}/auth/register", content=body, headers={"Content-Type": content_type}
    )
    assert response.status_code == 201, response.text


def test_routes_without_a_body_ignore_its_type(
    client: Client, customer: Account, sqlite_shop: Shop
) -> None:
    headers = {**customer.headers, "Content-Type": "text/plain"}
    response = client.request("DELETE", f"{API}/cart", content=b"x", headers=headers)
    assert response.status_code == 204
    assert client.get(f"{API}/products", headers={"Content-Type": "text/plain"}).status_code == 200
    response = client.post(f"{API}/orders/424242/cancel", content=b"x", headers=headers)
    assert_problem(response, 404, "not_found")


def test_an_empty_body_without_a_type_is_still_422(client: Client) -> None:
    request = client.build_request("POST", f"{API}/auth/login")
    assert "content-type" not in request.headers
    assert_validation(client.send(request), "body")


def test_the_schema_documents_400_and_415_for_every_json_body(client: Client) -> None:
    schema = client.get("/schema/openapi.json").json()
    checked = 0
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            body = operation.get("requestBody", {}).get("content", {})
            documented = set(operation["responses"])
            if "application/json" in body:
                checked += 1
                assert {"400", "415"} <= documented, (method, path)
            elif not body:
                assert "415" not in documented, (method, path)
    assert checked >= 12


# --- 400: deep nesting --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [NESTED, b'{"a":' * 100_000, b'{"email": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"],
    ids=["arrays", "objects", "in-a-field"],
)
def test_deeply_nested_json_is_a_400_on_every_json_route(
    client: Client, routes: list[tuple[str, str]], staff: Account, content: bytes
) -> None:
    for method, path in routes:
        response = send(
            client,
            method,
            path,
            content=content,
            headers={**staff.headers, "Content-Type": "application/json"},
        )
        body = assert_problem(response, 400, "bad_request")
        assert "Recursion" not in body["detail"]


def test_moderate_nesting_in_a_field_is_a_422(client: Client, customer: Account) -> None:
    nested = "[" * 300 + "]" * 300
    content = f'{{"email": {nested}, "password": {nested}}}'.encode()
    response = client.post(
        f"{API}/auth/register", content=content, headers={"Content-Type": "application/json"}
    )
    assert_validation(response, "email", "password")
    address = (
        f'{{"full_name": {nested}, "line1": "x", "city": "x", "postal_code": "x", "country": "GB"}}'
    )
    response = client.post(
        f"{API}/orders",
        content=f'{{"shipping_address": {address}, "items": {nested}}}'.encode(),
        headers={**customer.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text


# --- cursors ------------------------------------------------------------------------------------

LISTS = [
    (f"{API}/orders", {}),
    (f"{API}/admin/orders", {}),
    (f"{API}/admin/users", {}),
    (f"{API}/products", {}),
    (f"{API}/products", {"sort": "name"}),
    (f"{API}/products", {"sort": "price_asc"}),
]
BAD_CURSORS = {
    "nested": base64.urlsafe_b64encode(b"[" * 1500).decode(),
    "nested-in-a-key": base64.urlsafe_b64encode(b'["orders",' + b"[" * 1400).decode(),
    "too-long": "W" * (MAX_CURSOR_LENGTH + 1),
    # as deep as a URL carries (httpx stops at 64 KiB)
    "huge-nested": base64.urlsafe_b64encode(b"[" * 40_000).decode(),
    "nul-in-a-key": cursor_of("name", "a\x00", 1),
}


@pytest.mark.parametrize("cursor", sorted(BAD_CURSORS))
@pytest.mark.parametrize(("path", "params"), LISTS)
def test_a_bad_cursor_is_a_422_on_every_list(
    client: Client, staff: Account, path: str, params: dict[str, str], cursor: str
) -> None:
    response = client.get(
        path, params={**params, "cursor": BAD_CURSORS[cursor]}, headers=staff.headers
    )
    assert_validation(response, "cursor")


def test_a_product_name_of_200_astral_characters_pages_by_name(
    client: Client, sqlite_shop: Shop
) -> None:
    for _ in range(3):
        make_product(sqlite_shop, name="\U0001f600" * 200)
    first = client.get(f"{API}/products", params={"sort": "name", "limit": 1}).json()
    cursor = first["next_cursor"]
    assert cursor is not None
    second = client.get(f"{API}/products", params={"sort": "name", "limit": 1, "cursor": cursor})
    assert second.status_code == 200, second.text
    assert second.json()["items"][0]["id"] != first["items"][0]["id"]


# --- control characters, on both backends -------------------------------------------------------


@pytest.fixture
def any_client(shop: Shop) -> Iterator[Client]:
    """A client of an app over SQLite and over PostgreSQL (the ``shop`` fixture)."""
    with TestClient(create_app(make_settings(), shop=shop, configure_logs=False)) as client:
        yield client


@pytest.fixture
def any_signup(any_client: Client, shop: Shop) -> Callable[..., Account]:
    counter = iter(range(1_000_000))

    def make(*, staff: bool = False) -> Account:
        email = f"user{next(counter)}@example.com"
        user = shop.accounts.register(Registration(email=email, password=PASSWORD), is_staff=staff)
        response = any_client.post(f"{API}/auth/login", json={"email": email, "password": PASSWORD})
        assert response.status_code == 200, response.text
        body = response.json()
        return Account(user.id, email, PASSWORD, body["access_token"], body["refresh_token"])

    return make


CONTROLS = ["\x00", "\x07", "\x1b", "\x7f", "\x9b"]


@pytest.mark.parametrize("char", CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_account_text_fields_refuse_control_characters(
    any_client: Client, any_signup: Callable[..., Account], char: str
) -> None:
    register = f"{API}/auth/register"
    good = {"email": "new@example.com", "password": PASSWORD}
    for field in ("email", "first_name", "last_name"):
        value = f"ne{char}w@example.com" if field == "email" else f"A{char}B"
        assert_validation(any_client.post(register, json={**good, field: value}), field)
    login = f"{API}/auth/login"
    response = any_client.post(login, json={"email": f"a{char}@example.com", "password": PASSWORD})
    assert_validation(response, "email")
    account = any_signup()
    for field in ("first_name", "last_name"):
        response = any_client.patch(f"{API}/me", json={field: f"A{char}"}, headers=account.headers)
        assert_validation(response, field)
    for route in ("refresh", "logout"):
        response = any_client.post(f"{API}/auth/{route}", json={"refresh_token": f"x{char}"})
        assert_validation(response, "refresh_token")


def test_a_password_with_a_nul_is_only_a_wrong_password(
    any_client: Client, any_signup: Callable[..., Account]
) -> None:
    account = any_signup()
    response = any_client.post(
        f"{API}/auth/login", json={"email": account.email, "password": "a\x00b" * 4}
    )
    assert_problem(response, 401, "invalid_credentials")


@pytest.mark.parametrize("char", CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_catalog_text_fields_refuse_control_characters(
    any_client: Client, any_signup: Callable[..., Account], shop: Shop, char: str
) -> None:
    staff = any_signup(staff=True)
    product = make_product(shop)
    new = {"name": "Mug", "price": "1.00", "stock_quantity": 1}
    for field in ("name", "description", "sku"):
        body = {**new, field: f"a{char}b"}
        response = any_client.post(f"{API}/products", json=body, headers=staff.headers)
        assert_validation(response, field)
        response = any_client.patch(
            f"{API}/products/{product.id}", json={field: f"a{char}b"}, headers=staff.headers
        )
        assert_validation(response, field)
    response = any_client.get(f"{API}/products", params={"q": f"mug{char}"})
    assert_validation(response, "q")
    response = any_client.get(f"{API}/admin/users", params={"q": f"a{char}"}, headers=staff.headers)
    assert_validation(response, "q")
    cursor = cursor_of("name", f"Mug{char}", product.id)
    response = any_client.get(f"{API}/products", params={"sort": "name", "cursor": cursor})
    assert_validation(response, "cursor")


def test_a_description_keeps_line_breaks_and_tabs(
    any_client: Client, any_signup: Callable[..., Account]
) -> None:
    staff = any_signup(staff=True)
    description = "Line one\r\nLine two\n\tindented"
    body = {"name": "Mug", "price": "1.00", "stock_quantity": 1, "description": description}
    response = any_client.post(f"{API}/products", json=body, headers=staff.headers)
    assert response.status_code == 201, response.text
    product_id = response.json()["id"]
    assert any_client.get(f"{API}/products/{product_id}").json()["description"] == description


@pytest.mark.parametrize("char", CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_order_text_fields_refuse_control_characters(
    any_client: Client, any_signup: Callable[..., Account], shop: Shop, char: str
) -> None:
    customer = any_signup()
    product = make_product(shop)
    items = [{"product_id": product.id, "quantity": 1}]
    for field in (*ADDRESS, "line2", "region", "phone"):
        body = {"shipping_address": {**ADDRESS, field: f"A{char}B"}, "items": items}
        response = any_client.post(f"{API}/orders", json=body, headers=customer.headers)
        assert_validation(response, f"shipping_address.{field}")
    if char != "\x9b":  # a header is Latin-1 on the wire: U+009B is not sent as one character
        response = any_client.post(
            f"{API}/orders",
            json={"shipping_address": ADDRESS, "items": items},
            headers={**customer.headers, "Idempotency-Key": f"key{char}1"},
        )
        assert_validation(response, "Idempotency-Key")
    assert shop.catalog.get(product.id).stock_quantity == product.stock_quantity


# --- emails -------------------------------------------------------------------------------------


def test_emails_are_one_account_whatever_their_case_or_width(
    any_client: Client, shop: Shop
) -> None:
    register = f"{API}/auth/register"
    response = any_client.post(register, json={"email": "Straße@Example.DE", "password": PASSWORD})
    assert response.status_code == 201, response.text
    assert response.json()["email"] == "strasse@example.de"
    for alias in ("STRASSE@example.de", "strasse@EXAMPLE.de", "\uff33traße@example.de"):
        response = any_client.post(register, json={"email": alias, "password": PASSWORD})
        assert_problem(response, 409, "email_taken")
        response = any_client.post(f"{API}/auth/login", json={"email": alias, "password": PASSWORD})
        assert response.status_code == 200, (alias, response.text)


@pytest.mark.parametrize("char", ["\u202e", "\u2066", "\u200b", "\u200d", "\ufeff", "\u00ad"])
def test_emails_with_invisible_or_bidi_characters_are_refused(
    any_client: Client, char: str
) -> None:
    response = any_client.post(
        f"{API}/auth/register", json={"email": f"ann{char}@example.com", "password": PASSWORD}
    )
    assert_validation(response, "email")


def test_an_address_stored_before_case_folding_can_still_log_in(
    any_client: Client, shop: Shop, database_url: str
) -> None:
    """Stored emails were lower()-ed; ß lower-cases to itself but case-folds to ss."""
    user = shop.accounts.register(Registration(email="strasse@example.de", password=PASSWORD))
    database = open_database(database_url)
    try:
        with database.writer.begin() as conn:
            conn.execute(
                sa.update(users).where(users.c.id == user.id).values(email="straße@example.de")
            )
    finally:
        database.dispose()
    for typed in ("Straße@example.de", "straße@example.de"):
        response = any_client.post(f"{API}/auth/login", json={"email": typed, "password": PASSWORD})
        assert response.status_code == 200, (typed, response.text)


# --- headers ------------------------------------------------------------------------------------


@pytest.fixture
def limited_client(app_factory: Callable[..., Litestar]) -> Iterator[Client]:
    with TestClient(app_factory(rate_limit_anon="1/minute")) as client:
        wait_for_fresh_window()
        yield client


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("boom")


def test_every_answer_carries_nosniff(
    client: Client,
    customer: Account,
    staff: Account,
    sqlite_shop: Shop,
    limited_client: Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.server.test_cross_cutting import CASES

    make_product(sqlite_shop)
    responses = {name: case(client, customer, staff) for name, case in CASES.items()}
    responses["405"] = client.put(f"{API}/products")
    responses["415"] = client.post(
        f"{API}/auth/login", content=b"{}", headers={"Content-Type": "text/plain"}
    )
    responses["schema"] = client.get("/schema/openapi.json")
    assert limited_client.get(f"{API}/products").status_code == 200
    responses["429"] = limited_client.get(f"{API}/products")
    monkeypatch.setattr(sqlite_shop.catalog, "list", _boom)
    responses["500"] = client.get(f"{API}/products")
    for name, response in responses.items():
        if name.isdigit():
            assert response.status_code == int(name), (name, response.text)
        assert response.headers.get("X-Content-Type-Options") == "nosniff", (name, response)


def test_token_responses_are_not_stored(client: Client, customer: Account) -> None:
    login = client.post(
        f"{API}/auth/login", json={"email": customer.email, "password": customer.password}
    )
    assert login.status_code == 200
    assert login.headers["Cache-Control"] == "no-store"
    refresh = client.post(
        f"{API}/auth/refresh", json={"refresh_token": login.json()["refresh_token"]}
    )
    assert refresh.status_code == 200
    assert refresh.headers["Cache-Control"] == "no-store"
    assert "no-store" not in client.get(
        f"{API}/me", headers=bearer(login.json()["access_token"])
    ).headers.get("Cache-Control", "")


def test_the_schema_documents_the_security_headers(client: Client) -> None:
    paths = client.get("/schema/openapi.json").json()["paths"]
    for route in ("login", "refresh"):
        headers = paths[f"{API}/auth/{route}"]["post"]["responses"]["200"]["headers"]
        assert "no-store" in headers["Cache-Control"]["description"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            success = [
                spec for status, spec in operation["responses"].items() if status.startswith("2")
            ]
            assert success, (method, path)
            for spec in success:
                assert "X-Content-Type-Options" in spec.get("headers", {}), (method, path)
