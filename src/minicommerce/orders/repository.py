"""What orders need from storage."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from minicommerce.errors import ShortItem
from minicommerce.orders.models import Customer, Order, OrderItem, OrderStatus


@dataclass(frozen=True, slots=True)
class NewOrder:
    """An order to record, all or nothing, in one transaction."""

    user_id: int
    lines: Mapping[int, int] | None
    """Quantity by product id, one entry per product; ``None``: the user's cart, which is
    emptied when the order is recorded."""
    shipping_address: dict[str, Any]
    currency: str
    now: datetime
    idempotency_key: str | None = None
    fingerprint: str | None = None


@dataclass(frozen=True, slots=True)
class KeyTaken:
    """The user already placed an order with this idempotency key."""

    fingerprint: str
    order_id: int


@dataclass(slots=True)
class Refused:
    """Nothing was recorded: products are gone or short of stock, the total is above
    ``MAX_ORDER_TOTAL``, or nothing was wanted (an empty cart)."""

    missing: list[int] = field(default_factory=list)
    short: list[ShortItem] = field(default_factory=list)
    total: Decimal | None = None
    """Set when the total is too large."""


Placement = Order | KeyTaken | Refused


@dataclass(frozen=True, slots=True)
class DailyTotal:
    day: date
    status: OrderStatus
    orders: int
    total: Decimal


class OrderRepository(Protocol):
    def place(self, new: NewOrder) -> Placement:
        """Record ``new`` if the user has not used its idempotency key, every product is
        live and has the stock: take the stock (never below zero, whatever runs
        concurrently), copy sku, name and price into the lines, total them, keep the key
        with the order and empty the cart when it was used. A concurrent request with the
        same key waits for this one and then sees ``KeyTaken``. On ``KeyTaken`` or
        ``Refused`` nothing is changed (roll back the unit of work)."""
        ...

    def return_stock(self, lines: Sequence[OrderItem]) -> None: ...

    def get(self, order_id: int, user_id: int | None) -> Order | None: ...

    def list_for_user(self, user_id: int, after_id: int | None, limit: int) -> list[Order]: ...

    def list_all(
        self, status: OrderStatus | None, user_id: int | None, after_id: int | None, limit: int
    ) -> list[tuple[Order, Customer]]:
        """Every user's orders, newest first, with who placed them."""
        ...

    def customer_of(self, order_id: int) -> Customer | None: ...

    def daily_totals(self, start: datetime, end: datetime) -> list[DailyTotal]:
        """Orders created in ``[start, end)`` grouped by UTC day and status, in one
        query over the ``created_at`` index."""
        ...

    def move(
        self,
        order_id: int,
        user_id: int | None,
        allowed_from: Collection[OrderStatus],
        to: OrderStatus,
        now: datetime,
    ) -> bool:
        """Change the status if it is one of ``allowed_from``; ``False`` otherwise."""
        ...
