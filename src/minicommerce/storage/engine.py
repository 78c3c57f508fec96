"""Engines for SQLite and PostgreSQL, tuned for how minicommerce uses them.

Every :class:`Database` has a *writer* and a *reader* engine.

- SQLite runs in WAL mode (readers never block the writer) with a busy timeout, and every
  write transaction starts with ``BEGIN IMMEDIATE``: the write lock is taken up front and
  waited for, instead of being upgraded mid-transaction, which is what makes SQLite fail
  with "database is locked" under concurrent writers. Reads run in autocommit. Commits are
  ``synchronous=FULL`` unless opted out: in WAL mode ``NORMAL`` can lose the last
  acknowledged transactions on power loss.
- PostgreSQL (psycopg 3) writes at READ COMMITTED; its reader runs in autocommit, so a
  one-statement read costs one round trip. Read replicas (``replica_urls``) serve the reads
  that may lag (``replicas.py`` chooses one); everything else stays on the primary.
- Behind PgBouncer in transaction mode (``pgbouncer=True``) consecutive statements may run
  on different server connections, so nothing may live in a session: psycopg prepares no
  statements, and no ``options`` startup parameter is sent (PgBouncer refuses it). The
  session's time zone and statement timeout then come from the role or database settings
  (``ALTER ROLE ... SET``), which :func:`check_session` verifies at start.

Every wait on the database is bounded (:class:`Timeouts`), so that a database that is down,
locked or too slow costs a caller seconds and an error, not a stuck thread.
"""

from __future__ import annotations

import logging
import math
import select
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.pool import StaticPool

from minicommerce.drivers import require_psycopg
from minicommerce.errors import ConfigurationError
from minicommerce.storage.replicas import ReplicaSet

log = logging.getLogger("minicommerce.storage")
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
    """The engines of one database: ``writer`` for transactions, ``reader`` for reads on
    the primary, and the read ``replicas`` if any."""

    url: URL
    writer: Engine
    reader: Engine
    timeouts: Timeouts = Timeouts()
    replicas: ReplicaSet | None = None
    pgbouncer: bool = False

    @property
    def backend(self) -> str:
        return self.url.get_backend_name()

    def dispose(self) -> None:
        if self.replicas is not None:
            self.replicas.close()
        self.writer.dispose()
        if self.reader is not self.writer:
            self.reader.dispose()


def open_database(
    url: str | URL,
    *,
    pool_size: int = 20,
    # No overflow: SQLAlchemy closes an overflow connection as soon as it is returned, so
    # more busy threads than pooled connections meant a new PostgreSQL backend (a fork and
    # an authentication, ~1 ms of CPU on each side) for every read; measured as 0.7 cores
    # of "other" load under the catalog bench (docs/benchmarks.md).
    max_overflow: int = 0,
    echo: bool = False,
    timeouts: Timeouts | None = None,
    sqlite_synchronous: str = "full",
    pgbouncer: bool = False,
    replica_urls: Sequence[str | URL] = (),
    replica_max_lag: float = 5.0,
    replica_probe_interval: float = 0.5,
) -> Database:
    """Engines for ``url``. PostgreSQL only: ``pgbouncer`` (every URL goes through
    PgBouncer in transaction mode), ``replica_urls`` (streaming replicas for the reads that
    may lag, skipped when down or lagging more than ``replica_max_lag`` seconds; their
    health is probed every ``replica_probe_interval`` seconds)."""
    timeouts = timeouts or Timeouts()
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        if replica_urls or pgbouncer:
            raise ConfigurationError("read replicas and PgBouncer need a PostgreSQL database")
        if sqlite_synchronous not in SQLITE_SYNCHRONOUS:
            raise ValueError(f"sqlite_synchronous must be one of {SQLITE_SYNCHRONOUS}")
        pool = {"pool_size": pool_size, "max_overflow": max_overflow, "pool_timeout": timeouts.pool}
        return _open_sqlite(parsed, echo, timeouts, sqlite_synchronous, pool)
    require_psycopg()
    common = _postgres_options(timeouts, pool_size, max_overflow, echo, pgbouncer)
    writer = sa.create_engine(parsed, **_generic_plans(common, pgbouncer))
    # Autocommit leaves nothing to roll back when a connection returns to the pool.
    reader = sa.create_engine(
        parsed, isolation_level="AUTOCOMMIT", pool_reset_on_return=None, **common
    )
    replicas = None
    if replica_urls:
        urls = [normalise_url(u) for u in replica_urls]
        replicas = ReplicaSet(
            reader,
            [_replica_engine(u, common) for u in urls],
            probes=[_probe_engine(u, pgbouncer) for u in urls],
            max_lag=replica_max_lag,
            probe_interval=replica_probe_interval,
        )
    return Database(parsed, writer, reader, timeouts, replicas, pgbouncer)


def _postgres_options(
    timeouts: Timeouts, pool_size: int, max_overflow: int, echo: bool, pgbouncer: bool
) -> dict[str, Any]:
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
    if pgbouncer:
        args = common["connect_args"]
        # PgBouncer (1.18) refuses the options startup parameter, and in transaction mode a
        # statement prepared on one server connection is unknown on the next.
        del args["options"]
        args["prepare_threshold"] = None
    return common


