"""The product rows placement remembers: bounded, and what a fresh read says wins."""

from __future__ import annotations

from decimal import Decimal

import pytest

from minicommerce.orders.placement import StockRow
from minicommerce.orders.rowcache import RowCache


def row(product_id: int, price: str = "1.00") -> StockRow:
    return StockRow(product_id, f"S-{product_id}", f"P{product_id}", Decimal(price), 5)


def test_at_most_size_rows_and_the_longest_remembered_goes_first() -> None:
    cache = RowCache(3)
    for n in range(1, 5):
        cache.remember({n: 1}, [row(n)])
    assert len(cache) == 3
    assert cache.get(1) is None
    cache.remember({2: 1}, [row(2, "2.00")])  # remembered again: now the newest
    cache.remember({5: 1}, [row(5)])
    assert (cache.get(2), cache.get(3)) == (row(2, "2.00"), None)
    assert cache.rows_for({5: 1, 2: 1, 4: 1}) == [row(2, "2.00"), row(4), row(5)]


def test_a_read_without_the_row_forgets_it() -> None:
    cache = RowCache()
    cache.remember({1: 1, 2: 1}, [row(1), row(2)])
    cache.remember({1: 1, 2: 1}, [row(2, "3.00")])  # product 1 archived
    assert cache.get(1) is None
    assert cache.rows_for({1: 1, 2: 1}) is None
    assert cache.rows_for({2: 1}) == [row(2, "3.00")]


def test_size_zero_remembers_nothing() -> None:
    cache = RowCache(0)
    cache.remember({1: 1}, [row(1)])
    assert len(cache) == 0
    with pytest.raises(ValueError, match="size"):
        RowCache(-1)
