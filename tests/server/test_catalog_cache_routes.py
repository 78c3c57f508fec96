"""The catalog routes over a cached shop: the same bytes as uncached, and counted."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from litestar.testing import TestClient

from minicommerce import NewProduct, ProductChanges
from minicommerce.catalog.cache import CatalogCache, MemoryCatalogCache
from minicommerce.catalog.redis_cache import RedisCatalogCache
from minicommerce_server.app import create_app
from tests.cached_shops import open_shop, redis_cache
from tests.images import photo, transparent_png
from tests.server.conftest import make_settings

PATHS = (
    "/api/v1/products",
    "/api/v1/products?limit=2",
    "/api/v1/products?in_stock=true&sort=price_desc",
    "/api/v1/products?in_stock=false",
    "/api/v1/products?q=tea&min_price=1.5",
)


@pytest.fixture(params=["memory", "redis"])
def cache(request: pytest.FixtureRequest) -> Iterator[CatalogCache]:
    if request.param == "memory":
        yield MemoryCatalogCache(300)
        return
    yield redis_cache(request.getfixturevalue("redis_url"))


def test_a_cached_response_is_byte_identical_to_an_uncached_one(
    database_url: str, media_dir: Path, cache: CatalogCache
) -> None:
    with (
        open_shop(database_url, media_dir, cache) as cached_shop,
        open_shop(database_url, media_dir) as plain_shop,
    ):
        tea = plain_shop.catalog.create(
            NewProduct(name="Green tea", price=Decimal("3.10"), stock_quantity=4,
                       sku="TEA-1", description="Line one\nline «two»")
        )  # fmt: skip
        plain_shop.catalog.add_image(tea.id, photo(80, 60), "a cup")
        plain_shop.catalog.add_image(tea.id, transparent_png(40, 30), "")
        plain_shop.catalog.create(NewProduct(name="Mug", price=Decimal("9"), stock_quantity=0))
        plain_shop.catalog.create(
            NewProduct(name="Black tea", price=Decimal("1.50"), stock_quantity=1)
        )
        settings = make_settings()
        with (
            TestClient(create_app(settings, shop=cached_shop, configure_logs=False)) as cached,
            TestClient(create_app(settings, shop=plain_shop, configure_logs=False)) as plain,
        ):
            for path in (*PATHS, f"/api/v1/products/{tea.id}"):
                expected = plain.get(path)
                assert expected.status_code == 200
                for _ in range(3):  # a miss, then hits
                    answer = cached.get(path)
                    assert answer.content == expected.content, path
                    assert answer.headers.get("etag") == expected.headers.get("etag")
                if isinstance(cache, RedisCatalogCache):
                    # This process forgets: the next answer is decoded from Redis.
                    redis_hits = cache.stats().redis_hits
                    cache.local.clear()
                    assert cached.get(path).content == expected.content, path
                    assert cache.stats().redis_hits == redis_hits + 1
            stats = cache.stats()
            assert stats.memory_hits + stats.redis_hits >= 2 * (len(PATHS) + 1)
            if isinstance(cache, RedisCatalogCache):  # a write of its own: one invalidation
                cached_shop.catalog.update(tea.id, ProductChanges(description="Loose leaf"))
                assert cache.stats().invalidations == stats.invalidations + 1
            metrics = cached.get("/metrics").text
            hits = re.search(r'minicommerce_catalog_cache_hits_total\{layer="memory"\} (\d+)',
                             metrics)  # fmt: skip
            assert hits is not None
            assert int(hits.group(1)) == cache.stats().memory_hits
            assert "minicommerce_catalog_cache_misses_total" in metrics
            assert "minicommerce_catalog_cache_errors_total 0" in metrics
            waits = re.search(r"minicommerce_catalog_invalidations_total (\d+)", metrics)
            assert waits is not None
            assert int(waits.group(1)) == cache.stats().invalidations
            assert int(waits.group(1)) == (1 if isinstance(cache, RedisCatalogCache) else 0)
            assert "minicommerce_catalog_invalidation_wait_seconds_total " in metrics
            assert "minicommerce_catalog_lease_expiries_total 0" in metrics
