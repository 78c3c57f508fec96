"""What orders need from storage."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from minicommerce.accounts.models import SessionCheck, SignedOut
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
    session: SessionCheck | None = None
    """The caller's session, when the order may be recorded only while it is live; checked
    by ``add`` where storage ``checks_session``, by the service otherwise."""


@dataclass(frozen=True, slots=True)
class Answered:
    """The user already placed an order with this idempotency key: the fingerprint of that
    request and the order as it was answered then (``None`` only for keys recorded before
    answers were kept, migration 0006: then the order as it is now)."""

    fingerprint: str
    order_id: int
    answer: Order | None


@dataclass(frozen=True, slots=True)
class Seen:
    """What placement works on: the wanted lines and the live products among them."""

    wanted: dict[int, int]
    """Quantity by product id: the lines given, or every line of the user's cart."""
    rows: list[StockRow]
    """The live products among ``wanted``, in ascending id order."""


@dataclass(frozen=True, slots=True)
class Stale:
    """Nothing was recorded: what the draft was made of changed since it was read (a
    product's price, name, SKU or stock, the cart). Read again and draft again."""


@dataclass(frozen=True, slots=True)
class KeyTaken:
    """Nothing was recorded: a concurrent request with the same idempotency key finished
    first (this one waited for it). Look its answer up."""


@dataclass(frozen=True, slots=True)
class DailyTotal:
    day: date
    status: OrderStatus
    orders: int
    total: Decimal


class AsyncOrderWriter(Protocol):
    """``OrderRepository.add`` without a thread: for placement from an event loop
    (``OrderService.place_async``). The same statement, its own transaction, the same
    answers; a database that cannot serve raises
    :class:`~minicommerce.errors.ServiceUnavailable`. Storage that has one checks what it
    is given (``OrderRepository.checks_seen``) and the session."""

    async def add(
        self, new: NewOrder, draft: OrderDraft, seen: Seen
    ) -> Order | Stale | KeyTaken | SignedOut: ...

    def close(self) -> None: ...


class OrderRepository(Protocol):
    """Placement: :meth:`answered` (with a key), :meth:`read`, then :meth:`add` with the
    draft that ``orders.placement`` made of what was read. Nothing here decides what an
    order contains.

    The unit of work's promise, and where it differs: ``add`` records the whole order
    atomically in every storage. On SQLite all of placement is one transaction that
    ``BEGIN IMMEDIATE`` serialises, and nothing read can change before ``add``. On
    PostgreSQL, when they are the unit of work's first statements, ``read`` and ``add``
    each run as a transaction of their own (one round trip each; the unit of work's commit
    then has nothing left to do): ``add`` locks the rows, checks that they are still what
    the draft was made of, and answers :class:`Stale` when they are not.
    """

    checks_seen: bool
    """Whether ``add`` checks that ``seen`` still holds (answering :class:`Stale` when it
    does not) and claims the key itself (answering :class:`KeyTaken`, never failing, when
    it was used). Then the service may draft from rows it remembers instead of reading,
    and look the key up only after a failed attempt."""

    checks_session: bool
    """Whether ``add`` checks ``NewOrder.session`` in the statement that records the order
    (answering :class:`SignedOut`, having recorded nothing, when it is not live), with the
    rule of ``accounts.auth.signed_in``: the service then reads the session only on the
    paths that answer without recording."""

    def answered(self, user_id: int, key: str) -> Answered | None:
        """The earlier answer to the user's idempotency key, if it was used."""
        ...

    def read(self, user_id: int, lines: Mapping[int, int] | None) -> Seen:
        """The wanted lines (``None``: the user's cart lines) and the live products among
        them, as they are now."""
        ...

    def live_rows(self, limit: int) -> list[StockRow]:
        """Up to ``limit`` live products, the newest first: what a process remembers
        before its first placement (only where :attr:`checks_seen`)."""
        ...

    def add(
        self, new: NewOrder, draft: OrderDraft, seen: Seen
    ) -> Order | Stale | KeyTaken | SignedOut:
        """Record ``draft``, made of ``seen``, if ``seen`` still holds (the products locked
        in ascending id order, so that concurrent orders cannot deadlock, are live with the
        same SKU, name and price and the stock; a cart checkout's cart is unchanged) and the
        key (if any) is not taken: the order, its lines, the stock taken (never below zero),
        the cart emptied when it was used and, with a key, the order as answered kept with
        the key. A concurrent request with the same key is waited for."""
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
