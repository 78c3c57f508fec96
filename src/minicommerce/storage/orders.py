"""Orders, their lines and stock movements on SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from minicommerce.accounts.models import SignedOut
from minicommerce.orders.models import (
    Customer,
    Order,
    OrderItem,
    OrderStatus,
    answer_of,
    order_from_answer,
)
from minicommerce.orders.placement import OrderDraft, StockRow
from minicommerce.orders.repository import (
    Answered,
    DailyTotal,
    KeyTaken,
    NewOrder,
    Seen,
    Stale,
)
from minicommerce.storage.carts import SqlCartRepository
from minicommerce.storage.tables import (
    cart_items,
    idempotency_keys,
    order_items,
    orders,
    products,
    users,
)

_o = orders.c
_i = order_items.c
_p = products.c
_c = cart_items.c
_k = idempotency_keys.c
_u = users.c
_CUSTOMER = (_u.id, _u.email, _u.first_name, _u.last_name)
_STOCK = (_p.id, _p.sku, _p.name, _p.price, _p.stock_quantity)
_ORDER = (_o.id, _o.status, _o.total_amount, _o.currency, _o.shipping_address, _o.created_at,
          _o.updated_at)  # fmt: skip
_ITEM = (_i.order_id, _i.product_id, _i.sku, _i.name, _i.quantity, _i.unit_price, _i.line_total)


class SqlOrderRepository:
    checks_seen = False  # SQLite's ``BEGIN IMMEDIATE``: nothing read changes before ``add``
    checks_session = False  # the service reads the session in the same transaction

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def daily_totals(self, start: datetime, end: datetime) -> list[DailyTotal]:
        if self._conn.dialect.name == "postgresql":
            day: Any = sa.cast(_o.created_at, sa.Date)  # sessions run in UTC (engine.py)
        else:
            day = sa.func.substr(_o.created_at, 1, 10)  # stored as naive UTC 'YYYY-MM-DD ...'
        day = day.label("day")
        stmt = (
            sa.select(
                day,
                _o.status,
                sa.func.count().label("orders"),
                sa.func.sum(_o.total_amount).label("total"),
            )
            .where(_o.created_at >= start, _o.created_at < end)
            .group_by(day, _o.status)
        )
        return [
            DailyTotal(
                row.day if isinstance(row.day, date) else date.fromisoformat(row.day),
                OrderStatus(row.status),
                int(row.orders),
                row.total,
            )
            for row in self._conn.execute(stmt)
        ]

    def answered(self, user_id: int, key: str) -> Answered | None:
        row = self._conn.execute(
            sa.select(_k.fingerprint, _k.order_id, _k.answer).where(
                _k.user_id == user_id, _k.key == key
            )
        ).first()
        if row is None:
            return None
        return answered(row.fingerprint, row.order_id, row.answer)

    def read(self, user_id: int, lines: Mapping[int, int] | None) -> Seen:
        """Plain reads: SQLite's ``BEGIN IMMEDIATE`` has locked the database for this
        transaction, so nothing read can change before ``add``. (PostgreSQL:
        ``postgres_orders.py``.)"""
        if lines is None:
            wanted = {
                row.product_id: row.quantity
                for row in self._conn.execute(
                    sa.select(_c.product_id, _c.quantity).where(_c.user_id == user_id)
                )
            }
        else:
            wanted = dict(lines)
        if not wanted:
            return Seen(wanted, [])
        rows = self._conn.execute(
            sa.select(*_STOCK)
            .where(_p.id.in_(sorted(wanted)), _p.deleted_at.is_(None))
            .order_by(_p.id)
        )
        return Seen(wanted, [StockRow(**row._mapping) for row in rows])

    def live_rows(self, limit: int) -> list[StockRow]:
        rows = self._conn.execute(
            sa.select(*_STOCK).where(_p.deleted_at.is_(None)).order_by(_p.id.desc()).limit(limit)
        )
        return [StockRow(**row._mapping) for row in rows]

    def add(
        self, new: NewOrder, draft: OrderDraft, seen: Seen
    ) -> Order | Stale | KeyTaken | SignedOut:
        order_id = self._conn.execute(
            sa.insert(orders)
            .values(
                user_id=new.user_id,
                status=OrderStatus.PENDING.value,
                total_amount=draft.total,
                currency=new.currency,
                shipping_address=new.shipping_address,
                created_at=new.now,
                updated_at=new.now,
            )
            .returning(_o.id)
        ).scalar_one()
        order = placed(order_id, new, draft)
        for item in draft.items:  # ascending product id: the lock order
            taken = self._conn.execute(
                sa.update(products)
                .where(_p.id == item.product_id, _p.stock_quantity >= item.quantity)
                .values(stock_quantity=_p.stock_quantity - item.quantity, version=_p.version + 1)
            )
            if taken.rowcount != 1:  # pragma: no cover - the rows were locked and checked
                raise RuntimeError(f"product {item.product_id} changed under its lock")
        self._conn.execute(
            sa.insert(order_items),
            [
                {
                    "order_id": order_id,
                    "product_id": item.product_id,
                    "sku": item.sku,
                    "name": item.name,
                    "quantity": item.quantity,
                    "unit_price": item.unit_price,
                    "line_total": item.line_total,
                }
                for item in draft.items
            ],
        )
        if new.lines is None:
            SqlCartRepository(self._conn).clear(new.user_id)
        if new.idempotency_key is not None and new.fingerprint is not None:
            self._conn.execute(
                sa.insert(idempotency_keys).values(
                    user_id=new.user_id,
                    key=new.idempotency_key,
                    fingerprint=new.fingerprint,
                    order_id=order_id,
                    answer=answer_of(order),
                    created_at=new.now,
                )
            )
        return order

    def purge_keys(self, before: datetime, limit: int) -> int:
        oldest = (
            sa.select(_k.user_id, _k.key)
            .where(_k.created_at < before)
            .order_by(_k.created_at)
            .limit(limit)
        )
        result = self._conn.execute(
            sa.delete(idempotency_keys).where(sa.tuple_(_k.user_id, _k.key).in_(oldest))
        )
        return result.rowcount

    def return_stock(self, lines: Sequence[OrderItem]) -> None:
        for line in sorted(lines, key=lambda item: item.product_id):
            self._conn.execute(
                sa.update(products)
                .where(_p.id == line.product_id)
                .values(stock_quantity=_p.stock_quantity + line.quantity, version=_p.version + 1)
            )

    def get(self, order_id: int, user_id: int | None) -> Order | None:
        stmt = sa.select(*_ORDER).where(_o.id == order_id)
        if user_id is not None:
            stmt = stmt.where(_o.user_id == user_id)
        found = self._orders(stmt)
        return found[0] if found else None

    def list_for_user(self, user_id: int, after_id: int | None, limit: int) -> list[Order]:
        stmt = sa.select(*_ORDER).where(_o.user_id == user_id)
        if after_id is not None:
            stmt = stmt.where(_o.id < after_id)
        return self._orders(stmt.order_by(_o.id.desc()).limit(limit))

    def list_all(
        self, status: OrderStatus | None, user_id: int | None, after_id: int | None, limit: int
    ) -> list[tuple[Order, Customer]]:
        stmt = sa.select(*_ORDER)
        if status is not None:
            stmt = stmt.where(_o.status == status.value)
        if user_id is not None:
            stmt = stmt.where(_o.user_id == user_id)
        if after_id is not None:
            stmt = stmt.where(_o.id < after_id)
        found = self._orders(stmt.order_by(_o.id.desc()).limit(limit))
        if not found:
            return []
        who = {
            row.order_id: customer(row)
            for row in self._conn.execute(
                sa.select(_o.id.label("order_id"), *_CUSTOMER)
                .join_from(orders, users, _o.user_id == _u.id)
                .where(_o.id.in_([order.id for order in found]))
            )
        }
        return [(order, who[order.id]) for order in found]

    def customer_of(self, order_id: int) -> Customer | None:
        row = self._conn.execute(
            sa.select(*_CUSTOMER)
            .join_from(orders, users, _o.user_id == _u.id)
            .where(_o.id == order_id)
        ).first()
        return None if row is None else customer(row)

    def move(
        self,
        order_id: int,
        user_id: int | None,
        allowed_from: Collection[OrderStatus],
        to: OrderStatus,
        now: datetime,
    ) -> bool:
        stmt = (
            sa.update(orders)
            .where(_o.id == order_id, _o.status.in_([s.value for s in allowed_from]))
            .values(status=to.value, updated_at=now)
        )
        if user_id is not None:
            stmt = stmt.where(_o.user_id == user_id)
        return self._conn.execute(stmt).rowcount == 1

    def _orders(self, stmt: sa.Select[Any]) -> list[Order]:
        """Orders and their lines: two queries, whatever the number of orders."""
        rows = self._conn.execute(stmt).all()
        if not rows:
            return []
        lines: dict[int, list[OrderItem]] = {row.id: [] for row in rows}
        for line in self._conn.execute(
            sa.select(*_ITEM).where(_i.order_id.in_(list(lines))).order_by(_i.order_id, _i.id)
        ):
            lines[line.order_id].append(
                OrderItem(
                    product_id=line.product_id,
                    sku=line.sku,
                    name=line.name,
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    line_total=line.line_total,
                )
            )
        return [
            Order(
                id=row.id,
                status=OrderStatus(row.status),
                items=lines[row.id],
                total_amount=row.total_amount,
                currency=row.currency,
                shipping_address=row.shipping_address,
                created_at=row.created_at,
                updated_at=row.updated_at,
            )
            for row in rows
        ]


def customer(row: Any) -> Customer:
    return Customer(id=row.id, email=row.email, first_name=row.first_name, last_name=row.last_name)


def placed(order_id: int, new: NewOrder, draft: OrderDraft) -> Order:
    """The order that ``add`` records."""
    return Order(
        id=order_id,
        status=OrderStatus.PENDING,
        items=list(draft.items),
        total_amount=draft.total,
        currency=new.currency,
        shipping_address=new.shipping_address,
        created_at=new.now,
        updated_at=new.now,
    )


def answered(fingerprint: str, order_id: int, answer: str | None) -> Answered:
    return Answered(
        fingerprint, order_id, None if answer is None else order_from_answer(order_id, answer)
    )