def _generic_plans(common: dict[str, Any], pgbouncer: bool) -> dict[str, Any]:
    """The writer's options: its prepared statements always run their generic plan.

    The writer runs short statements that find their rows by key. PostgreSQL's default
    (``auto``) plans a prepared statement afresh at each call while its generic plan looks
    dearer than the custom ones, and for order placement's statement it always does: a
    JSON recordset is estimated at 100 rows and an array parameter at 10 elements, so the
    generic plan never wins, and planning that statement again cost about 0.3 ms of PostgreSQL
    CPU per order, half of all it spent on one (docs/benchmarks.md). Its generic plan is
    the same index scans by primary key. Reads (the reader and the replicas, where a
    filter's selectivity varies with its value) keep ``auto``. Behind PgBouncer nothing is
    prepared, so there is nothing to set (and it refuses ``options``)."""
    if pgbouncer:
        return common
    args = common["connect_args"]
    options = f"{args['options']} -c plan_cache_mode=force_generic_plan"
    return {**common, "connect_args": {**args, "options": options}}


def writer_connect_args(timeouts: Timeouts, pgbouncer: bool) -> dict[str, Any]:
    """psycopg's connection arguments for the writer's connections: what the writer engine
    connects with, for connections made without it (``async_orders.py``)."""
    common = _postgres_options(timeouts, 1, 0, False, pgbouncer)
    return dict(_generic_plans(common, pgbouncer)["connect_args"])


def _replica_engine(url: URL, common: dict[str, Any]) -> Engine:
    if url.get_backend_name() != "postgresql":
        raise ConfigurationError("read replicas must be PostgreSQL databases")
    engine = sa.create_engine(
        url, isolation_level="AUTOCOMMIT", pool_reset_on_return=None, **common
    )
    _drop_closed_connections(engine)
    return engine


def _drop_closed_connections(engine: Engine) -> None:
    @event.listens_for(engine, "checkout")
    def _alive(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        # An idle connection receives nothing; something to read means the server ended
        # it (a replica shut down or restarted). One poll(), no round trip: the pool then
        # connects afresh, and a replica that is down is skipped by the unit of work.
        if _readable(dbapi_conn.pgconn.socket):
            raise sa.exc.DisconnectionError("the replica closed this connection")


PROBE_TIMEOUT_S = 2  # libpq's shortest connect timeout


def _probe_engine(url: URL, pgbouncer: bool) -> Engine:
    """One connection for a replica's health probe, with short timeouts: a replica that
    does not answer is given up on in seconds, and delays the other probes no longer."""
    args: dict[str, Any] = {
        "connect_timeout": PROBE_TIMEOUT_S,
        "tcp_user_timeout": PROBE_TIMEOUT_S * 1000,
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 2,
        "keepalives_count": 2,
    }
    if pgbouncer:
        args["prepare_threshold"] = None
    else:
        args["options"] = f"-c statement_timeout={PROBE_TIMEOUT_S * 1000}"
    engine = sa.create_engine(
        url,
        isolation_level="AUTOCOMMIT",
        pool_size=1,
        max_overflow=0,
        pool_timeout=PROBE_TIMEOUT_S,
        pool_reset_on_return=None,
        connect_args=args,
        hide_parameters=True,
    )
    _drop_closed_connections(engine)
    return engine


def _readable(fd: int) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


UTC_NAMES = frozenset({"utc", "etc/utc", "universal", "etc/universal", "zulu", "etc/zulu", "uct"})


def check_session(database: Database) -> None:
    """PostgreSQL's settings that the shop depends on, checked at start (one query).

    Behind PgBouncer, the session settings that a direct connection sends at start-up
    must come from the role or database: refuse a time zone other than UTC (timestamps
    and the statistics' days depend on it), and warn when there is no statement timeout.
    On any PostgreSQL, warn when autovacuum is off: planner statistics then stay as they
    were, and plans made while a table was small (the foreign-key checks of every order
    among them) keep scanning it whole as it grows."""
    if database.backend != "postgresql":
        return
    with database.reader.connect() as conn:
        zone, timeout, autovacuum = conn.exec_driver_sql(
            "SELECT current_setting('TimeZone'), current_setting('statement_timeout'),"
            " current_setting('autovacuum')"
        ).one()
    if str(autovacuum) != "on":
        log.warning(
            "autovacuum is off on this PostgreSQL server: run ANALYZE regularly (or turn it "
            "on), or queries slow down as tables grow, see docs/deploy-database.md"
        )
    if not database.pgbouncer:
        return
    if str(zone).lower() not in UTC_NAMES:
        raise ConfigurationError(
            f"Behind PgBouncer the database session must run in UTC, not {zone!r}: run "
            "ALTER ROLE <user> SET timezone = 'UTC' (or ALTER DATABASE), see "
            "docs/deploy-database.md."
        )
    if str(timeout) in ("0", ""):
        log.warning(
            "behind PgBouncer, no statement_timeout is set for this role or database: "
            "ALTER ROLE <user> SET statement_timeout = '%ss' bounds every statement",
            round(database.timeouts.statement),
        )


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
