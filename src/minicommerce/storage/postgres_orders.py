"""Placing an order on PostgreSQL: read, let the domain draft, then one checked write.

Placement's rules live in ``orders/placement.py``; storage reads, locks and writes:

1. ``read``: the wanted lines (given, or the user's cart) and the live products among them,
   as committed now, without locks (one statement);
2. ``orders.placement`` makes the draft in Python;
3. ``add``: one statement, its own transaction. It locks the cart (when it is checked
   out) and the products ``FOR UPDATE`` in ascending id order (the lock is taken after the
   sort), so concurrent multi-line orders always queue in the same order and cannot
   deadlock, and reads their latest committed versions; it checks that they are still what
   the draft was made of (live, same SKU, name and price, the stock; the same cart) and
   only then claims the key, inserts the order, decrements (``stock - q``, with the
   ``stock >= 0`` CHECK behind it), writes the lines and empties the cart. The key's
   primary key makes a concurrent request with the same key wait for the first and then
   yield (``ON CONFLICT DO NOTHING``). When the rows changed, nothing is written and the
   service reads again.

Why so: each statement costs a round trip and about 0.13 ms of psycopg client CPU, and a
transaction that held its row locks over a round trip and the Python in between (``BEGIN``,
lock, write, ``COMMIT``) placed 50-60 % as many orders (docs/benchmarks.md). Two autocommit
statements keep the lock time of the earlier placement that did everything in one
statement, for one more round trip and ~0.2 ms of client CPU, while the rules stay in
Python. The SQL goes through the pooled connection's psycopg cursor.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from psycopg.rows import dict_row
from pydantic_core import to_json

from minicommerce.accounts.models import SignedOut
from minicommerce.orders.models import Order, answer_of, line_json
from minicommerce.orders.placement import OrderDraft, StockRow
from minicommerce.orders.repository import (
    Answered,
    KeyTaken,
    NewOrder,
    Seen,
    Stale,
)
from minicommerce.storage.autocommit import lone_cursor
from minicommerce.storage.orders import SqlOrderRepository, answered, placed
from minicommerce.storage.postgres_sessions import SIGNED_IN, session_params

_ANSWERED = (
    "SELECT fingerprint, order_id, answer FROM idempotency_keys"
    " WHERE user_id = %(user_id)s AND key = %(key)s"
)
_READ_LINES = """
SELECT id, sku, name, price, stock_quantity FROM products
WHERE id = ANY (%(ids)s::bigint[]) AND deleted_at IS NULL
ORDER BY id
"""
_LIVE_ROWS = """
SELECT id, sku, name, price, stock_quantity FROM products
WHERE deleted_at IS NULL ORDER BY id DESC LIMIT %(limit)s
"""
_READ_CART = """
SELECT c.product_id, c.quantity, p.id, p.sku, p.name, p.price, p.stock_quantity
FROM cart_items c
LEFT JOIN products p ON p.id = c.product_id AND p.deleted_at IS NULL
WHERE c.user_id = %(user_id)s
ORDER BY c.product_id
"""
_ADD = """
WITH expected AS (
    SELECT * FROM json_to_recordset(%(lines)s::json)
        AS e(product_id bigint, sku text, name text, quantity int, unit_price numeric,
             line_total numeric)
){cart},
{session}locked AS MATERIALIZED (
    SELECT id, sku, name, price, stock_quantity FROM products
    WHERE id = ANY (%(ids)s::bigint[]) AND deleted_at IS NULL{session_ok}
    ORDER BY id
    FOR UPDATE
),
checked AS (
    SELECT count(*) = %(n)s{cart_ok} AS ok
    FROM locked JOIN expected e ON e.product_id = locked.id
    WHERE locked.sku IS NOT DISTINCT FROM e.sku AND locked.name = e.name
      AND locked.price = e.unit_price AND locked.stock_quantity >= e.quantity
),
reserved AS (
    SELECT nextval(pg_get_serial_sequence('orders', 'id')) AS id FROM checked WHERE ok
){claimed},
new_order AS (
    INSERT INTO orders (id, user_id, status, total_amount, currency, shipping_address,
                        created_at, updated_at)
    SELECT id, %(user_id)s, 'pending', %(total)s, %(currency)s, %(address)s::json,
           %(now)s, %(now)s
    FROM {order_source}
    RETURNING id
),
taken AS (
    UPDATE products p
    SET stock_quantity = p.stock_quantity - e.quantity, version = p.version + 1
    FROM expected e  -- by the primary key: a JSON recordset's row estimate says nothing
    WHERE p.id = ANY (%(ids)s::bigint[]) AND p.id = e.product_id
      AND EXISTS (SELECT FROM new_order)
    RETURNING p.id
),
new_lines AS (
    INSERT INTO order_items (order_id, product_id, sku, name, quantity, unit_price, line_total)
    SELECT new_order.id, e.product_id, e.sku, e.name, e.quantity, e.unit_price, e.line_total
    FROM new_order CROSS JOIN expected e
    ORDER BY e.product_id
){emptied}
SELECT (SELECT ok FROM checked) AS ok, (SELECT id FROM new_order) AS id,
       (SELECT count(*) FROM taken) AS taken, {signed_in} AS signed_in
