"""Order placement's rules, as a pure function: wanted lines + locked rows -> draft."""

from __future__ import annotations

from decimal import Decimal

from minicommerce.errors import ShortItem
from minicommerce.orders.models import MAX_ORDER_TOTAL
from minicommerce.orders.placement import (
    OrderDraft,
    Refusal,
    StockRow,
    draft_order,
    merge_lines,
)


def row(product_id: int, price: str = "9.50", stock: int = 10) -> StockRow:
    return StockRow(product_id, f"S-{product_id}", f"P{product_id}", Decimal(price), stock)


def test_repeated_products_are_added_up() -> None:
    assert merge_lines([(2, 1), (1, 2), (2, 3)]) == {2: 4, 1: 2}


def test_a_draft_copies_the_rows_in_id_order_with_exact_totals() -> None:
    drafted = draft_order({7: 3, 2: 1}, [row(2, "0.10"), row(7, "19.99")])
    assert isinstance(drafted, OrderDraft)
    assert [(i.product_id, i.sku, i.name, i.quantity, i.unit_price, i.line_total)
            for i in drafted.items] == [
        (2, "S-2", "P2", 1, Decimal("0.10"), Decimal("0.10")),
        (7, "S-7", "P7", 3, Decimal("19.99"), Decimal("59.97")),
    ]  # fmt: skip
    assert drafted.total == Decimal("60.07")


def test_missing_and_short_products_are_refused_together() -> None:
    drafted = draft_order({1: 5, 2: 1, 3: 1}, [row(1, stock=4), row(3)])
    assert drafted == Refusal(missing=[2], short=[ShortItem(1, 5, 4)])


def test_stock_may_go_to_exactly_zero() -> None:
    assert isinstance(draft_order({1: 4}, [row(1, stock=4)]), OrderDraft)


def test_the_total_is_capped() -> None:
    drafted = draft_order({1: 2}, [row(1, "9999999999.99", stock=5)])
    assert drafted == Refusal(total=Decimal("19999999999.98"))
    assert Decimal("19999999999.98") > MAX_ORDER_TOTAL


def test_a_cart_checkout_leaves_out_what_the_cart_no_longer_shows() -> None:
    drafted = draft_order({1: 1, 2: 2}, [row(1)], from_cart=True)
    assert isinstance(drafted, OrderDraft)
    assert [i.product_id for i in drafted.items] == [1]
    assert draft_order({2: 2}, [], from_cart=True) == Refusal()  # an empty cart
    assert draft_order({2: 2}, []) == Refusal(missing=[2])  # explicit: not found


def test_nothing_wanted_is_a_refusal() -> None:
    assert draft_order({}, []) == Refusal()
