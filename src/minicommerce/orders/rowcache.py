"""Product rows remembered from placement's reads, to draft the next order without a read.

Filled once with the newest live products before a service's first placement, then by
every read placement makes.

Only for storage whose write checks what a draft was made of (``OrderRepository.checks_seen``):
a remembered row that has changed since (price, name, SKU, archived, stock) makes the write
answer ``Stale`` and the service reads afresh, so a remembered row can cost a retry, never a
wrong order. Nothing is refused on remembered rows either: a refusal is always decided on
fresh ones. The stock in a remembered row is the figure read then, a guess that the write's
``stock >= quantity`` check settles.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

from minicommerce.orders.placement import StockRow

ROW_CACHE_SIZE = 10_000
"""Products remembered per service (per process): a few MB at most."""


class RowCache:
    """At most ``size`` live products by id; when full, the longest-remembered goes first.

    Shared by the threads of one process: lookups take no lock (one ``dict.get`` each),
    changes take one."""

    def __init__(self, size: int = ROW_CACHE_SIZE) -> None:
        if size < 0:
            raise ValueError("size must be >= 0")
        self._size = size
        self._rows: dict[int, StockRow] = {}
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        return self._size

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, product_id: int) -> StockRow | None:
        return self._rows.get(product_id)

    def rows_for(self, wanted: Mapping[int, int]) -> list[StockRow] | None:
        """The remembered rows of every wanted product in ascending id order, or ``None``
        when one of them is not remembered."""
        rows = []
        for product_id in sorted(wanted):
            row = self._rows.get(product_id)
            if row is None:
                return None
            rows.append(row)
        return rows

    def remember(self, wanted: Mapping[int, int], rows: Iterable[StockRow]) -> None:
        """What a fresh read found: ``rows``, the live products among ``wanted``; the
        wanted ones without a row (archived or gone) are forgotten."""
        if not self._size:
            return
        with self._lock:
            for product_id in wanted:
                self._rows.pop(product_id, None)
            for row in rows:
                self._rows[row.id] = row  # re-inserted: now the most recently remembered
            while len(self._rows) > self._size:
                del self._rows[next(iter(self._rows))]
