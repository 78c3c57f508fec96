"""The SQL unit of work: one connection, one transaction, every repository on it.

Which engine serves it is decided here, from what the service said it needs: a write, or
a read of everything committed, runs on the primary; a read that may lag (``may_lag``) runs
on a replica when one is fit (``replicas.py``), and when it is for a user, only on a replica
that has replayed that user's last write (``positions.py``). A write for a user records,
after its commit, the primary's WAL position as that user's.
"""

from __future__ import annotations

from functools import cached_property
from types import TracebackType
from typing import Self

import sqlalchemy as sa

from minicommerce.storage.accounts import (
    SqlLoginFailureRepository,
    SqlRefreshTokenRepository,
    SqlSessionRepository,
    SqlUserRepository,
)
from minicommerce.storage.availability import database_unavailable, is_unavailable
from minicommerce.storage.carts import SqlCartRepository
from minicommerce.storage.catalog import SqlProductRepository
from minicommerce.storage.engine import Database
from minicommerce.storage.images import SqlProductImageRepository
from minicommerce.storage.orders import SqlOrderRepository
from minicommerce.storage.positions import LocalPositions, WritePositions
from minicommerce.storage.replicas import UNREACHABLE, current_lsn


class SqlUnitOfWork:
    """Repositories are made on first use: most units of work touch only one of them."""

    def __init__(
        self,
        database: Database,
        currency: str,
        *,
        write: bool,
        may_lag: bool = False,
        user_id: int | None = None,
        positions: WritePositions | None = None,
    ) -> None:
        self._database = database
        self._engine = database.writer if write else database.reader
        self._currency = currency
        self._write = write
        self._replica = not write and may_lag and database.replicas is not None
        self._user_id = user_id
        # Only with replicas is there anything to record: a write's position costs a query.
        self._positions = positions if database.replicas is not None else None

    def __enter__(self) -> Self:
        if self._replica:
            self._conn = self._replica_connection()
            return self
        try:
            self._conn = self._engine.connect()
        except Exception as exc:
            if is_unavailable(exc):
                raise database_unavailable() from exc
            raise
        if self._write:
            try:
                self._conn.begin()
            except BaseException as exc:
                self.__exit__(type(exc), exc, exc.__traceback__)
                raise
        return self

    def _replica_connection(self) -> sa.Connection:
        """A connection to a fit replica, or to the primary when there is none or the
        chosen one cannot be reached (it is then skipped until it answers a probe)."""
        replicas = self._database.replicas
        assert replicas is not None
        needed = 0
        if self._user_id is not None and self._positions is not None:
            needed = self._positions.position(self._user_id)
        engine = replicas.choose(needed)
        if engine is not None:
            try:
                self._engine = engine
                return engine.connect()
            except Exception as exc:
                if not is_unavailable(exc):
                    raise
                replicas.mark_down(engine)
        self._engine = self._database.reader
        try:
            return self._engine.connect()
        except Exception as exc:
            if is_unavailable(exc):
                raise database_unavailable() from exc
            raise

    @cached_property
    def products(self) -> SqlProductRepository:
        return SqlProductRepository(self._conn, self._currency)

    @cached_property
    def product_images(self) -> SqlProductImageRepository:
        return SqlProductImageRepository(self._conn)

    @cached_property
    def users(self) -> SqlUserRepository:
        return SqlUserRepository(self._conn)

    @cached_property
    def refresh_tokens(self) -> SqlRefreshTokenRepository:
        return SqlRefreshTokenRepository(self._conn)

    @cached_property
    def sessions(self) -> SqlSessionRepository:
        return SqlSessionRepository(self._conn)

    @cached_property
    def login_failures(self) -> SqlLoginFailureRepository:
        return SqlLoginFailureRepository(self._conn)

    @cached_property
    def carts(self) -> SqlCartRepository:
        if self._engine.dialect.name == "postgresql":
            from minicommerce.storage.postgres_carts import PgCartRepository  # needs psycopg

            return PgCartRepository(self._conn)
        return SqlCartRepository(self._conn)

    @cached_property
    def orders(self) -> SqlOrderRepository:
        if self._engine.dialect.name == "postgresql":
            from minicommerce.storage.postgres_orders import PgOrderRepository  # needs psycopg

            return PgOrderRepository(self._conn)
        return SqlOrderRepository(self._conn)

    def commit(self) -> None:
        self._conn.commit()
        if self._write and self._user_id is not None and self._positions is not None:
            self._remember_position(self._user_id, self._positions)

    def _remember_position(self, user_id: int, positions: WritePositions) -> None:
        # After the commit (its record is then in the WAL, flushed), on an autocommit
        # connection: one round trip. Failing here must not fail a committed write; the
        # user's reads then go to the primary until the position would have expired.
        try:
            with self._database.reader.connect() as conn:
                lsn = current_lsn(conn)
        except Exception:
            lsn = UNREACHABLE
        positions.remember(user_id, lsn)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back what was not committed; an error that means the database cannot serve
        now leaves as :class:`~minicommerce.errors.ServiceUnavailable`."""
        unavailable = exc is not None and is_unavailable(exc)
        try:
            if _connection_lost(self._conn):
                # The hot reads' driver errors bypass SQLAlchemy, which would otherwise
                # hand this connection to the next caller.
                self._conn.invalidate()
            elif self._conn.in_transaction():
                self._conn.rollback()
        except Exception as cleanup:
            # A failed rollback after an error must not hide that error.
            if exc is None:
                if is_unavailable(cleanup):
                    raise database_unavailable() from cleanup
                raise
        finally:
            self._conn.close()
        if unavailable:
            replicas = self._database.replicas
            if replicas is not None and self._engine in replicas.engines:
                replicas.mark_down(self._engine)
            raise database_unavailable() from exc


def _connection_lost(conn: sa.Connection) -> bool:
    if conn.invalidated or conn.closed:
        return False
    driver = conn.connection.dbapi_connection
    # psycopg marks a connection whose socket failed as broken; sqlite3 has no such state.
    return bool(getattr(driver, "broken", False))


class SqlUnitOfWorkFactory:
    """Units of work on ``database``; ``positions`` keeps users' write positions when the
    database has replicas (in process by default)."""

    def __init__(
        self, database: Database, currency: str, positions: WritePositions | None = None
    ) -> None:
        self._database = database
        self._currency = currency
        replicas = database.replicas
        if positions is None and replicas is not None:
            positions = LocalPositions(position_ttl(replicas.max_lag))
        self.positions = positions

    def __call__(
        self, *, write: bool, may_lag: bool = False, user_id: int | None = None
    ) -> SqlUnitOfWork:
        return SqlUnitOfWork(
            self._database,
            self._currency,
            write=write,
            may_lag=may_lag,
            user_id=user_id,
            positions=self.positions,
        )


def position_ttl(max_lag: float) -> float:
    """How long a write position matters: past the lag bound, every replica in use has
    replayed it. The second is a margin for the probe's own time."""
    return max_lag + 1.0
