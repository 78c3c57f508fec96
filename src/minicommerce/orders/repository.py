"""What orders need from storage."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from minicommerce.orders.models import Customer, Order, OrderItem, OrderStatus
from minicommerce.orders.placement import OrderDraft, StockRow


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
class Answered:
    """The user already placed an order with this idempotency key: the fingerprint of that
    request and the order as it was answered then (``None`` only for keys recorded before
    answers were kept, migration 0006: then the order as it is now)."""

    fingerprint: str
    order_id: int
    answer: Order | None


@dataclass(frozen=True, slots=True)
class Locked:
    """What placement works on: the wanted lines and the live products among them, locked
    until the unit of work ends."""

    wanted: dict[int, int]
    """Quantity by product id: the lines given, or every line of the user's cart."""
    rows: list[StockRow]
    """The live products among ``wanted``, in ascending id order."""


class OrderRepository(Protocol):
    """Placement is three calls in one unit of work: :meth:`claim_key` (with a key),
    :meth:`lock`, then :meth:`add` with the draft that ``orders.placement`` made of what
    was locked. Nothing here decides what an order contains."""

    def claim_key(self, user_id: int, key: str, fingerprint: str, now: datetime) -> Answered | None:
        """Claim the user's idempotency key for this unit of work: ``None`` when it is
        claimed now (it is released if the unit of work rolls back), the earlier answer
        when it was used. A concurrent claim of the same key waits until the first unit of
        work ends."""
        ...

    def lock(self, user_id: int, lines: Mapping[int, int] | None) -> Locked:
        """Lock the wanted lines (``None``: the user's cart lines) and the live products
        among them, in ascending id order (so that concurrent orders cannot deadlock), and
        read them as they are now."""
        ...

    def add(self, new: NewOrder, draft: OrderDraft) -> Order:
        """Record ``draft``: the order, its lines, the stock taken (a decrement the
        database checks: never below zero), the cart emptied when it was used and, with a
        key, the order as answered kept with the claimed key."""
        ...

    def purge_keys(self, before: datetime, limit: int) -> int:
        """Forget up to ``limit`` idempotency keys claimed before ``before``; how many."""
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
