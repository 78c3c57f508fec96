"""Load while a fault happens, and the ledger it must leave behind.

:class:`Load` runs threads that send requests until stopped and keeps every answer with
the time it came. :func:`assert_ledger_whole` reads the database afterwards: every order
has its lines and its total, every acknowledged order is there as it was answered, and
the stock taken is exactly what the orders hold.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import TracebackType
from typing import Any, Self

import sqlalchemy as sa

from tests.fleet.client import Answer


@dataclass(frozen=True)
class Outcome:
    at: float  # time.monotonic() when the answer came
    answer: Answer


class Load:
    """``threads`` threads, each calling ``send(thread)`` until :meth:`stop`; ``send``
    returns the answers of what it did (a checkout may be several requests)."""

    def __init__(self, send: Callable[[int], list[Answer]], threads: int) -> None:
        self._send = send
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self.outcomes: list[Outcome] = []
        self.failures: list[BaseException] = []
        self._threads = [
            threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)
        ]

    def __enter__(self) -> Self:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopped.set()
        for thread in self._threads:
            thread.join(60)

    def _run(self, thread: int) -> None:
        while not self._stopped.is_set():
            try:
                answers = self._send(thread)
            except Exception as exc:  # a client-side failure is a finding, not a crash
                with self._lock:
                    self.failures.append(exc)
                return
            now = time.monotonic()
            with self._lock:
                self.outcomes.extend(Outcome(now, answer) for answer in answers)
            if any(answer.status >= 500 for answer in answers):
                time.sleep(0.05)  # no busy loop against a service that is down

    def answers(self, since: float = 0.0, until: float = float("inf")) -> list[Answer]:
        with self._lock:
            return [o.answer for o in self.outcomes if since <= o.at < until]

    def statuses(self, since: float = 0.0, until: float = float("inf")) -> Counter[int]:
        return Counter(answer.status for answer in self.answers(since, until))

    def wait_for(self, status: int, count: int, since: float = 0.0, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while self.statuses(since)[status] < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"fewer than {count} answers {status} in {seconds} s: {self.statuses(since)}"
                )
            time.sleep(0.1)


@dataclass
class Ledger:
    totals: dict[int, Decimal]  # order id -> total_amount
    lines: dict[int, list[tuple[int, int, Decimal, Decimal]]]  # product, qty, unit, total
    stock: dict[int, int]  # product id -> stock_quantity


_TOTALS = "SELECT id, total_amount FROM orders"
_STOCK = "SELECT id, stock_quantity FROM products"


def read_ledger(database_url: str) -> Ledger:
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            totals: dict[int, Decimal] = dict(conn.execute(sa.text(_TOTALS)).all())
            lines: dict[int, list[tuple[int, int, Decimal, Decimal]]] = defaultdict(list)
            for order, product, quantity, unit, total in conn.execute(
                sa.text(
                    "SELECT order_id, product_id, quantity, unit_price, line_total "
                    "FROM order_items ORDER BY order_id, product_id"
                )
            ):
                lines[order].append((product, quantity, unit, total))
            stock: dict[int, int] = dict(conn.execute(sa.text(_STOCK)).all())
    finally:
        engine.dispose()
    return Ledger(totals, dict(lines), stock)


def assert_ledger_whole(
    database_url: str, acknowledged: Iterable[Mapping[str, Any]], initial: Mapping[int, int]
) -> Ledger:
    """No partial order, no lost stock, no acknowledged order missing or altered."""
    ledger = read_ledger(database_url)
    assert set(ledger.lines) <= set(ledger.totals), "lines without their order"
    for order, total in ledger.totals.items():
        lines = ledger.lines.get(order, [])
        assert lines, f"order {order} has no lines"
        assert all(qty * unit == line for _, qty, unit, line in lines), f"order {order}"
        assert sum(line for *_, line in lines) == total, f"order {order}'s total"
    for answer in acknowledged:
        order = answer["id"]
        assert order in ledger.totals, f"acknowledged order {order} is not in the database"
        assert ledger.totals[order] == Decimal(answer["total_amount"])
        answered = sorted(
            (i["product_id"], i["quantity"], Decimal(i["unit_price"]), Decimal(i["line_total"]))
            for i in answer["items"]
        )
        assert ledger.lines[order] == answered, f"order {order} differs from its answer"
    ordered: Counter[int] = Counter()
    for lines in ledger.lines.values():
        for product, quantity, _, _ in lines:
            ordered[product] += quantity
    for product, start in initial.items():
        assert start - ordered[product] == ledger.stock[product], f"stock of product {product}"
    return ledger
