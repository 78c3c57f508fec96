"""Engines for SQLite and PostgreSQL, tuned for how minicommerce uses them.

Every :class:`Database` has a *writer* and a *reader* engine.

- SQLite runs in WAL mode (readers never block the writer) with a busy timeout, and every
  write transaction starts with ``BEGIN IMMEDIATE``: the write lock is taken up front and
  waited for, instead of being upgraded mid-transaction, which is what makes SQLite fail
  with "database is locked" under concurrent writers. Reads run in autocommit. Commits are
  ``synchronous=FULL`` unless opted out: in WAL mode ``NORMAL`` can lose the last
  acknowledged transactions on power loss.
- PostgreSQL (psycopg 3) writes at READ COMMITTED; its reader runs in autocommit, so a
  one-statement read costs one round trip. A replica URL can back the reader.

Every wait on the database is bounded (:class:`Timeouts`), so that a database that is down,
locked or too slow costs a caller seconds and an error, not a stuck thread.
"""

from __future__ import annotations

import math
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.pool import StaticPool

from minicommerce.drivers import require_psycopg

SQLITE_SYNCHRONOUS = ("full", "normal")
WAL_SWITCH_TIMEOUT_S = 30  # once per database file, when several processes start together


@dataclass(frozen=True, slots=True)
class Timeouts:
    """How long to wait on the database, in seconds.

    ``connect``: to open a PostgreSQL connection. ``statement``: for one PostgreSQL statement
    (the server cancels it; migrations are exempt). ``pool``: for a pooled connection when
    all are in use. ``sqlite_busy``: for SQLite's write lock.
    """

    connect: float = 5.0
    statement: float = 10.0
    pool: float = 5.0
    sqlite_busy: float = 5.0

    @property
    def longest_read(self) -> float:
        """The longest a healthy but busy database can take over one read: waiting for a
        connection (pooled or new), then the statement."""
        return max(self.connect, self.pool) + self.statement


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
    timeouts: Timeouts = Timeouts()

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
    timeouts: Timeouts | None = None,
    sqlite_synchronous: str = "full",
) -> Database:
    timeouts = timeouts or Timeouts()
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        if sqlite_synchronous not in SQLITE_SYNCHRONOUS:
            raise ValueError(f"sqlite_synchronous must be one of {SQLITE_SYNCHRONOUS}")
        pool = {"pool_size": pool_size, "max_overflow": max_overflow, "pool_timeout": timeouts.pool}
        return _open_sqlite(parsed, echo, timeouts, sqlite_synchronous, pool)
    require_psycopg()
    statement_ms = max(1, round(timeouts.statement * 1000))
    common: dict[str, Any] = {
        "pool_size": pool_size,
        "max_overflow": max_overflow,
        "pool_recycle": 1800,
        "pool_timeout": timeouts.pool,
        "echo": echo,
        "connect_args": {
            "options": f"-c timezone=UTC -c statement_timeout={statement_ms}",
            # libpq counts whole seconds (and treats under 2 as 2).
            "connect_timeout": max(1, math.ceil(timeouts.connect)),
            # A peer that vanishes (a network partition) is noticed in seconds, not after
            # the kernel's 2 h keepalive default or 15 minutes of retransmissions.
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 5,
            "keepalives_count": 3,
            "tcp_user_timeout": statement_ms + 5000,
        },
        # Errors must not carry statement parameters (password hashes, emails) into logs.
        "hide_parameters": True,
    }
    writer = sa.create_engine(parsed, **common)
    # Autocommit leaves nothing to roll back when a connection returns to the pool.
    reader = sa.create_engine(
        parsed, isolation_level="AUTOCOMMIT", pool_reset_on_return=None, **common
    )
    return Database(parsed, writer, reader, timeouts)


def _open_sqlite(
    url: URL, echo: bool, timeouts: Timeouts, synchronous: str, pool: dict[str, Any]
) -> Database:
    args = {"check_same_thread": False, "timeout": timeouts.sqlite_busy}
    if is_memory_sqlite(url):
        # One shared connection: an in-memory database lives and dies with its connection.
        engine = sa.create_engine(
            url, connect_args=args, poolclass=StaticPool, echo=echo, hide_parameters=True
        )
        _configure_sqlite(engine, "BEGIN IMMEDIATE", timeouts.sqlite_busy, synchronous)
        return Database(url, engine, engine, timeouts)
    common: dict[str, Any] = {"connect_args": args, "echo": echo, "hide_parameters": True, **pool}
    writer = sa.create_engine(url, **common)
    reader = sa.create_engine(url, pool_reset_on_return=None, **common)
    _configure_sqlite(writer, "BEGIN IMMEDIATE", timeouts.sqlite_busy, synchronous)
    _configure_sqlite(reader, None, timeouts.sqlite_busy, synchronous)
    return Database(url, writer, reader, timeouts)


def _use_wal(cursor: Any, busy_timeout: float) -> None:
    """Switch the database file to WAL (it stays so). The switch needs the database to
    itself and SQLite does not wait for that (the busy timeout does not apply), so a first
    start with several processes at once retries instead of failing."""
    deadline = time.monotonic() + max(busy_timeout, WAL_SWITCH_TIMEOUT_S)
    while cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _configure_sqlite(
    engine: Engine, begin: str | None, busy_timeout: float, synchronous: str
) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module, which would otherwise
        # issue a deferred BEGIN on its own before the first write.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout={round(busy_timeout * 1000)}")
            if not is_memory_sqlite(engine.url):
                _use_wal(cursor, busy_timeout)
            cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    if begin is not None:
        statement = begin

        @event.listens_for(engine, "begin")
        def _on_begin(conn: sa.Connection) -> None:
            conn.exec_driver_sql(statement)
