"""The SQL unit of work: one connection, one transaction, every repository on it."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from minicommerce.storage.accounts import (
    SqlLoginFailureRepository,
    SqlRefreshTokenRepository,
    SqlUserRepository,
)
from minicommerce.storage.catalog import SqlProductRepository
from minicommerce.storage.engine import Database


class SqlUnitOfWork:
    products: SqlProductRepository
    users: SqlUserRepository
    refresh_tokens: SqlRefreshTokenRepository
    login_failures: SqlLoginFailureRepository

    def __init__(self, database: Database, currency: str, *, write: bool) -> None:
        self._engine = database.writer if write else database.reader
        self._currency = currency
        self._write = write

    def __enter__(self) -> Self:
        conn = self._engine.connect()
        if self._write:
            conn.begin()
        self._conn = conn
        self.products = SqlProductRepository(conn, self._currency)
        self.users = SqlUserRepository(conn)
        self.refresh_tokens = SqlRefreshTokenRepository(conn)
        self.login_failures = SqlLoginFailureRepository(conn)
        return self

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
