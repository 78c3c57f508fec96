"""The threads sync route handlers run in: the app's own, as many as the database pool."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from litestar import Litestar
from litestar.testing import TestClient

from minicommerce import Shop
from minicommerce_server.offload import HandlerThreads, Offload
from tests.server.conftest import sign_up


def test_sync_handlers_run_in_the_apps_threads(
    app_factory: Callable[..., Litestar], sqlite_shop: Shop
) -> None:
    app = app_factory(db_pool_size=7)
    threads = app.state["handler_threads"]
    assert isinstance(threads, HandlerThreads)
    assert threads.workers == 7
    with TestClient(app) as client:
        assert threads.started == 0
        account = sign_up(client, sqlite_shop, "threads@example.com")  # login: a sync route
        assert client.get("/api/v1/orders", headers=account.headers).status_code == 200
        assert 1 <= threads.started <= 7


def test_catalog_reads_run_in_a_pool_of_their_own_sized_by_read_threads(
    app_factory: Callable[..., Litestar],
) -> None:
    app = app_factory(read_threads=3, catalog_cache_ttl=0)
    offload = app.state["offload"]
    assert isinstance(offload, Offload)
    assert offload.workers == 3
    handlers = app.state["handler_threads"]
    assert isinstance(handlers, HandlerThreads)
    assert handlers.workers == 20  # the database pool's size, not the reads'
    with TestClient(app) as client:
        assert offload.started == 0
        for _ in range(10):
            assert client.get("/api/v1/products").status_code == 200
        assert 1 <= offload.started <= 3
        assert handlers.started == 0  # the reads did not use the handlers' threads


def test_the_threads_are_the_loops_default_until_stopped() -> None:
    def name() -> str:
        return threading.current_thread().name

    async def run() -> tuple[str, str]:
        loop = asyncio.get_running_loop()
        threads = HandlerThreads(2)
        threads.start()
        during = await loop.run_in_executor(None, name)
        threads.stop()
        # The loop still runs blocking calls after the app stopped, in threads of its own.
        after = await loop.run_in_executor(None, name)
        return during, after

    during, after = asyncio.run(run())
    assert during.startswith("mc-handler")
    assert not after.startswith("mc-handler")
