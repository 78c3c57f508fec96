"""The SQL unit of work: one connection, one transaction, every repository on it."""

from __future__ import annotations

from functools import cached_property
from types import TracebackType
from typing import Self

from minicommerce.storage.accounts import (
    SqlLoginFailureRepository,
    SqlRefreshTokenRepository,
    SqlUserRepository,
)
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
        self._conn = self._engine.connect()
        if self._write:
            self._conn.begin()
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
        try:
            if self._conn.in_transaction():
                self._conn.rollback()
        finally:
            self._conn.close()


class SqlUnitOfWorkFactory:
    def __init__(self, database: Database, currency: str) -> None:
        self._database = database
        self._currency = currency

    def __call__(self, *, write: bool) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._database, self._currency, write=write)
