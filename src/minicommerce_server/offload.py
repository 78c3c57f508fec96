"""Blocking core calls made from the event loop: in a thread, with a deadline.

The catalog reads are the hottest routes and take well under a millisecond, but a database
that stalls (a network partition, a server that stopped answering) would hold any call made
on the event loop, and with it every request of the worker, ``/health`` included. They run
in this pool instead, which costs less than Litestar's generic hand-off (docs/benchmarks.md),
and are abandoned after a deadline with a 503: the thread is left to finish or fail on its
own, and the request does not wait for it.
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
        self.deadline = deadline

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


def offload_of(request: Request[Any, Any, Any]) -> Offload:
    offload = request.app.state["offload"]
    assert isinstance(offload, Offload)
    return offload
