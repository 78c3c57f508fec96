"""HTTP: /orders (the caller's own) and /admin/orders (staff)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from litestar.testing import TestClient

from minicommerce import LineQuantity, ProductChanges, Shop
from minicommerce_server.app import create_app
from tests.conftest import ADDRESS, FAST_ARGON2, SECRET
from tests.server.conftest import Account, Client, make_settings, sign_up
from tests.server.helpers import (
    API,
    assert_problem,
    assert_timestamp,
    assert_validation,
    make_product,
)

ORDERS = f"{API}/orders"
ADMIN = f"{API}/admin/orders"
ORDER_FIELDS = {
    "id", "status", "items", "total_amount", "currency", "shipping_address", "created_at",
    "updated_at",
}  # fmt: skip


def place(client: Client, who: Account, items: list[dict[str, int]] | None = None,
          key: str | None = None) -> Any:  # fmt: skip
    body: dict[str, Any] = {"shipping_address": ADDRESS}
    if items is not None:
        body["items"] = items
    headers = {**who.headers, **({"Idempotency-Key": key} if key else {})}
    return client.post(ORDERS, json=body, headers=headers)


def test_place_an_order(client: Client, customer: Account, sqlite_shop: Shop) -> None:
    mug = make_product(sqlite_shop, "Mug", "9.50", stock=5, sku="MUG")
    response = place(client, customer, [{"product_id": mug.id, "quantity": 2}])
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == ORDER_FIELDS
    assert body["status"] == "pending"
    assert body["items"] == [
        {"product_id": mug.id, "sku": "MUG", "name": "Mug", "quantity": 2,
         "unit_price": "9.50", "line_total": "19.00"},
    ]  # fmt: skip
    assert (body["total_amount"], body["currency"]) == ("19.00", "USD")
    assert body["shipping_address"]["city"] == "London"
    assert_timestamp(body["created_at"])
    assert sqlite_shop.catalog.get(mug.id).stock_quantity == 3
    assert client.get(f"{ORDERS}/{body['id']}", headers=customer.headers).json() == body
    assert "minicommerce_orders_placed_total 1" in client.get("/metrics").text


def test_checkout_the_cart(client: Client, customer: Account, sqlite_shop: Shop) -> None:
    mug = make_product(sqlite_shop)
    sqlite_shop.carts.set_quantity(customer.id, mug.id, LineQuantity(quantity=2))
    assert place(client, customer).status_code == 201
    assert client.get(f"{API}/cart", headers=customer.headers).json()["items"] == []
    assert_problem(place(client, customer), 422, "empty_cart")


def test_insufficient_stock_names_the_products(
    client: Client, customer: Account, sqlite_shop: Shop
) -> None:
    plenty, rare = make_product(sqlite_shop, stock=9), make_product(sqlite_shop, "Rare", stock=1)
    response = place(client, customer, [{"product_id": plenty.id, "quantity": 1},
                                        {"product_id": rare.id, "quantity": 2}])  # fmt: skip
    body = assert_problem(response, 409, "insufficient_stock")
    assert [str(rare.id) in e["field"] for e in body["errors"]] == [True]
    assert sqlite_shop.catalog.get(plenty.id).stock_quantity == 9


def test_unknown_product_is_404(client: Client, customer: Account) -> None:
    assert_problem(place(client, customer, [{"product_id": 424242, "quantity": 1}]), 404,
                   "not_found")  # fmt: skip


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"items": []}, ["items"]),
        ({"items": [{"product_id": 1, "quantity": 0}]}, ["items.0.quantity"]),
        ({"items": [{"product_id": 1, "quantity": 1, "unit_price": "0.01"}]},
         ["items.0.unit_price"]),
        ({"shipping_address": {**ADDRESS, "country": "Germany"}}, ["shipping_address.country"]),
        ({"shipping_address": {**ADDRESS, "line1": "x" * 201}}, ["shipping_address.line1"]),
        ({"user_id": 1}, ["user_id"]),
        ({"status": "paid"}, ["status"]),
    ],
)  # fmt: skip
def test_bad_order_bodies_are_422(
    client: Client, customer: Account, change: dict[str, Any], fields: list[str]
) -> None:
    body = {"shipping_address": ADDRESS, "items": [{"product_id": 1, "quantity": 1}], **change}
    assert_validation(client.post(ORDERS, json=body, headers=customer.headers), *fields)


def test_an_order_total_beyond_what_storage_holds_is_422(
    client: Client, customer: Account, sqlite_shop: Shop
) -> None:
    gold = make_product(sqlite_shop, "Gold bar", "99999999.99", stock=1000)
    response = place(client, customer, [{"product_id": gold.id, "quantity": 101}])
    body = assert_validation(response, "items")
    assert "above the maximum 9999999999.99" in body["errors"][0]["message"]
    assert sqlite_shop.catalog.get(gold.id).stock_quantity == 1000
    assert place(client, customer, [{"product_id": gold.id, "quantity": 100}]).status_code == 201


def test_idempotency_key(client: Client, customer: Account, sqlite_shop: Shop) -> None:
    mug = make_product(sqlite_shop, stock=10)
    items = [{"product_id": mug.id, "quantity": 2}]
    first = place(client, customer, items, key="abc")
    again = place(client, customer, items, key="abc")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert sqlite_shop.catalog.get(mug.id).stock_quantity == 8
    reused = place(client, customer, [{"product_id": mug.id, "quantity": 1}], key="abc")
    assert_problem(reused, 422, "idempotency_key_reused")
    assert_validation(place(client, customer, items, key="k" * 256), "Idempotency-Key")


def test_a_replay_after_a_cancel_answers_as_first_answered(
    client: Client, customer: Account, sqlite_shop: Shop
) -> None:
    mug = make_product(sqlite_shop, stock=10)
    items = [{"product_id": mug.id, "quantity": 2}]
    first = place(client, customer, items, key="then")
    cancelled = client.post(f"{ORDERS}/{first.json()['id']}/cancel", headers=customer.headers)
    assert cancelled.json()["status"] == "cancelled"
    sqlite_shop.catalog.update(mug.id, ProductChanges(name="Renamed", price="1.00"))
    again = place(client, customer, items, key="then")
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.json()["status"] == "pending"
    assert sqlite_shop.catalog.get(mug.id).stock_quantity == 10  # nothing taken again


def test_history_is_private_and_paginated(
    client: Client, signup: Callable[..., Account], sqlite_shop: Shop
) -> None:
    ann, bob = signup(), signup()
    mug = make_product(sqlite_shop, stock=10)
    ids = [
        place(client, ann, [{"product_id": mug.id, "quantity": 1}]).json()["id"] for _ in range(3)
    ]
    page = client.get(ORDERS, params={"limit": 2}, headers=ann.headers).json()
    assert [o["id"] for o in page["items"]] == ids[::-1][:2]
    rest = client.get(ORDERS, params={"cursor": page["next_cursor"]}, headers=ann.headers).json()
    assert ([o["id"] for o in rest["items"]], rest["next_cursor"]) == ([ids[0]], None)
    assert client.get(ORDERS, headers=bob.headers).json()["items"] == []
    assert_problem(client.get(f"{ORDERS}/{ids[0]}", headers=bob.headers), 404, "not_found")
    assert_problem(client.post(f"{ORDERS}/{ids[0]}/cancel", headers=bob.headers), 404, "not_found")


def test_cancel(client: Client, customer: Account, staff: Account, sqlite_shop: Shop) -> None:
    mug = make_product(sqlite_shop, stock=10)
    order = place(client, customer, [{"product_id": mug.id, "quantity": 4}]).json()
    response = client.post(f"{ORDERS}/{order['id']}/cancel", headers=customer.headers)
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert sqlite_shop.catalog.get(mug.id).stock_quantity == 10
    again = client.post(f"{ORDERS}/{order['id']}/cancel", headers=customer.headers)
    assert_problem(again, 409, "invalid_transition")
    paid = place(client, customer, [{"product_id": mug.id, "quantity": 1}]).json()
    client.patch(f"{ADMIN}/{paid['id']}", json={"status": "paid"}, headers=staff.headers)
    assert_problem(client.post(f"{ORDERS}/{paid['id']}/cancel", headers=customer.headers), 409,
                   "invalid_transition")  # fmt: skip


def test_admin_orders(
    client: Client, signup: Callable[..., Account], staff: Account, sqlite_shop: Shop
) -> None:
    ann, bob = signup(), signup()
    mug = make_product(sqlite_shop, stock=10)
    a = place(client, ann, [{"product_id": mug.id, "quantity": 1}]).json()
    b = place(client, bob, [{"product_id": mug.id, "quantity": 1}]).json()
    page = client.get(ADMIN, headers=staff.headers).json()
    assert [o["id"] for o in page["items"]] == [b["id"], a["id"]]
    assert page["items"][0]["user"] == {
        "id": bob.id, "email": bob.email, "first_name": "", "last_name": ""
    }  # fmt: skip
    by_user = client.get(ADMIN, params={"user_id": ann.id}, headers=staff.headers).json()
    assert [o["id"] for o in by_user["items"]] == [a["id"]]
    moved = client.patch(f"{ADMIN}/{a['id']}", json={"status": "paid"}, headers=staff.headers)
    assert (moved.status_code, moved.json()["status"]) == (200, "paid")
    paid = client.get(ADMIN, params={"status": "paid"}, headers=staff.headers).json()
    assert [o["id"] for o in paid["items"]] == [a["id"]]
    assert client.get(f"{ADMIN}/{a['id']}", headers=staff.headers).json()["user"]["id"] == ann.id
    bad = client.patch(f"{ADMIN}/{a['id']}", json={"status": "pending"}, headers=staff.headers)
    assert_problem(bad, 409, "invalid_transition")
    assert_validation(client.patch(f"{ADMIN}/{a['id']}", json={"status": "lost"},
                                   headers=staff.headers), "status")  # fmt: skip
    assert_validation(client.get(ADMIN, params={"status": "lost"}, headers=staff.headers), "status")
    assert_problem(client.get(f"{ADMIN}/424242", headers=staff.headers), 404, "not_found")
    assert_problem(client.get(ADMIN, headers=ann.headers), 403, "permission_denied")
    assert_problem(client.get(ADMIN), 401, "unauthenticated")


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", ORDERS), ("GET", ORDERS), ("GET", f"{ORDERS}/1"), ("POST", f"{ORDERS}/1/cancel")],
)
def test_order_routes_need_a_user(client: Client, method: str, path: str) -> None:
    assert_problem(client.request(method, path), 401, "unauthenticated")


def test_the_token_is_checked_before_the_body(client: Client) -> None:
    """The caller is provided from the edge's token check, before the body is read: no
    token, or a bad one, is a 401 whatever the body (security.Caller)."""
    assert_problem(client.post(ORDERS, json={"bad": 1}), 401, "unauthenticated")
    forged = {"Authorization": "Bearer not-a-token"}
    assert_problem(client.post(ORDERS, json={"bad": 1}, headers=forged), 401, "invalid_token")


def test_an_ended_session_orders_nothing_and_learns_nothing(database_url: str) -> None:
    """On each backend (on PostgreSQL the statement that records the order checks the
    session itself): once the session ended, every order request is a 401, whatever it
    asks, and nothing is placed."""
    with Shop.open(database_url, secret_key=SECRET, argon2=FAST_ARGON2, migrate=False) as shop:
        app = create_app(make_settings(), shop=shop, configure_logs=False)
        with TestClient(app) as client:
            mug = make_product(shop, "Mug", "9.50", stock=5)
            who = sign_up(client, shop, "ended@example.com")
            line = [{"product_id": mug.id, "quantity": 1}]
            assert place(client, who, line, key="k1").status_code == 201
            logout = client.post(f"{API}/auth/logout", json={"refresh_token": who.refresh_token})
            assert logout.status_code == 204
            for items, key in [
                (line, None),  # would be placed
                (line, "k1"),  # a replay
                ([{"product_id": mug.id, "quantity": 2}], "k1"),  # the key with another body
                ([{"product_id": mug.id, "quantity": 99}], None),  # not enough stock
                ([{"product_id": mug.id + 100, "quantity": 1}], None),  # no such product
                (line, "\x01"),  # an invalid key
                (None, None),  # an empty cart
            ]:
                assert_problem(place(client, who, items, key=key), 401, "invalid_token")
        assert shop.catalog.get(mug.id).stock_quantity == 4