"""
# The caller's session, checked by the statement that records the order; no product is
# locked when it is not live.
_SESSION = SIGNED_IN + ",\n"
# A cart checkout: the cart, locked first, must still be the one that was read.
_CART = """,
cart AS MATERIALIZED (
    SELECT product_id, quantity FROM cart_items WHERE user_id = %(user_id)s FOR UPDATE
),
cart_seen AS (
    SELECT * FROM json_to_recordset(%(cart)s::json) AS w(product_id bigint, quantity int)
)"""
_CART_OK = """
        AND (SELECT count(*) FROM cart) = %(cart_n)s
        AND (SELECT count(*) FROM cart JOIN cart_seen w
             ON w.product_id = cart.product_id AND w.quantity = cart.quantity) = %(cart_n)s"""
_EMPTIED = """,
emptied AS (
    DELETE FROM cart_items WHERE user_id = %(user_id)s AND EXISTS (SELECT FROM new_order)
)"""
_CLAIMED = """,
claimed AS (
    INSERT INTO idempotency_keys (user_id, key, fingerprint, order_id, answer, created_at)
    SELECT %(user_id)s, %(key)s, %(fingerprint)s, id, %(answer)s, %(now)s FROM reserved
    ON CONFLICT DO NOTHING
    RETURNING order_id AS id
)"""
ADD = {
    (from_cart, keyed, checked): _ADD.format(
        cart=_CART if from_cart else "",
        cart_ok=_CART_OK if from_cart else "",
        session=_SESSION if checked else "",
        session_ok=" AND (SELECT ok FROM signed_in)" if checked else "",
        signed_in="(SELECT ok FROM signed_in)" if checked else "true",
        claimed=_CLAIMED if keyed else "",
        order_source="claimed" if keyed else "reserved",
        emptied=_EMPTIED if from_cart else "",
    )
    for from_cart in (False, True)
    for keyed in (False, True)
    for checked in (False, True)
}


class PgOrderRepository(SqlOrderRepository):
    checks_seen = True
    checks_session = True

    def _run(self, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        with lone_cursor(self._conn.connection.dbapi_connection, dict_row) as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def answered(self, user_id: int, key: str) -> Answered | None:
        rows = self._run(_ANSWERED, {"user_id": user_id, "key": key})
        if not rows:
            return None
        return answered(rows[0]["fingerprint"], rows[0]["order_id"], rows[0]["answer"])

    def read(self, user_id: int, lines: Mapping[int, int] | None) -> Seen:
        if lines is not None:
            rows = self._run(_READ_LINES, {"ids": sorted(lines)}) if lines else []
            return Seen(dict(lines), [StockRow(**row) for row in rows])
        wanted: dict[int, int] = {}
        stock: list[StockRow] = []
        for row in self._run(_READ_CART, {"user_id": user_id}):
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
        return Seen(wanted, stock)

    def live_rows(self, limit: int) -> list[StockRow]:
        return [StockRow(**row) for row in self._run(_LIVE_ROWS, {"limit": limit})]

    def add(
        self, new: NewOrder, draft: OrderDraft, seen: Seen
    ) -> Order | Stale | KeyTaken | SignedOut:
        sql, params = add_statement(new, draft, seen)
        return add_outcome(self._run(sql, params)[0], new, draft)


def add_statement(new: NewOrder, draft: OrderDraft, seen: Seen) -> tuple[str, dict[str, Any]]:
    """``PgOrderRepository.add``'s statement and its parameters (``AsyncPgOrderWriter``
    sends the same)."""
    items = draft.items
    from_cart = new.lines is None
    keyed = new.idempotency_key is not None
    params: dict[str, Any] = {
        "user_id": new.user_id,
        "total": draft.total,
        "currency": new.currency,
        # pydantic's JSON encoder: compact, and about a fifth of the json module's CPU here.
        "address": to_json(new.shipping_address).decode(),
        "now": new.now,
        "ids": [item.product_id for item in items],
        "n": len(items),
        # One JSON parameter: adapting an array per column cost more client CPU.
        "lines": to_json([line_json(item) for item in items]).decode(),
    }
    if from_cart:
        params["cart"] = to_json(
            [{"product_id": p, "quantity": q} for p, q in seen.wanted.items()]
        ).decode()
        params["cart_n"] = len(seen.wanted)
    if keyed:
        params["key"] = new.idempotency_key
        params["fingerprint"] = new.fingerprint
        params["answer"] = answer_of(placed(0, new, draft))  # the id is kept beside it
    session = new.session
    if session is not None:
        params |= session_params(session)
    return ADD[from_cart, keyed, session is not None], params


def add_outcome(
    row: Mapping[str, Any], new: NewOrder, draft: OrderDraft
) -> Order | Stale | KeyTaken | SignedOut:
    """What the row of ``add_statement`` says happened."""
    if not row["signed_in"]:
        return SignedOut()
    if not row["ok"]:
        return Stale()
    if row["id"] is None:
        return KeyTaken()
    if row["taken"] != len(draft.items):  # pragma: no cover - the rows were locked and checked
        raise RuntimeError("a product changed under its lock")
    return placed(row["id"], new, draft)
