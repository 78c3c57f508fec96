"""Carts: a signed-in user's lines, priced at current catalog prices."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated

from pydantic import Field, StrictInt

from minicommerce.commands import WHOLE_NUMBER, Command

MAX_LINE_QUANTITY = 1000
MAX_CART_LINES = 100
"""Products in one cart at most: as many as one order may hold (``MAX_ORDER_LINES`` is
this), so that every cart can be checked out."""


@dataclass(slots=True)
class CartLine:
    product_id: int
    sku: str | None
    name: str
    unit_price: Decimal
    quantity: int
    line_total: Decimal


@dataclass(slots=True)
class Cart:
    """A snapshot of a cart. Prices are the catalog's current ones; totals are exact."""

    items: list[CartLine]
    total: Decimal
    currency: str
    item_count: int
    """How many units, all lines together."""


class LineQuantity(Command):
    """The quantity a cart line should have: 1..1000, or 0 to remove the line."""

    quantity: Annotated[StrictInt, Field(ge=0, le=MAX_LINE_QUANTITY), WHOLE_NUMBER]


@dataclass(slots=True)
class StoredLine:
    """A cart line as stored, joined with its live product."""

    product_id: int
    sku: str | None
    name: str
    unit_price: Decimal
    quantity: int
    stock_quantity: int
