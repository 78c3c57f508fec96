"""Engines for SQLite and PostgreSQL, tuned for how minicommerce uses them.

Every :class:`Database` has a *writer* and a *reader* engine.

- SQLite runs in WAL mode (readers never block the writer) with a busy timeout, and every
  write transaction starts with ``BEGIN IMMEDIATE``: the write lock is taken up front and
  waited for, instead of being upgraded mid-transaction, which is what makes SQLite fail
  with "database is locked" under concurrent writers. Reads run in autocommit.
- PostgreSQL (psycopg 3) writes at READ COMMITTED; its reader runs in autocommit, so a
  one-statement read costs one round trip. A replica URL can back the reader.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.pool import StaticPool

from minicommerce.drivers import require_psycopg

SQLITE_BUSY_TIMEOUT_S = 30


def normalise_url(url: str | URL) -> URL:
    """``postgresql://`` and ``postgres://`` mean psycopg 3; ``sqlite://`` means the stdlib."""
    if isinstance(url, str) and url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError(
            f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql"
        )
    return parsed


def is_memory_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


@dataclass(frozen=True, slots=True)
class Database:
    """The engines of one database: ``writer`` for transactions, ``reader`` for reads."""

    url: URL
    writer: Engine
    reader: Engine

    @property
    def backend(self) -> str:
        return self.url.get_backend_name()

    def dispose(self) -> None:
        self.writer.dispose()
        if self.reader is not self.writer:
            self.reader.dispose()


def open_database(
    url: str | URL,
    *,
    pool_size: int = 10,
    max_overflow: int = 10,
    echo: bool = False,
) -> Database:
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _open_sqlite(parsed, echo=echo)
    require_psycopg()
    common: dict[str, Any] = {
        "pool_size": pool_size,
        "max_overflow": max_overflow,
        "pool_recycle": 1800,
        "echo": echo,
        "connect_args": {"options": "-c timezone=UTC"},
        # Errors must not carry statement parameters (password hashes, emails) into logs.
        "hide_parameters": True,
    }
    writer = sa.create_engine(parsed, **common)
    # Autocommit leaves nothing to roll back when a connection returns to the pool.
    reader = sa.create_engine(
        parsed, isolation_level="AUTOCOMMIT", pool_reset_on_return=None, **common
    )
    return Database(parsed, writer, reader)


def _open_sqlite(url: URL, *, echo: bool) -> Database:
    args = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S}
    if is_memory_sqlite(url):
        # One shared connection: an in-memory database lives and dies with its connection.
        engine = sa.create_engine(
            url, connect_args=args, poolclass=StaticPool, echo=echo, hide_parameters=True
        )
        _configure_sqlite(engine, begin="BEGIN IMMEDIATE")
        return Database(url, engine, engine)
    writer = sa.create_engine(url, connect_args=args, echo=echo, hide_parameters=True)
    reader = sa.create_engine(
        url, connect_args=args, echo=echo, hide_parameters=True, pool_reset_on_return=None
    )
    _configure_sqlite(writer, begin="BEGIN IMMEDIATE")
    _configure_sqlite(reader, begin=None)
    return Database(url, writer, reader)


def _use_wal(cursor: Any) -> None:
    """Switch the database file to WAL (it stays so). The switch needs the database to
    itself and SQLite does not wait for that (the busy timeout does not apply), so a first
    start with several processes at once retries instead of failing."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _configure_sqlite(engine: Engine, *, begin: str | None) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module, which would otherwise
        # issue a deferred BEGIN on its own before the first write.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
            if not is_memory_sqlite(engine.url):
                _use_wal(cursor)
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    if begin is not None:
        statement = begin

        @event.listens_for(engine, "begin")
        def _on_begin(conn: sa.Connection) -> None:
            conn.exec_driver_sql(statement)
