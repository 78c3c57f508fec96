"""Catalog answers replayed by the edge (minicommerce_server/replay.py): the same bytes,
never a stale one after a write, and still limited, counted and given an id."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from minicommerce import NewProduct, ProductChanges, Registration, Shop
from minicommerce.catalog.cache import MemoryCatalogCache
from minicommerce.orders.models import PlaceOrder
from minicommerce_server.app import create_app
from minicommerce_server.replay import CatalogReplay
from tests.cached_shops import open_shop, redis_cache
from tests.conftest import ADDRESS
from tests.server.conftest import make_settings

LIST = "/api/v1/products?limit=2&sort=price_asc"


def replay_of(app: Litestar) -> CatalogReplay:
    replay = app.state["replay"]
    assert isinstance(replay, CatalogReplay)
    return replay


@pytest.fixture
def shop(database_url: str, media_dir: Path) -> Iterator[Shop]:
    with open_shop(database_url, media_dir, MemoryCatalogCache(300)) as shop:
        yield shop


def test_a_repeated_read_is_answered_with_the_same_bytes_without_the_route(shop: Shop) -> None:
    tea = shop.catalog.create(NewProduct(name="Tea", price=Decimal("3.10"), stock_quantity=4))
    shop.catalog.create(NewProduct(name="Mug", price=Decimal("9"), stock_quantity=1))
    app = create_app(make_settings(), shop=shop, configure_logs=False)
    replay = replay_of(app)
    with TestClient(app) as client:
        for path in (LIST, f"/api/v1/products/{tea.id}"):
            first = client.get(path)  # from the database: nothing kept
            second = client.get(path)  # from the cache: kept
            before = replay.replayed
            third = client.get(path)  # replayed
            assert replay.replayed == before + 1, path
            assert first.content == second.content == third.content
            for answer in (second, third):
                assert answer.headers["content-type"] == "application/json"
                assert answer.headers["x-content-type-options"] == "nosniff"
            assert third.headers.get("etag") == first.headers.get("etag")
            ids = {a.headers["x-request-id"] for a in (first, second, third)}
            assert len(ids) == 3  # each request its own id
            assert (
                client.get(path, headers={"X-Request-ID": "mine-1"}).headers["x-request-id"]
                == "mine-1"
            )
        metrics = client.get("/metrics").text
        # Replays are counted under their route, like any other answer.
        count = re.search(
            r'minicommerce_http_requests_total\{method="GET",route="/api/v1/products/'
            r'\{product_id\}",status="200"\} (\d+)',
            metrics,
        )
        assert count is not None
        assert int(count.group(1)) == 4
        stats = shop.catalog_cache.stats()
        assert stats.memory_hits >= 6  # replays are answers from what the cache holds


def test_no_write_leaves_a_stale_replay(shop: Shop) -> None:
    tea = shop.catalog.create(NewProduct(name="Tea", price=Decimal("3.10"), stock_quantity=2))
    mug = shop.catalog.create(NewProduct(name="Mug", price=Decimal("9"), stock_quantity=1))
    buyer = shop.accounts.register(
        Registration(email="buyer@example.com", password="a long enough password")
    )
    app = create_app(make_settings(), shop=shop, configure_logs=False)
    paths = (LIST, f"/api/v1/products/{tea.id}", "/api/v1/products?in_stock=true")

    def warm(client: TestClient[Litestar]) -> None:
        for path in paths:
            for _ in range(3):
                client.get(path)

    with TestClient(app) as client:
        warm(client)
        shop.catalog.update(tea.id, ProductChanges(price=Decimal("4.20")))
        assert client.get(f"/api/v1/products/{tea.id}").json()["price"] == "4.20"
        assert client.get(LIST).json()["items"][0]["price"] == "4.20"

        warm(client)
        shop.orders.place(
            buyer.id,
            PlaceOrder.model_validate(
                {"shipping_address": ADDRESS, "items": [{"product_id": mug.id, "quantity": 1}]}
            ),
        )
        listed = {p["id"]: p for p in client.get(LIST).json()["items"]}
        assert listed[mug.id]["stock_quantity"] == 0
        in_stock = [p["id"] for p in client.get("/api/v1/products?in_stock=true").json()["items"]]
        assert in_stock == [tea.id]  # sold out: gone from the in-stock page at once

        warm(client)
        shop.catalog.delete(tea.id)
        assert client.get(f"/api/v1/products/{tea.id}").status_code == 404
        assert [p["id"] for p in client.get(LIST).json()["items"]] == [mug.id]


def test_a_write_on_another_instance_ends_the_replays_here(
    database_url: str, media_dir: Path, redis_url: str
) -> None:
    with (
        open_shop(database_url, media_dir, redis_cache(redis_url)) as here,
        open_shop(database_url, media_dir, redis_cache(redis_url)) as there,
    ):
        tea = there.catalog.create(NewProduct(name="Tea", price=Decimal("3.10"), stock_quantity=2))
        app = create_app(make_settings(), shop=here, configure_logs=False)
        replay = replay_of(app)
        with TestClient(app) as client:
            detail = f"/api/v1/products/{tea.id}"
            for _ in range(3):
                client.get(detail)
                client.get(LIST)
            assert replay.replayed >= 2
            there.catalog.update(tea.id, ProductChanges(price=Decimal("5.55")))
            # Acknowledged there: not one more old answer here.
            assert client.get(detail).json()["price"] == "5.55"
            assert client.get(LIST).json()["items"][0]["price"] == "5.55"


def test_replays_are_rate_limited(shop: Shop) -> None:
    shop.catalog.create(NewProduct(name="Tea", price=Decimal("3.10"), stock_quantity=4))
    app = create_app(make_settings(rate_limit_anon="4/minute"), shop=shop, configure_logs=False)
    with TestClient(app) as client:
        statuses = [client.get(LIST).status_code for _ in range(6)]
    assert replay_of(app).replayed == 2  # the first two came from the database, the cache
    assert statuses == [200, 200, 200, 200, 429, 429]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/products?limit=0"),  # refused: 422
        ("GET", "/api/v1/products?cursor=not-a-cursor"),
        ("GET", "/api/v1/products/999999"),  # 404
        ("HEAD", "/api/v1/products?limit=2"),
        ("GET", "/health"),
        ("GET", "/api/v1/products?" + "q=tea&" * 200),  # a target too long to keep
    ],
)
def test_only_offered_answers_are_kept(shop: Shop, method: str, path: str) -> None:
    shop.catalog.create(NewProduct(name="Tea", price=Decimal("3.10"), stock_quantity=4))
    app = create_app(make_settings(), shop=shop, configure_logs=False)
    with TestClient(app) as client:
        answers = [client.request(method, path) for _ in range(3)]
    assert len(replay_of(app)) == 0
    assert replay_of(app).replayed == 0
    assert len({(a.status_code, a.content) for a in answers}) == 1


def test_kept_answers_are_bounded_by_their_size(shop: Shop) -> None:
    for n in range(3):
        shop.catalog.create(NewProduct(name=f"Tea {n}", price=Decimal("1"), stock_quantity=1))
    app = create_app(make_settings(), shop=shop, configure_logs=False)
    replay = replay_of(app)
    with TestClient(app) as client:
        sizes = []
        for limit in (1, 2, 3):
            client.get(f"/api/v1/products?limit={limit}")
            sizes.append(len(client.get(f"/api/v1/products?limit={limit}").content))
        assert len(replay) == 3
        replay.max_bytes = sizes[2] + sizes[1]
        client.get("/api/v1/products?limit=3")  # replayed: the most recently used now
        for _ in range(2):
            client.get("/api/v1/products")  # a fourth answer pushes the oldest ones out
        assert len(replay) <= 2
        assert replay.size <= replay.max_bytes


def test_without_a_cache_nothing_is_kept(database_url: str, media_dir: Path) -> None:
    with open_shop(database_url, media_dir) as shop:
        shop.catalog.create(NewProduct(name="Tea", price=Decimal("3.10"), stock_quantity=4))
        app = create_app(make_settings(), shop=shop, configure_logs=False)
        with TestClient(app) as client:
            for _ in range(3):
                assert client.get(LIST).status_code == 200
        assert app.state["replay"] is None


def test_cross_origin_requests_are_neither_kept_nor_replayed(shop: Shop) -> None:
    shop.catalog.create(NewProduct(name="Tea", price=Decimal("3.10"), stock_quantity=4))
    origins = "https://a.example,https://b.example"
    app = create_app(make_settings(cors_origins=origins), shop=shop, configure_logs=False)
    replay = replay_of(app)
    with TestClient(app) as client:
        for _ in range(3):
            client.get(LIST, headers={"Origin": "https://a.example"})
        assert len(replay) == 0
        for _ in range(3):
            plain = client.get(LIST)
        assert replay.replayed == 2  # the cache was filled: kept once, then replayed
        assert "access-control-allow-origin" not in plain.headers
        other = client.get(LIST, headers={"Origin": "https://b.example"})
        assert replay.replayed == 2
        assert other.headers["access-control-allow-origin"] == "https://b.example"
        assert other.content == plain.content
