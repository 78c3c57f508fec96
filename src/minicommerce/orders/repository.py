"""What orders need from storage."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from minicommerce.orders.models import Customer, Order, OrderItem, OrderStatus


class OrderRepository(Protocol):
    def claim_key(
        self, user_id: int, key: str, fingerprint: str, now: datetime
    ) -> tuple[str, int | None] | None:
        """Record an idempotency key for this transaction. ``None`` when it is new; else
        the fingerprint and order id it already holds. A concurrent claim of the same key
        waits until the first transaction ends."""
        ...

    def complete_key(self, user_id: int, key: str, order_id: int) -> None: ...

    def take_stock(self, product_id: int, quantity: int) -> tuple[str | None, str, Decimal] | None:
        """Decrement a live product's stock by ``quantity`` if it has that much; the
        product's sku, name and price, or ``None`` when it does not (or is gone)."""
        ...

    def stock_of(self, product_id: int) -> int | None: ...

    def return_stock(self, lines: Sequence[OrderItem]) -> None: ...

    def add(
        self,
        *,
        user_id: int,
        items: Sequence[OrderItem],
        total: Decimal,
        currency: str,
        address: dict[str, Any],
        now: datetime,
    ) -> Order: ...

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
