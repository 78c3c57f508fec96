"""Shops with a catalog cache, as the catalog-cache tests open them (SQLite or PostgreSQL,
images in a directory), and Redis caches whose subscriber holds its lease."""

from __future__ import annotations

import time
from pathlib import Path

from minicommerce import DirectoryMediaStorage, Shop
from minicommerce.catalog.cache import CatalogCache
from minicommerce.catalog.redis_cache import RedisCatalogCache
from tests.conftest import FAST_ARGON2, SECRET


def open_shop(url: str, media: Path, cache: CatalogCache | None = None) -> Shop:
    return Shop.open(
        url,
        secret_key=SECRET,
        argon2=FAST_ARGON2,
        migrate=False,
        media=DirectoryMediaStorage(media),
        catalog_cache=cache,
    )


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
