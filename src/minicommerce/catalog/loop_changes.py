"""``CatalogCache.changed`` for callers on an event loop, told together.

A shared cache's ``changed`` blocks until every process of the fleet has dropped what the
change touches (``redis_cache.py``). A cache that can wait on the loop itself
(``LoopCatalogCache``: the Redis cache's ``changed_async``) is awaited there, with no
thread; any other is run in the loop's default executor, a hand-off to a thread and back.
Either way the callers of one loop share the calls: while one call is out, the changes of
those who come meanwhile are merged into the next, which starts when the one out has
returned (a group commit, as the Redis cache does across a process's threads). Each caller
returns only after a call holding its change, started after it came, has returned: what
``changed`` promises its caller holds for each of them. Under load, one call serves many
orders.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from minicommerce.catalog.cache import CatalogCache, CatalogChange


@runtime_checkable
class LoopCatalogCache(Protocol):
    """A catalog cache whose ``changed`` can be awaited on an event loop, without a thread."""

    async def changed_async(self, change: CatalogChange) -> None: ...


@dataclass(slots=True)
class _Round:
    change: CatalogChange
    told: asyncio.Future[None]


@dataclass(slots=True)
class _LoopState:
    out: bool = False
    next: _Round | None = None
    rounds: int = 0


class LoopChanges:
    """Tells ``cache`` of changes made by callers on event loops (module docstring)."""

    def __init__(self, cache: CatalogCache) -> None:
        self._cache = cache
        self._on_loop: Callable[[CatalogChange], Awaitable[None]] | None = (
            cache.changed_async if isinstance(cache, LoopCatalogCache) else None
        )
        self._loops: dict[asyncio.AbstractEventLoop, _LoopState] = {}

    async def changed(self, change: CatalogChange) -> None:
        """``cache.changed(change)``, awaited: merged with the changes of this loop's
        callers that come while an earlier call is out."""
        loop = asyncio.get_running_loop()
        state = self._loops.get(loop)
        if state is None:
            for ended in [other for other in self._loops if other.is_closed()]:
                del self._loops[ended]
            state = self._loops[loop] = _LoopState()
        joined = state.next
        if joined is None:
            joined = state.next = _Round(change, loop.create_future())
        else:
            joined.change = joined.change.merged(change)
        if not state.out:
            self._tell(loop, state)
        # Shielded: a caller that gives up (its request cancelled) must not cancel the
        # round that the others wait for.
        await asyncio.shield(joined.told)

    def rounds(self) -> int:
        """Calls of ``cache.changed`` (or ``changed_async``) made for the running loop's
        callers so far."""
        state = self._loops.get(asyncio.get_running_loop())
        return 0 if state is None else state.rounds

    def _tell(self, loop: asyncio.AbstractEventLoop, state: _LoopState) -> None:
        told, state.next, state.out = state.next, None, True
        assert told is not None
        state.rounds += 1
        work: asyncio.Future[None] = (
            loop.run_in_executor(None, self._cache.changed, told.change)
            if self._on_loop is None
            else asyncio.ensure_future(self._on_loop(told.change))
        )

        def returned(done: asyncio.Future[None]) -> None:
            state.out = False
            if done.cancelled():
                told.told.cancel()
            elif (error := done.exception()) is not None:
                told.told.set_exception(error)
            else:
                told.told.set_result(None)
            if state.next is not None:
                self._tell(loop, state)

        work.add_done_callback(returned)
