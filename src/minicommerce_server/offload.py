"""Blocking core calls made from the event loop: in a thread, with a deadline.

The catalog reads are the hottest routes and take well under a millisecond, but a database
that stalls (a network partition, a server that stopped answering) would hold any call made
on the event loop, and with it every request of the worker, ``/health`` included. They run
in this pool instead, which costs less than Litestar's generic hand-off (docs/benchmarks.md),
and are abandoned after a deadline with a 503: the thread is left to finish or fail on its
own, and the request does not wait for it.

The pool is small (``MINICOMMERCE_READ_THREADS``, 4): a read holds its thread for a round
trip or two, so a few threads keep a worker's reads flowing, and every thread more is one
more to hand the GIL to. With 20 (the database pool's size, as it was) two workers served
an uncached list at 2,663-2,793 requests/s and a detail at 4,335-4,393; with 4, at
3,203-3,413 and 5,117-5,566, for 9-15 % less CPU per request (docs/benchmarks.md). Raise
it when the database is far away: a thread waits out each round trip.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from litestar import Request

from minicommerce.errors import ServiceUnavailable

P = ParamSpec("P")
T = TypeVar("T")

RETRY_AFTER_S = 5


class Offload:
    def __init__(self, *, workers: int, deadline: float) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mc-db")
        self.workers = workers
        self.deadline = deadline

    @property
    def started(self) -> int:
        """How many threads run (they start as the reads need them)."""
        return len(self._executor._threads)

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, lambda: fn(*args, **kwargs))
        try:
            async with asyncio.timeout(self.deadline):
                return await future
        except TimeoutError:
            raise ServiceUnavailable(
                f"The database did not answer in time; retry in {RETRY_AFTER_S} seconds.",
                retry_after=RETRY_AFTER_S,
            ) from None

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class HandlerThreads:
    """The threads the sync route handlers run in (Litestar's ``sync_to_thread``, which uses
    the event loop's default executor), ``workers`` of them.

    asyncio's default is ``min(32, cores + 4)``: 6 threads on 2 cores. A write handler holds
    its thread after the commit while the catalog cache's invalidation is acknowledged by
    every process (``minicommerce.catalog.redis_cache``): with 6, at most 6 orders of a
    worker were in flight, which capped its orders per second at 6 / the wait, and at most
    6 writers shared one invalidation round. Sized like the database pool, a thread per
    connection, orders/s with Redis on rose by 16-46 % in four pairs (docs/benchmarks.md).
    """

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mc-handler")

    @property
    def workers(self) -> int:
        return self._workers

    @property
    def started(self) -> int:
        """How many threads run (they start as the handlers need them)."""
        return len(self._executor._threads)

    def start(self) -> None:
        """Make them the running loop's default executor (call on the loop, at startup)."""
        asyncio.get_running_loop().set_default_executor(self._executor)

    def stop(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        # The loop may serve something else after this app: leave it a default executor
        # that works (asyncio's own, which starts no thread until asked).
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor())


def offload_of(request: Request[Any, Any, Any]) -> Offload:
    offload = request.app.state["offload"]
    assert isinstance(offload, Offload)
    return offload
