"""Cart writes on PostgreSQL: one statement each, the write and the lines after it.

A cart update was six round trips (the session check, ``BEGIN``, the product, the upsert,
the lines, ``COMMIT``), and a request in a worker thread waits for the GIL again after
each one while the event loop serves others: under the mixed load, cart updates made most
of the answers over 100 ms (docs/benchmarks.md). Here the write and the read of the lines
after it are one statement that commits by itself (``autocommit.py``), and the product's
read before it too: three round trips with the session check. The service's rules stay in
Python; the statement only keeps a new line out of a full cart, with the bound it is given.
The lines it answers are those ``carts.py`` reads (live products, oldest line first); the
tests compare the two.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.rows import namedtuple_row

from minicommerce.carts.models import StoredLine
from minicommerce.storage.autocommit import lone_cursor
from minicommerce.storage.carts import SqlCartRepository, stored_lines

# A data-modifying CTE's effects are not visible to the rest of its statement: the lines
# after are the others as they were, with the written one from RETURNING.
_PUT = """
WITH current AS MATERIALIZED (
    SELECT c.product_id, c.quantity, c.added_at
    FROM cart_items c JOIN products p ON p.id = c.product_id AND p.deleted_at IS NULL
    WHERE c.user_id = %(user_id)s::bigint
),
put AS (
    INSERT INTO cart_items (user_id, product_id, quantity, added_at, updated_at)
    SELECT %(user_id)s::bigint, %(product_id)s::bigint, %(quantity)s::int, %(now)s, %(now)s
    WHERE EXISTS (SELECT FROM current WHERE product_id = %(product_id)s::bigint)
       OR (SELECT count(*) FROM current) < %(max_lines)s::int
    ON CONFLICT (user_id, product_id) DO UPDATE
    SET quantity = excluded.quantity, updated_at = excluded.updated_at
    RETURNING product_id, quantity, added_at
),
after AS (
    SELECT product_id, quantity, added_at FROM current
    WHERE product_id <> %(product_id)s::bigint
    UNION ALL
    SELECT product_id, quantity, added_at FROM put
)
SELECT a.product_id, p.sku, p.name, p.price AS unit_price, a.quantity, p.stock_quantity,
       EXISTS (SELECT FROM put) AS put
FROM after a JOIN products p ON p.id = a.product_id AND p.deleted_at IS NULL
ORDER BY a.added_at, a.product_id
"""
_TAKE_OUT = """
WITH gone AS (
    DELETE FROM cart_items
    WHERE user_id = %(user_id)s::bigint AND product_id = %(product_id)s::bigint
)
SELECT c.product_id, p.sku, p.name, p.price AS unit_price, c.quantity, p.stock_quantity
FROM cart_items c JOIN products p ON p.id = c.product_id AND p.deleted_at IS NULL
WHERE c.user_id = %(user_id)s::bigint AND c.product_id <> %(product_id)s::bigint
ORDER BY c.added_at, c.product_id
"""


class PgCartRepository(SqlCartRepository):
    def put(
        self, user_id: int, product_id: int, quantity: int, now: datetime, max_lines: int
    ) -> list[StoredLine] | None:
        params = {
            "user_id": user_id,
            "product_id": product_id,
            "quantity": quantity,
            "now": now,
            "max_lines": max_lines,
        }
        rows = self._run(_PUT, params)
        # No row at all: nothing was refused (a refusal needs a full cart), the one line
        # written lost its product to a removal meanwhile.
        if rows and not rows[0].put:
            return None
        return stored_lines(rows)

    def take_out(self, user_id: int, product_id: int) -> list[StoredLine]:
        return stored_lines(self._run(_TAKE_OUT, {"user_id": user_id, "product_id": product_id}))

    def _run(self, sql: str, params: dict[str, Any]) -> list[Any]:
        with lone_cursor(self._conn.connection.dbapi_connection, namedtuple_row) as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
