"""Cart writes on PostgreSQL: one statement each, the write and the lines after it.

A cart update was six round trips (the session check, ``BEGIN``, the product, the upsert,
the lines, ``COMMIT``), and a request in a worker thread waits for the GIL again after
each one while the event loop serves others: under the mixed load, cart updates made most
of the answers over 100 ms (docs/benchmarks.md). Here the write and the read of the lines
after it are one statement that commits by itself (``autocommit.py``), and the product's
read before it too. Given the caller's session, the write checks it in the same statement
(``postgres_sessions.py``), as a cart's read does: two round trips for an update, one for a
view. The service's rules stay in Python; the statement only keeps a new line out of a
full cart, with the bound it is given. The lines it answers are those ``carts.py`` reads
(live products, oldest line first); the tests compare the two.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.rows import namedtuple_row

from minicommerce.accounts.models import SessionCheck, SignedOut
from minicommerce.carts.models import StoredLine
from minicommerce.storage.autocommit import lone_cursor
from minicommerce.storage.carts import SqlCartRepository, stored_lines
from minicommerce.storage.postgres_sessions import SIGNED_IN, session_params

# One shape with or without the caller's session to check (``postgres_sessions.py``):
# ``signed_in`` is then a constant true. Every answer has at least one row, ``signed_in``'s,
# whose line columns are NULL when there is no line to answer. A data-modifying CTE's
# effects are not visible to the rest of its statement: the lines after are the others as
# they were, with the written one from RETURNING.
_PUT = """
WITH {signed_in},
current AS MATERIALIZED (
    SELECT c.product_id, c.quantity, c.added_at
    FROM cart_items c JOIN products p ON p.id = c.product_id AND p.deleted_at IS NULL
    WHERE c.user_id = %(user_id)s::bigint AND (SELECT ok FROM signed_in)
),
put AS (
    INSERT INTO cart_items (user_id, product_id, quantity, added_at, updated_at)
    SELECT %(user_id)s::bigint, %(product_id)s::bigint, %(quantity)s::int, %(now)s, %(now)s
    WHERE (SELECT ok FROM signed_in)
      AND (EXISTS (SELECT FROM current WHERE product_id = %(product_id)s::bigint)
           OR (SELECT count(*) FROM current) < %(max_lines)s::int)
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
SELECT s.ok AS signed_in, EXISTS (SELECT FROM put) AS put, l.*
FROM signed_in s LEFT JOIN (
    SELECT a.product_id, p.sku, p.name, p.price AS unit_price, a.quantity, p.stock_quantity,
           a.added_at
    FROM after a JOIN products p ON p.id = a.product_id AND p.deleted_at IS NULL
) l ON true
ORDER BY l.added_at, l.product_id
"""
# The lines of ``carts.py``, with the session checked: none are read when it is not live.
_LINES = """
WITH {signed_in}
SELECT s.ok AS signed_in, l.*
FROM signed_in s LEFT JOIN (
    SELECT c.product_id, p.sku, p.name, p.price AS unit_price, c.quantity, p.stock_quantity,
           c.added_at
    FROM cart_items c JOIN products p ON p.id = c.product_id AND p.deleted_at IS NULL
    WHERE c.user_id = %(user_id)s::bigint
) l ON s.ok
ORDER BY l.added_at, l.product_id
"""
_NO_SESSION = "signed_in AS (SELECT true AS ok)"
PUT = {checked: _PUT.format(signed_in=SIGNED_IN if checked else _NO_SESSION)
       for checked in (False, True)}  # fmt: skip
LINES = _LINES.format(signed_in=SIGNED_IN)
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
    checks_session = True

    def lines(
        self, user_id: int, *, session: SessionCheck | None = None
    ) -> list[StoredLine] | SignedOut:
        if session is None:
            return super().lines(user_id)
        rows = self._run(LINES, {"user_id": user_id} | session_params(session))
        return _answer(rows)

    def put(
        self,
        user_id: int,
        product_id: int,
        quantity: int,
        now: datetime,
        max_lines: int,
        *,
        session: SessionCheck | None = None,
    ) -> list[StoredLine] | SignedOut | None:
        params = {
            "user_id": user_id,
            "product_id": product_id,
            "quantity": quantity,
            "now": now,
            "max_lines": max_lines,
        }
        if session is not None:
            params |= session_params(session)
        rows = self._run(PUT[session is not None], params)
        if rows[0].signed_in and not rows[0].put:  # a new line refused: the cart is full
            return None
        return _answer(rows)

    def take_out(self, user_id: int, product_id: int) -> list[StoredLine]:
        return stored_lines(self._run(_TAKE_OUT, {"user_id": user_id, "product_id": product_id}))

    def _run(self, sql: str, params: dict[str, Any]) -> list[Any]:
        with lone_cursor(self._conn.connection.dbapi_connection, namedtuple_row) as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()


def _answer(rows: list[Any]) -> list[StoredLine] | SignedOut:
    """The lines of a statement whose first row says whether the session was live."""
    if not rows[0].signed_in:
        return SignedOut()
    return stored_lines(row for row in rows if row.product_id is not None)
