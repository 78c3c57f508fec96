"""Hot reads, compiled once and run straight on the driver where that is exact.

SQLAlchemy's execute machinery (execution context, result metadata, row objects) costs about
as much as the query itself on the catalog's hottest reads. On PostgreSQL the columns these
reads return need no conversion (see ``types.py``), so there a :class:`CompiledRead` sends
its SQL, compiled once by SQLAlchemy's own compiler, through the connection's psycopg
cursor and returns named tuples; the first statement of a write goes without ``BEGIN``
(``autocommit.py``). Elsewhere (SQLite: integer cents, naive datetimes) it runs
the statement the ordinary way. The transaction and the pool stay SQLAlchemy's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa


class CompiledRead:
    def __init__(self, statement: sa.Select[Any]) -> None:
        self.statement = statement
        self._compiled: tuple[str, dict[str, Any]] | None = None

    def _sql(self, dialect: sa.Dialect) -> tuple[str, dict[str, Any]]:
        if self._compiled is None:
            compiled = self.statement.compile(dialect=dialect)
            # Literal values inside the statement (such as the 0 of "stock > 0") become
            # parameters too; they are sent along with the caller's.
            self._compiled = (str(compiled), dict(compiled.params))
        return self._compiled

    def all(self, conn: sa.Connection, params: Mapping[str, Any]) -> Sequence[Any]:
        if conn.dialect.name != "postgresql":
            return conn.execute(self.statement, dict(params)).all()
        sql, defaults = self._sql(conn.dialect)
        # Here: psycopg is an optional extra.
        from psycopg.rows import namedtuple_row

        from minicommerce.storage.autocommit import lone_cursor

        # Named tuples: entities are built by column name, whichever path read the row. As
        # a write's first statement, the read goes without BEGIN (see autocommit.py).
        with lone_cursor(conn.connection.dbapi_connection, namedtuple_row) as cursor:
            cursor.execute(sql, {**defaults, **params})
            return cursor.fetchall()

    def first(self, conn: sa.Connection, params: Mapping[str, Any]) -> Any | None:
        rows = self.all(conn, params)
        return rows[0] if rows else None


def contains_pattern(term: str) -> str:
    """A LIKE pattern matching ``term`` anywhere, its own ``%``, ``_`` and ``\\`` taken
    literally (use with ``escape="\\"``)."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
