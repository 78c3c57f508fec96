"""HTTP: /cart, the caller's own cart."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from litestar.testing import TestClient

from minicommerce import Shop
from minicommerce_server.app import create_app
from tests.conftest import FAST_ARGON2, SECRET
from tests.server.conftest import Account, Client, make_settings, sign_up
from tests.server.helpers import API, assert_problem, assert_validation, make_product

CART = f"{API}/cart"


def item(product_id: int) -> str:
    return f"{CART}/items/{product_id}"


def test_empty_cart_shape(client: Client, customer: Account) -> None:
    response = client.get(CART, headers=customer.headers)
    assert response.status_code == 200
    assert response.json() == {"items": [], "total": "0.00", "currency": "USD", "item_count": 0}


def test_put_sets_and_replaces_quantities(
    client: Client, customer: Account, sqlite_shop: Shop
) -> None:
    mug = make_product(sqlite_shop, "Mug", "9.50", stock=10, sku="MUG")
    tote = make_product(sqlite_shop, "Tote", "15.00", stock=10)
    response = client.put(item(mug.id), json={"quantity": 2}, headers=customer.headers)
    assert response.status_code == 200
    client.put(item(tote.id), json={"quantity": 1}, headers=customer.headers)
    body = client.put(item(mug.id), json={"quantity": 3}, headers=customer.headers).json()
    assert body["items"] == [
        {
            "product_id": mug.id,
            "sku": "MUG",
            "name": "Mug",
            "unit_price": "9.50",
            "quantity": 3,
            "line_total": "28.50",
        },
        {
            "product_id": tote.id,
            "sku": None,
            "name": "Tote",
            "unit_price": "15.00",
            "quantity": 1,
            "line_total": "15.00",
        },
    ]
    assert (body["total"], body["currency"], body["item_count"]) == ("43.50", "USD", 4)
    assert client.get(CART, headers=customer.headers).json() == body


def test_quantity_zero_and_delete_remove_lines(
    client: Client, customer: Account, sqlite_shop: Shop
) -> None:
    mug = make_product(sqlite_shop)
    tote = make_product(sqlite_shop, "Tote")
    client.put(item(mug.id), json={"quantity": 2}, headers=customer.headers)
    client.put(item(tote.id), json={"quantity": 2}, headers=customer.headers)
    body = client.put(item(mug.id), json={"quantity": 0}, headers=customer.headers).json()
    assert [i["product_id"] for i in body["items"]] == [tote.id]
    response = client.delete(item(tote.id), headers=customer.headers)
    assert response.status_code == 200
    assert response.json()["items"] == []
    assert client.delete(item(tote.id), headers=customer.headers).status_code == 200


def test_delete_cart_empties_it(client: Client, customer: Account, sqlite_shop: Shop) -> None:
    mug = make_product(sqlite_shop)
    client.put(item(mug.id), json={"quantity": 2}, headers=customer.headers)
    response = client.delete(CART, headers=customer.headers)
    assert response.status_code == 204
    assert response.content == b""
    assert client.get(CART, headers=customer.headers).json()["items"] == []


def test_unknown_and_deleted_products_are_404(
    client: Client, customer: Account, staff: Account, sqlite_shop: Shop
) -> None:
    assert_problem(
        client.put(item(424242), json={"quantity": 1}, headers=customer.headers), 404, "not_found"
    )
    mug = make_product(sqlite_shop)
    client.put(item(mug.id), json={"quantity": 1}, headers=customer.headers)
    assert client.delete(f"{API}/products/{mug.id}", headers=staff.headers).status_code == 204
    assert client.get(CART, headers=customer.headers).json()["items"] == []
    assert_problem(
        client.put(item(mug.id), json={"quantity": 1}, headers=customer.headers), 404, "not_found"
    )


def test_more_than_stock_is_insufficient_stock(
    client: Client, customer: Account, sqlite_shop: Shop
) -> None:
    mug = make_product(sqlite_shop, stock=3)
    response = client.put(item(mug.id), json={"quantity": 4}, headers=customer.headers)
    body = assert_problem(response, 409, "insufficient_stock")
    assert len(body["errors"]) == 1
    assert str(mug.id) in body["errors"][0]["field"]
    assert client.get(CART, headers=customer.headers).json()["items"] == []


def test_a_new_line_in_a_full_cart_is_422(
    client: Client, customer: Account, sqlite_shop: Shop
) -> None:
    products = [make_product(sqlite_shop, f"P{n}", "1.00", stock=5) for n in range(101)]
    for product in products[:100]:
        assert client.put(item(product.id), json={"quantity": 1},
                          headers=customer.headers).status_code == 200  # fmt: skip
    response = client.put(item(products[-1].id), json={"quantity": 1}, headers=customer.headers)
    body = assert_validation(response, "product_id")
    assert "at most 100 products" in body["detail"]
    assert len(client.get(CART, headers=customer.headers).json()["items"]) == 100


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({"quantity": -1}, ["quantity"]),
        ({"quantity": 1001}, ["quantity"]),
        ({"quantity": "2"}, ["quantity"]),
        ({"quantity": 1.5}, ["quantity"]),
        ({}, ["quantity"]),
        ({"quantity": 1, "price": "0.01"}, ["price"]),
        ({"quantity": 1, "user_id": 1}, ["user_id"]),
    ],
)
def test_bad_bodies_are_422(
    client: Client,
    customer: Account,
    sqlite_shop: Shop,
    payload: dict[str, object],
    fields: list[str],
) -> None:
    mug = make_product(sqlite_shop)
    assert_validation(client.put(item(mug.id), json=payload, headers=customer.headers), *fields)


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", CART), ("PUT", f"{CART}/items/1"), ("DELETE", f"{CART}/items/1"), ("DELETE", CART)],
)
def test_every_cart_route_needs_a_user(client: Client, method: str, path: str) -> None:
    response = client.request(method, path, json={"quantity": 1} if method == "PUT" else None)
    assert_problem(response, 401, "unauthenticated")


def test_carts_are_private(
    client: Client, signup: Callable[..., Account], sqlite_shop: Shop
) -> None:
    ann, bob = signup(), signup()
    mug = make_product(sqlite_shop)
    client.put(item(mug.id), json={"quantity": 2}, headers=ann.headers)
    assert client.get(CART, headers=bob.headers).json()["items"] == []
    assert client.delete(CART, headers=bob.headers).status_code == 204
    assert client.get(CART, headers=ann.headers).json()["item_count"] == 2


def test_cart_routes_are_in_the_schema(client: Client) -> None:
    paths = client.get("/schema/openapi.json").json()["paths"]
    assert set(paths[CART]) >= {"get", "delete"}
    put = paths[f"{CART}/items/{{product_id}}"]["put"]
    assert {"200", "401", "404", "409", "422"} <= set(put["responses"])


def test_an_ended_session_neither_sees_nor_changes_its_cart(database_url: str) -> None:
    """On each backend (on PostgreSQL the cart's read or write checks the session itself):
    once the session ended, every cart request is a 401, whatever it asks, and the cart is
    as it was."""
    with Shop.open(database_url, secret_key=SECRET, argon2=FAST_ARGON2, migrate=False) as shop:
        app = create_app(make_settings(), shop=shop, configure_logs=False)
        with TestClient(app) as client:
            mug = make_product(shop, "Mug", "9.50", stock=5)
            who = sign_up(client, shop, "ended@example.com")
            headers = who.headers
            assert client.put(item(mug.id), json={"quantity": 2}, headers=headers).is_success
            logout = client.post(f"{API}/auth/logout", json={"refresh_token": who.refresh_token})
            assert logout.status_code == 204
            assert_problem(client.get(CART, headers=headers), 401, "invalid_token")
            for product_id, quantity in [
                (mug.id, 3),  # would be set
                (mug.id, 99),  # more than the stock
                (mug.id + 100, 1),  # no such product
                (mug.id, 0),  # a removal
            ]:
                response = client.put(
                    item(product_id), json={"quantity": quantity}, headers=headers
                )
                assert_problem(response, 401, "invalid_token")
            assert_problem(client.delete(item(mug.id), headers=headers), 401, "invalid_token")
            assert_problem(client.delete(CART, headers=headers), 401, "invalid_token")
        assert [(line.product_id, line.quantity) for line in shop.carts.view(who.id).items] == [
            (mug.id, 2)
        ]
