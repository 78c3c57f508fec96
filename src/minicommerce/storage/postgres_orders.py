"""Placing an order on PostgreSQL: few statements, sent straight through psycopg.

Placement's rules live in ``orders/placement.py``; here storage only locks, reads and
writes, inside the unit of work's transaction (READ COMMITTED):

1. ``claim_key`` (with an Idempotency-Key): ``INSERT ... ON CONFLICT DO NOTHING`` on the
   primary key waits for a concurrent request with the same key to end, then yields to it;
2. ``lock``: the wanted lines (given, or the user's cart rows, locked) and the live
   products among them, locked ``FOR UPDATE`` in ascending id order (the lock is taken
   after the sort), so concurrent multi-line orders always queue in the same order and
   cannot deadlock; the rows read are the latest committed versions;
3. ``add``: one statement writes the draft: the order, the conditional decrement (``stock
   >= q``, a guard behind the lock, with the ``stock >= 0`` CHECK behind it), the lines,
   the emptied cart and the answer kept with the key.

Each statement costs a round trip and about 0.13 ms of psycopg client CPU, so the SQL
goes through the pooled connection's psycopg cursor (no SQLAlchemy execute machinery) and
the first statement of the transaction is pipelined with its ``BEGIN``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from minicommerce.orders.models import Order, answer_of
from minicommerce.orders.placement import OrderDraft, StockRow
from minicommerce.orders.repository import Answered, Locked, NewOrder
from minicommerce.storage.orders import SqlOrderRepository, answered, placed

_CLAIM = (
    "INSERT INTO idempotency_keys (user_id, key, fingerprint, created_at)"
    " VALUES (%(user_id)s, %(key)s, %(fingerprint)s, %(now)s)"
    " ON CONFLICT DO NOTHING RETURNING true AS claimed"
)
_ANSWERED = (
    "SELECT fingerprint, order_id, answer FROM idempotency_keys"
    " WHERE user_id = %(user_id)s AND key = %(key)s"
)
_LOCK_LINES = """
SELECT id, sku, name, price, stock_quantity FROM products
WHERE id = ANY (%(ids)s::bigint[]) AND deleted_at IS NULL
ORDER BY id
FOR UPDATE
"""
_LOCK_CART = """
WITH wanted AS (
    SELECT product_id, quantity FROM cart_items WHERE user_id = %(user_id)s FOR UPDATE
)
SELECT wanted.product_id, wanted.quantity, p.id, p.sku, p.name, p.price, p.stock_quantity
FROM wanted
LEFT JOIN (
    SELECT id, sku, name, price, stock_quantity FROM products
    WHERE id = ANY (ARRAY(SELECT product_id FROM wanted)) AND deleted_at IS NULL
    ORDER BY id
    FOR UPDATE
) AS p ON p.id = wanted.product_id
ORDER BY wanted.product_id
"""
_ADD = """
WITH new_order AS (
    INSERT INTO orders (user_id, status, total_amount, currency, shipping_address,
                        created_at, updated_at)
    VALUES (%(user_id)s, 'pending', %(total)s, %(currency)s, %(address)s::json,
            %(now)s, %(now)s)
    RETURNING id
),
lines AS (
    SELECT * FROM json_to_recordset(%(lines)s::json)
        AS l(product_id bigint, sku text, name text, quantity int, unit_price numeric,
             line_total numeric)
),
taken AS (
    UPDATE products p
    SET stock_quantity = p.stock_quantity - lines.quantity, version = p.version + 1
    FROM lines
    WHERE p.id = lines.product_id AND p.stock_quantity >= lines.quantity
    RETURNING p.id
),
new_lines AS (
    INSERT INTO order_items (order_id, product_id, sku, name, quantity, unit_price, line_total)
    SELECT new_order.id, lines.product_id, lines.sku, lines.name, lines.quantity,
           lines.unit_price, lines.line_total
    FROM new_order CROSS JOIN lines
    ORDER BY lines.product_id
){emptied}{answered}
SELECT id, (SELECT count(*) FROM taken) AS taken FROM new_order
"""
_EMPTIED = """,
emptied AS (DELETE FROM cart_items WHERE user_id = %(user_id)s)"""
_KEPT = """,
kept AS (
    UPDATE idempotency_keys SET order_id = (SELECT id FROM new_order), answer = %(answer)s
    WHERE user_id = %(user_id)s AND key = %(key)s
)"""
ADD = {
    (from_cart, keyed): _ADD.format(
        emptied=_EMPTIED if from_cart else "", answered=_KEPT if keyed else ""
    )
    for from_cart in (False, True)
    for keyed in (False, True)
}


class PgOrderRepository(SqlOrderRepository):
    def _run(self, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Run one statement that returns rows, in the unit of work's transaction. When it
        is the first, it goes out in one round trip with the ``BEGIN`` that psycopg sends
        before it."""
        connection: psycopg.Connection[Any] = self._conn.connection.dbapi_connection  # type: ignore[assignment]
        with connection.cursor(row_factory=dict_row) as cursor:
            if connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
                with connection.pipeline():
                    cursor.execute(sql, params)
                    return cursor.fetchall()
            cursor.execute(sql, params)
            return cursor.fetchall()

    def claim_key(self, user_id: int, key: str, fingerprint: str, now: datetime) -> Answered | None:
        params = {"user_id": user_id, "key": key, "fingerprint": fingerprint, "now": now}
        while True:
            if self._run(_CLAIM, params):
                return None
            rows = self._run(_ANSWERED, params)
            if rows:  # else purged since: claim again
                row = rows[0]
                return answered(row["fingerprint"], row["order_id"], row["answer"])

    def lock(self, user_id: int, lines: Mapping[int, int] | None) -> Locked:
        if lines is not None:
            rows = self._run(_LOCK_LINES, {"ids": sorted(lines)}) if lines else []
            return Locked(dict(lines), [StockRow(**row) for row in rows])
        wanted: dict[int, int] = {}
        stock: list[StockRow] = []
        for row in self._run(_LOCK_CART, {"user_id": user_id}):
            wanted[row["product_id"]] = row["quantity"]
            if row["id"] is not None:
                stock.append(
                    StockRow(
                        id=row["id"],
                        sku=row["sku"],
                        name=row["name"],
                        price=row["price"],
                        stock_quantity=row["stock_quantity"],
                    )
                )
        return Locked(wanted, stock)

    def add(self, new: NewOrder, draft: OrderDraft) -> Order:
        items = draft.items
        keyed = new.idempotency_key is not None
        params: dict[str, Any] = {
            "user_id": new.user_id,
            "total": draft.total,
            "currency": new.currency,
            "address": json.dumps(new.shipping_address, separators=(",", ":")),
            "now": new.now,
            # One JSON parameter: adapting six arrays cost more client CPU than the rest.
            "lines": json.dumps(
                [
                    {
                        "product_id": item.product_id,
                        "sku": item.sku,
                        "name": item.name,
                        "quantity": item.quantity,
                        "unit_price": str(item.unit_price),
                        "line_total": str(item.line_total),
                    }
                    for item in items
                ],
                separators=(",", ":"),
            ),
        }
        if keyed:
            params["key"] = new.idempotency_key
            params["answer"] = answer_of(placed(0, new, draft))  # the id is kept beside it
        rows = self._run(ADD[new.lines is None, keyed], params)
        if rows[0]["taken"] != len(items):  # pragma: no cover - the rows were locked and checked
            raise RuntimeError("a product changed under its lock")
        return placed(rows[0]["id"], new, draft)
