"""The HTTP API over PostgreSQL through a real pgbouncer in transaction mode: sign-in,
the catalog, carts, orders (concurrent, never oversold) and the staff routes."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from litestar.testing import TestClient

from minicommerce import Registration, Shop
from minicommerce_server.app import create_app
from tests.conftest import ADDRESS, FAST_ARGON2, POSTGRES_URL, SECRET, _truncate_postgres
from tests.server.conftest import Client, make_settings
from tests.server.helpers import API


@pytest.fixture
def shop(pgbouncer_database_url: str) -> Iterator[Shop]:
    _truncate_postgres(
        POSTGRES_URL.rsplit("/", 1)[0] + "/" + pgbouncer_database_url.rsplit("/", 1)[1]
    )
    with Shop.open(
        pgbouncer_database_url, pgbouncer=True, secret_key=SECRET, argon2=FAST_ARGON2,
        migrate=False,
    ) as shop:  # fmt: skip
        yield shop


@pytest.fixture
def http(shop: Shop) -> Iterator[Client]:
    with TestClient(create_app(make_settings(), shop=shop, configure_logs=False)) as client:
        yield client


def sign_in(http: Client, shop: Shop, email: str, *, staff: bool = False) -> dict[str, str]:
    shop.accounts.register(Registration(email=email, password="x" * 12), is_staff=staff)
    response = http.post(f"{API}/auth/login", json={"email": email, "password": "x" * 12})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_a_shopping_session_through_pgbouncer(http: Client, shop: Shop) -> None:
    staff = sign_in(http, shop, "staff@example.com", staff=True)
    buyers = [sign_in(http, shop, f"buyer{n}@example.com") for n in range(12)]
    body = {"name": "Mug", "price": "9.50", "stock_quantity": 5}
    created = http.post(f"{API}/products", json=body, headers=staff)
    assert created.status_code == 201, created.text
    mug = created.json()
    for _ in range(10):  # past psycopg's prepare threshold
        assert http.get(f"{API}/products/{mug['id']}").status_code == 200
        assert (
            http.get(f"{API}/products", params={"q": "mug"}).json()["items"][0]["id"] == mug["id"]
        )
    cart = http.put(f"{API}/cart/items/{mug['id']}", json={"quantity": 1}, headers=buyers[0])
    assert cart.status_code == 200, cart.text

    def buy(headers: dict[str, str]) -> int:
        response = http.post(
            f"{API}/orders",
            json={"shipping_address": ADDRESS, "items": [{"product_id": mug["id"], "quantity": 1}]},
            headers=headers,
        )
        return response.status_code

    with ThreadPoolExecutor(6) as pool:
        statuses = sorted(pool.map(buy, buyers))
    assert statuses == [201] * 5 + [409] * 7  # five in stock: never oversold
    assert http.get(f"{API}/products/{mug['id']}").json()["stock_quantity"] == 0
    orders = http.get(f"{API}/admin/orders", headers=staff).json()["items"]
    assert len(orders) == 5
    assert http.get(f"{API}/admin/stats", headers=staff).json()["by_status"]["pending"] == 5
    assert http.get("/ready").status_code == 200
