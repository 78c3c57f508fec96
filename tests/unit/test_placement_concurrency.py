"""At most ``placement_concurrency`` placements of one service are in the database at once."""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Self

import pytest

from minicommerce import NewProduct, PlaceOrder, Registration, Shop
from minicommerce.orders.service import OrderService
from tests.conftest import ADDRESS, FAST_ARGON2, SECRET
from tests.unit.fakes import MemoryStore, MemoryUnitOfWork

BUYERS = 8


class GaugedStore(MemoryStore):
    """The in-memory store, counting the write units of work open at once: one counts from
    the moment it is opened, waiting for the store's one writer included, as a placement
    waiting for a row lock is in the database."""

    def __init__(self) -> None:
        super().__init__()
        self.gauge = threading.Lock()
        self.open = 0
        self.most = 0

    def __call__(
        self, *, write: bool, may_lag: bool = False, user_id: int | None = None
    ) -> MemoryUnitOfWork:
        return GaugedUnitOfWork(self, write=write) if write else super().__call__(write=write)


class GaugedUnitOfWork(MemoryUnitOfWork):
    def __init__(self, store: GaugedStore, *, write: bool) -> None:
        super().__init__(store, write=write)
        self._gauged = store

    def __enter__(self) -> Self:
        store = self._gauged
        with store.gauge:
            store.open += 1
            store.most = max(store.most, store.open)
        time.sleep(0.02)  # long enough for every buyer to arrive meanwhile
        return super().__enter__()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        super().__exit__(exc_type, exc, tb)
        with self._gauged.gauge:
            self._gauged.open -= 1


def most_at_once(concurrency: int | None) -> tuple[int, int]:
    """How many placements were in the store at most while ``BUYERS`` buyers bought one
    product at once, and the stock left."""
    store = GaugedStore()
    with Shop(uow=store, secret_key=SECRET, argon2=FAST_ARGON2,
              placement_concurrency=concurrency) as shop:  # fmt: skip
        product = shop.catalog.create(NewProduct(name="Mug", price="9.50", stock_quantity=20))
        buyers = [
            shop.accounts.register(Registration(email=f"b{i}@example.com", password="x" * 8)).id
            for i in range(BUYERS)
        ]
        order = PlaceOrder.parse(
            {"shipping_address": ADDRESS, "items": [{"product_id": product.id, "quantity": 1}]}
        )
        store.most = 0
        start = threading.Barrier(BUYERS)

        def buy(user_id: int) -> None:
            start.wait()
            shop.orders.place(user_id, order)

        threads = [threading.Thread(target=buy, args=(b,)) for b in buyers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        left = shop.catalog.get(product.id).stock_quantity
    return store.most, left


def test_at_most_so_many_placements_are_in_the_database_at_once() -> None:
    most, left = most_at_once(2)
    assert most == 2
    assert left == 20 - BUYERS  # every buyer was served, in turn


def test_without_a_bound_every_buyer_goes_in() -> None:
    most, left = most_at_once(None)
    assert most > 2
    assert left == 20 - BUYERS


def test_a_bound_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="placement_concurrency"):
        OrderService(MemoryStore(), "USD", placement_concurrency=0)
