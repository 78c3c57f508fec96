"""Read replicas over HTTP, against a real streaming replica (``tests/pgservers.py``): an
order placed is found at once by its owner, a product a staff member changed is seen in
their next read, and anonymous catalog reads run on the replica."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from minicommerce import Registration, Shop
from minicommerce_server.app import create_app
from tests.conftest import ADDRESS, FAST_ARGON2, PRIMARY_PORT, SECRET, _truncate_postgres
from tests.pgservers import ReplicatedCluster, caught_up, replay_paused
from tests.server.conftest import Client, make_settings
from tests.server.helpers import API

PRIMARY = f"postgresql://postgres@127.0.0.1:{PRIMARY_PORT}/shop"


@pytest.fixture
def replica_url(replicated_cluster: ReplicatedCluster) -> str:
    _truncate_postgres(PRIMARY)
    return replicated_cluster.replica.url("shop")


@pytest.fixture
def shop(replica_url: str) -> Iterator[Shop]:
    with Shop.open(
        PRIMARY,
        replica_urls=[replica_url],
        replica_max_lag=60,
        secret_key=SECRET,
        argon2=FAST_ARGON2,
        migrate=False,
    ) as shop:
        caught_up(shop, PRIMARY, replica_url)
        yield shop


@pytest.fixture
def http(shop: Shop) -> Iterator[Client]:
    app = create_app(make_settings(), shop=shop, configure_logs=False)
    with TestClient(app) as client:
        yield client


def sign_in(http: Client, shop: Shop, email: str, *, staff: bool = False) -> dict[str, str]:
    shop.accounts.register(Registration(email=email, password="x" * 12), is_staff=staff)
    response = http.post(f"{API}/auth/login", json={"email": email, "password": "x" * 12})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_own_writes_are_read_back_and_anonymous_reads_use_the_replica(
    http: Client, shop: Shop, replica_url: str
) -> None:
    staff = sign_in(http, shop, "staff@example.com", staff=True)
    buyer = sign_in(http, shop, "buyer@example.com")
    body = {"name": "Mug", "price": "9.50", "stock_quantity": 10}
    mug = http.post(f"{API}/products", json=body, headers=staff).json()
    caught_up(shop, PRIMARY, replica_url)
    with replay_paused(replica_url):
        changed = http.patch(f"{API}/products/{mug['id']}", json={"price": "11.00"},
                             headers=staff)  # fmt: skip
        assert changed.status_code == 200, changed.text
        placed = http.post(
            f"{API}/orders",
            json={"shipping_address": ADDRESS, "items": [{"product_id": mug["id"], "quantity": 2}]},
            headers=buyer,
        )
        assert placed.status_code == 201, placed.text
        order = placed.json()
        # The staff member's dashboard read and the buyer's order reads see their writes.
        assert http.get(f"{API}/products/{mug['id']}", headers=staff).json()["price"] == "11.00"
        assert http.get(f"{API}/orders/{order['id']}", headers=buyer).json() == order
        listed = http.get(f"{API}/orders", headers=buyer).json()["items"]
        assert [o["id"] for o in listed] == [order["id"]]
        assert http.get(f"{API}/products/{mug['id']}", headers=buyer).json()["stock_quantity"] == 8
        # An anonymous reader is served by the replica, which has neither write yet.
        anonymous = http.get(f"{API}/products/{mug['id']}").json()
        assert (anonymous["price"], anonymous["stock_quantity"]) == ("9.50", 10)
        assert http.get(f"{API}/products").json()["items"][0]["price"] == "9.50"
    caught_up(shop, PRIMARY, replica_url)
    assert http.get(f"{API}/products/{mug['id']}").json()["price"] == "11.00"


def test_orders_placed_and_read_at_once_are_always_found(
    http: Client, shop: Shop, replica_url: str
) -> None:
    buyer = sign_in(http, shop, "buyer@example.com")
    staff = sign_in(http, shop, "staff@example.com", staff=True)
    body = {"name": "Mug", "price": "9.50", "stock_quantity": 1000}
    mug = http.post(f"{API}/products", json=body, headers=staff).json()
    for _ in range(30):  # the replica streams: each read races the replay
        placed = http.post(
            f"{API}/orders",
            json={"shipping_address": ADDRESS, "items": [{"product_id": mug["id"], "quantity": 1}]},
            headers=buyer,
        )
        assert placed.status_code == 201, placed.text
        order_id = placed.json()["id"]
        assert http.get(f"{API}/orders/{order_id}", headers=buyer).status_code == 200
        assert http.get(f"{API}/orders", headers=buyer).json()["items"][0]["id"] == order_id
