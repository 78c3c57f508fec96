"""The SQL unit of work: one connection, one transaction, every repository on it."""

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


class SqlUnitOfWork:
    """Repositories are made on first use: most units of work touch only one of them."""

    def __init__(self, database: Database, currency: str, *, write: bool) -> None:
        self._engine = database.writer if write else database.reader
        self._currency = currency
        self._write = write

    def __enter__(self) -> Self:
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
        return SqlCartRepository(self._conn)

    @cached_property
    def orders(self) -> SqlOrderRepository:
        if self._engine.dialect.name == "postgresql":
            from minicommerce.storage.postgres_orders import PgOrderRepository  # needs psycopg

            return PgOrderRepository(self._conn)
        return SqlOrderRepository(self._conn)

    def commit(self) -> None:
        self._conn.commit()

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
            raise database_unavailable() from exc


def _connection_lost(conn: sa.Connection) -> bool:
    if conn.invalidated or conn.closed:
        return False
    driver = conn.connection.dbapi_connection
    # psycopg marks a connection whose socket failed as broken; sqlite3 has no such state.
    return bool(getattr(driver, "broken", False))


class SqlUnitOfWorkFactory:
    def __init__(self, database: Database, currency: str) -> None:
        self._database = database
        self._currency = currency

    def __call__(self, *, write: bool) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._database, self._currency, write=write)
