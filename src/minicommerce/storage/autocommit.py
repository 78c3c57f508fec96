"""A statement sent on its own, without ``BEGIN`` and ``COMMIT``, where that is exact.

psycopg starts a transaction with ``BEGIN`` sent as a round trip of its own before the
first statement, and ends it with ``COMMIT``, one more. A unit of work whose only write is
one statement (a cart line, an order placement) gains nothing from them: the statement is
atomic by itself. So a statement sent when the unit of work has sent nothing yet commits by
itself, and the unit of work's commit then has nothing to do; inside a started transaction
it simply joins it. A read sent so before a write is as before too: at READ COMMITTED, where
the writer runs, each statement of a transaction sees what was committed when it started.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import RowFactory


@contextmanager
def lone_cursor(raw: Any, row_factory: RowFactory[Any]) -> Iterator[psycopg.Cursor[Any]]:
    """A cursor of the psycopg connection ``raw`` whose statements commit by themselves
    when no transaction is open on it, and join the open one otherwise."""
    connection: psycopg.Connection[Any] = raw
    fresh = (
        not connection.autocommit and connection.info.transaction_status == TransactionStatus.IDLE
    )
    if fresh:
        connection.autocommit = True
    try:
        with connection.cursor(row_factory=row_factory) as cursor:
            yield cursor
    finally:
        if fresh:
            connection.autocommit = False
