"""Shops with a catalog cache, as the catalog-cache tests open them (SQLite or PostgreSQL,
images in a directory: ``conftest.open_shop``), and Redis caches whose subscriber holds
its lease."""

from __future__ import annotations

import time

from minicommerce.catalog.redis_cache import RedisCatalogCache
from tests.conftest import open_shop

__all__ = ["open_shop", "redis_cache", "wait_in_sync"]


def wait_in_sync(*caches: RedisCatalogCache) -> None:
    deadline = time.monotonic() + 10
    while not all(c.in_sync for c in caches):
        assert time.monotonic() < deadline, "the subscriber never got its lease"
        time.sleep(0.01)


def redis_cache(url: str) -> RedisCatalogCache:
    """A Redis catalog cache whose in-process layer may already be served."""
    made = RedisCatalogCache(url)
    wait_in_sync(made)
    return made
