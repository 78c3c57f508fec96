"""``LoopChanges``: the catalog changes of an event loop's callers, told together."""

from __future__ import annotations

import asyncio
import threading

import pytest

from minicommerce.catalog.cache import CatalogChange, NoCatalogCache
from minicommerce.catalog.loop_changes import LoopChanges


class HeldCache(NoCatalogCache):
    """A cache whose ``changed`` blocks until released, as a shared cache's waits for the
    fleet's acknowledgements; it records what it was told."""

    def __init__(self) -> None:
        self.told: list[CatalogChange] = []
        self.release = threading.Event()
        self.entered = threading.Semaphore(0)

    def changed(self, change: CatalogChange) -> None:
        self.entered.release()
        self.release.wait(5)
        self.told.append(change)


TOLD_TOGETHER = [CatalogChange.of([1]), CatalogChange.of([2, 3], lists=True, stock_taken=True)]
"""What the cache is told of 1 alone, then of 2 (stock taken) and 3 (lists) that came while
the first was out."""


async def until_told(cache: HeldCache) -> None:
    await asyncio.get_running_loop().run_in_executor(None, cache.entered.acquire)


def test_a_lone_change_is_told_at_once() -> None:
    cache = HeldCache()
    cache.release.set()
    changes = LoopChanges(cache)

    async def main() -> int:
        await changes.changed(CatalogChange.of([1], stock_taken=True))
        return changes.rounds()

    assert asyncio.run(main()) == 1
    assert cache.told == [CatalogChange.of([1], stock_taken=True)]


def test_changes_that_come_while_one_is_out_are_told_together_next() -> None:
    cache = HeldCache()
    changes = LoopChanges(cache)
    returned: list[int] = []

    async def caller(change: CatalogChange, n: int) -> None:
        await changes.changed(change)
        returned.append(n)

    async def main() -> int:
        first = asyncio.create_task(caller(CatalogChange.of([1]), 1))
        await until_told(cache)  # the first call is out, and held
        later = [
            asyncio.create_task(caller(CatalogChange.of([2], stock_taken=True), 2)),
            asyncio.create_task(caller(CatalogChange.of([3], lists=True), 3)),
        ]
        await asyncio.sleep(0.05)
        assert returned == []  # nobody returns before a call with their change returned
        cache.release.set()
        await asyncio.gather(first, *later)
        return changes.rounds()

    assert asyncio.run(main()) == 2
    assert cache.told == TOLD_TOGETHER
    assert returned[0] == 1


def test_a_caller_that_gives_up_does_not_cancel_the_others() -> None:
    cache = HeldCache()
    changes = LoopChanges(cache)

    async def main() -> None:
        first = asyncio.create_task(changes.changed(CatalogChange.of([1])))
        await until_told(cache)
        quitter = asyncio.create_task(changes.changed(CatalogChange.of([2])))
        stayer = asyncio.create_task(changes.changed(CatalogChange.of([3])))
        await asyncio.sleep(0.01)
        quitter.cancel()
        cache.release.set()
        await asyncio.gather(first, stayer)
        with pytest.raises(asyncio.CancelledError):
            await quitter

    asyncio.run(main())
    # The change of the caller that gave up is still told: its write was committed.
    assert cache.told == [CatalogChange.of([1]), CatalogChange.of([2, 3])]


def test_each_loop_has_its_own_rounds() -> None:
    cache = HeldCache()
    cache.release.set()
    changes = LoopChanges(cache)
    for product in (1, 2):
        asyncio.run(changes.changed(CatalogChange.of([product])))
    assert cache.told == [CatalogChange.of([1]), CatalogChange.of([2])]


class LoopCache(NoCatalogCache):
    """A cache whose changes are awaited on the loop (``changed_async``); ``changed``, the
    thread's way, must not be used."""

    def __init__(self) -> None:
        self.told: list[CatalogChange] = []
        self.release: asyncio.Event | None = None

    def changed(self, change: CatalogChange) -> None:
        raise AssertionError("a cache that waits on the loop is not run in a thread")

    async def changed_async(self, change: CatalogChange) -> None:
        assert self.release is not None
        await self.release.wait()
        self.told.append(change)


def test_a_cache_that_waits_on_the_loop_is_awaited_there_told_together() -> None:
    cache = LoopCache()
    changes = LoopChanges(cache)

    async def main() -> int:
        cache.release = asyncio.Event()
        first = asyncio.create_task(changes.changed(CatalogChange.of([1])))
        await asyncio.sleep(0)  # out, and held
        later = [
            asyncio.create_task(changes.changed(CatalogChange.of([2], stock_taken=True))),
            asyncio.create_task(changes.changed(CatalogChange.of([3], lists=True))),
        ]
        await asyncio.sleep(0)
        assert not any(t.done() for t in [first, *later])
        cache.release.set()
        await asyncio.gather(first, *later)
        return changes.rounds()

    assert asyncio.run(main()) == 2
    assert cache.told == TOLD_TOGETHER
