"""Orders, their lines and stock movements on SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from minicommerce.errors import ShortItem
from minicommerce.orders.models import MAX_ORDER_TOTAL, Customer, Order, OrderItem, OrderStatus
from minicommerce.orders.repository import DailyTotal, KeyTaken, NewOrder, Placement, Refused
from minicommerce.storage.carts import SqlCartRepository
from minicommerce.storage.tables import order_items, orders, products, users

_o = orders.c
_i = order_items.c
_p = products.c
_ORDER = (_o.id, _o.status, _o.total_amount, _o.currency, _o.shipping_address, _o.created_at,
          _o.updated_at)  # fmt: skip
_ITEM = (_i.order_id, _i.product_id, _i.sku, _i.name, _i.quantity, _i.unit_price, _i.line_total)


class SqlOrderRepository:
    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def daily_totals(self, start: datetime, end: datetime) -> list[DailyTotal]:
        if self._conn.dialect.name == "postgresql":
            day: Any = sa.cast(_o.created_at, sa.Date)  # sessions run in UTC (engine.py)
        else:
            day = sa.func.substr(_o.created_at, 1, 10)  # stored as naive UTC 'YYYY-MM-DD ...'
        day = day.label("day")
        stmt = (
            sa.select(day, _o.status, sa.func.count(), sa.func.sum(_o.total_amount))
            .where(_o.created_at >= start, _o.created_at < end)
            .group_by(day, _o.status)
        )
        return [
            DailyTotal(
                row[0] if isinstance(row[0], date) else date.fromisoformat(row[0]),
                OrderStatus(row[1]),
                int(row[2]),
                row[3],
            )
            for row in self._conn.execute(stmt)
        ]

    def place(self, new: NewOrder) -> Placement:
        """Step by step, one statement at a time. Correct where write transactions run one
        at a time (SQLite: ``BEGIN IMMEDIATE``): nothing can come between the key check and
        the insert. PostgreSQL places orders in one statement (``postgres_orders.py``)."""
        key = new.idempotency_key
        if key is not None:
            row = self._conn.execute(
                sa.select(_o.request_fingerprint, _o.id).where(
                    _o.user_id == new.user_id, _o.idempotency_key == key
                )
            ).first()
            if row is not None:
                return KeyTaken(row[0], row[1])
        wanted = new.lines
        if wanted is None:
            # What the customer sees in the cart: lines of archived products are left out.
            cart = SqlCartRepository(self._conn)
            wanted = {line.product_id: line.quantity for line in cart.lines(new.user_id)}
        if not wanted:
            return Refused()
        items: list[OrderItem] = []
        shortfall = Refused()
        for product_id in sorted(wanted):  # the same lock order as on PostgreSQL
            quantity = wanted[product_id]
            taken = self._take_stock(product_id, quantity)
            if taken is None:
                available = self._stock_of(product_id)
                if available is None:
                    shortfall.missing.append(product_id)
                else:
                    shortfall.short.append(ShortItem(product_id, quantity, available))
                continue
            sku, name, price = taken
            items.append(OrderItem(product_id, sku, name, quantity, price, price * quantity))
        if shortfall.missing or shortfall.short:
            return shortfall
        total = sum((item.line_total for item in items), Decimal("0.00"))
        if total > MAX_ORDER_TOTAL:
            return Refused(total=total)
        order = self._add(new, items, total)
        if new.lines is None:
            SqlCartRepository(self._conn).clear(new.user_id)
        return order

    def _take_stock(self, product_id: int, quantity: int) -> tuple[str | None, str, Decimal] | None:
        """Decrement a live product's stock if it has that much: its sku, name and price."""
        row = self._conn.execute(
            sa.update(products)
            .where(
                _p.id == product_id,
                _p.deleted_at.is_(None),
                _p.stock_quantity >= quantity,
            )
            .values(stock_quantity=_p.stock_quantity - quantity, version=_p.version + 1)
            .returning(_p.sku, _p.name, _p.price)
        ).first()
        return None if row is None else (row[0], row[1], row[2])

    def _stock_of(self, product_id: int) -> int | None:
        return self._conn.execute(
            sa.select(_p.stock_quantity).where(_p.id == product_id, _p.deleted_at.is_(None))
        ).scalar_one_or_none()

    def return_stock(self, lines: Sequence[OrderItem]) -> None:
        for line in sorted(lines, key=lambda item: item.product_id):
            self._conn.execute(
                sa.update(products)
                .where(_p.id == line.product_id)
                .values(stock_quantity=_p.stock_quantity + line.quantity, version=_p.version + 1)
            )

    def _add(self, new: NewOrder, items: Sequence[OrderItem], total: Decimal) -> Order:
        order_id = self._conn.execute(
            sa.insert(orders)
            .values(
                user_id=new.user_id,
                status=OrderStatus.PENDING.value,
                total_amount=total,
                currency=new.currency,
                shipping_address=new.shipping_address,
                created_at=new.now,
                updated_at=new.now,
                idempotency_key=new.idempotency_key,
                request_fingerprint=new.fingerprint,
            )
            .returning(_o.id)
        ).scalar_one()
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
                for item in items
            ],
        )
        return Order(
            id=order_id,
            status=OrderStatus.PENDING,
            items=list(items),
            total_amount=total,
            currency=new.currency,
            shipping_address=new.shipping_address,
            created_at=new.now,
            updated_at=new.now,
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
        _u = users.c
        who = {
            row[0]: (row[1], Customer(*row[1:]))
            for row in self._conn.execute(
                sa.select(_o.id, _u.id, _u.email, _u.first_name, _u.last_name)
                .join_from(orders, users, _o.user_id == _u.id)
                .where(_o.id.in_([order.id for order in found]))
            )
        }
        return [(order, who[order.id][1]) for order in found]

    def customer_of(self, order_id: int) -> Customer | None:
        _u = users.c
        row = self._conn.execute(
            sa.select(_u.id, _u.email, _u.first_name, _u.last_name)
            .join_from(orders, users, _o.user_id == _u.id)
            .where(_o.id == order_id)
        ).first()
        return None if row is None else Customer(*row)

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
        lines: dict[int, list[OrderItem]] = {row[0]: [] for row in rows}
        for line in self._conn.execute(
            sa.select(*_ITEM).where(_i.order_id.in_(list(lines))).order_by(_i.order_id, _i.id)
        ):
            lines[line[0]].append(OrderItem(*line[1:]))
        return [
            Order(
                row[0], OrderStatus(row[1]), lines[row[0]], row[2], row[3], row[4], row[5], row[6]
            )
            for row in rows
        ]
