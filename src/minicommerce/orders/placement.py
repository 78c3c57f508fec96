"""Order placement's rules, once, for every storage: wanted lines + locked rows -> a draft.

Storage locks and reads the rows (:meth:`OrderRepository.lock`) and writes what comes out
of here (:meth:`OrderRepository.add`); it decides nothing. Promotions, taxes and shipping
belong here too, so that they are written once, in Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from minicommerce.errors import ShortItem
from minicommerce.orders.models import MAX_ORDER_TOTAL, OrderItem


@dataclass(frozen=True, slots=True)
class StockRow:
    """A live product as locked for placement: what an order line copies, and the stock."""

    id: int
    sku: str | None
    name: str
    price: Decimal
    stock_quantity: int


@dataclass(frozen=True, slots=True)
class OrderDraft:
    """What to record: the lines in ascending product id order (the lock order) and the
    total. Each line's quantity is also what leaves that product's stock."""

    items: list[OrderItem]
    total: Decimal


@dataclass(slots=True)
class Refusal:
    """Why nothing can be recorded: products gone or short, the total above
    ``MAX_ORDER_TOTAL``, or nothing wanted at all (an empty cart)."""

    missing: list[int] = field(default_factory=list)
    short: list[ShortItem] = field(default_factory=list)
    total: Decimal | None = None
    """Set when the total is too large."""


def merge_lines(lines: Iterable[tuple[int, int]]) -> dict[int, int]:
    """Quantity by product id, lines for the same product added up."""
    wanted: dict[int, int] = {}
    for product_id, quantity in lines:
        wanted[product_id] = wanted.get(product_id, 0) + quantity
    return wanted


def draft_order(
    wanted: Mapping[int, int], rows: Iterable[StockRow], *, from_cart: bool = False
) -> OrderDraft | Refusal:
    """The order for ``wanted`` (quantity by product id) out of ``rows``, the live products
    among them as locked now; or why there can be none. Prices, names and SKUs are the
    rows' own (current) ones; every product must be live and have the stock.

    A cart checkout (``from_cart``) orders what the cart shows: lines of products that are
    no longer live are left out, where an explicit line for one is refused as missing."""
    by_id = {row.id: row for row in rows}
    if from_cart:
        wanted = {product_id: q for product_id, q in wanted.items() if product_id in by_id}
    if not wanted:
        return Refusal()
    refusal = Refusal()
    items: list[OrderItem] = []
    for product_id in sorted(wanted):
        quantity = wanted[product_id]
        row = by_id.get(product_id)
        if row is None:
            refusal.missing.append(product_id)
        elif row.stock_quantity < quantity:
            refusal.short.append(ShortItem(product_id, quantity, row.stock_quantity))
        else:
            line_total = row.price * quantity
            items.append(OrderItem(row.id, row.sku, row.name, quantity, row.price, line_total))
    if refusal.missing or refusal.short:
        return refusal
    total = sum((item.line_total for item in items), Decimal("0.00"))
    if total > MAX_ORDER_TOTAL:
        return Refusal(total=total)
    return OrderDraft(items, total)
