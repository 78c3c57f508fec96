"""Orders, their lines, stock movements and idempotency keys on SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from minicommerce.orders.models import Customer, Order, OrderItem, OrderStatus
from minicommerce.storage.tables import idempotency_keys, order_items, orders, products, users

_o = orders.c
_i = order_items.c
_p = products.c
_k = idempotency_keys.c
_ORDER = (_o.id, _o.status, _o.total_amount, _o.currency, _o.shipping_address, _o.created_at,
          _o.updated_at)  # fmt: skip
_ITEM = (_i.order_id, _i.product_id, _i.sku, _i.name, _i.quantity, _i.unit_price, _i.line_total)


class SqlOrderRepository:
    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def claim_key(
        self, user_id: int, key: str, fingerprint: str, now: datetime
    ) -> tuple[str, int | None] | None:
        dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        # ON CONFLICT DO NOTHING waits for a concurrent claim of the same key to end, then
        # yields to it: the later request replays the earlier one instead of failing.
        inserted = self._conn.execute(
            dialect.insert(idempotency_keys)
            .values(user_id=user_id, key=key, fingerprint=fingerprint, created_at=now)
            .on_conflict_do_nothing()
            .returning(_k.user_id)
        )
        if inserted.first() is not None:  # rowcount is not reliable for this statement
            return None
        row = self._conn.execute(
            sa.select(_k.fingerprint, _k.order_id).where(_k.user_id == user_id, _k.key == key)
        ).one()
        return row[0], row[1]

    def complete_key(self, user_id: int, key: str, order_id: int) -> None:
        self._conn.execute(
            sa.update(idempotency_keys)
            .where(_k.user_id == user_id, _k.key == key)
            .values(order_id=order_id)
        )

    def take_stock(self, product_id: int, quantity: int) -> tuple[str | None, str, Decimal] | None:
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

    def stock_of(self, product_id: int) -> int | None:
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

    def add(
        self,
        *,
        user_id: int,
        items: Sequence[OrderItem],
        total: Decimal,
        currency: str,
        address: dict[str, Any],
        now: datetime,
    ) -> Order:
        order_id = self._conn.execute(
            sa.insert(orders)
            .values(
                user_id=user_id,
                status=OrderStatus.PENDING.value,
                total_amount=total,
                currency=currency,
                shipping_address=address,
                created_at=now,
                updated_at=now,
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
            currency=currency,
            shipping_address=address,
            created_at=now,
            updated_at=now,
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
