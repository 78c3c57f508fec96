"""A database that is down, locked or too slow is one domain error, within bounded time;
bugs stay bugs. SQLite commits durably unless told otherwise."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from minicommerce import NewProduct, ProductChanges, ServiceUnavailable, Settings, Shop
from minicommerce.storage.engine import Timeouts, open_database
from minicommerce.storage.migrate import migration_transaction
from minicommerce.storage.unit_of_work import SqlUnitOfWork
from tests.conftest import FAST_ARGON2, SECRET, _truncate_postgres, require_service
from tests.test_serve import free_port

SHORT = Timeouts(connect=2, statement=0.3, pool=0.3, sqlite_busy=0.3)


@pytest.fixture
def impatient_shop(database_url: str) -> Iterator[Shop]:
    with Shop.open(
        database_url, secret_key=SECRET, argon2=FAST_ARGON2, migrate=False, timeouts=SHORT
    ) as shop:
        yield shop


def add(shop: Shop) -> int:
    return shop.catalog.create(NewProduct(name="Mug", price="1.00", stock_quantity=1)).id


def test_sqlite_writer_is_durable_by_default(sqlite_url: str) -> None:
    database = open_database(sqlite_url)
    try:
        with database.writer.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    finally:
        database.dispose()


def test_sqlite_normal_sync_is_an_opt_in(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINICOMMERCE_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("MINICOMMERCE_SQLITE_SYNCHRONOUS", "NORMAL")
    monkeypatch.setenv("MINICOMMERCE_SECRET_KEY", SECRET)
    with (
        Shop.from_settings(Settings(_env_file=None), migrate=False) as shop,
        shop.database.writer.connect() as conn,
    ):
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL


def test_a_locked_sqlite_database_is_unavailable_after_the_busy_timeout(
    sqlite_url: str,
) -> None:
    with Shop.open(sqlite_url, secret_key=SECRET, migrate=False, timeouts=SHORT) as shop:
        product_id = add(shop)
        holder = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        try:
            with pytest.raises(ServiceUnavailable) as caught:
                shop.catalog.update(product_id, ProductChanges(stock_quantity=2))
            assert caught.value.retry_after >= 1
            assert shop.catalog.get(product_id).stock_quantity == 1  # reads go on (WAL)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        shop.catalog.update(product_id, ProductChanges(stock_quantity=2))


def test_a_statement_over_the_timeout_is_unavailable(postgres_database_url: str) -> None:
    # The statement timeout is PostgreSQL's.
    _truncate_postgres(postgres_database_url)
    with Shop.open(postgres_database_url, secret_key=SECRET, migrate=False, timeouts=SHORT) as shop:
        product_id = add(shop)
        with shop.database.writer.connect() as holder, holder.begin():
            holder.execute(sa.text("SELECT 1 FROM products WHERE id = :id FOR UPDATE"), {"id": 1})
            with pytest.raises(ServiceUnavailable):  # it waited on the row lock: too slow
                shop.catalog.update(product_id, ProductChanges(stock_quantity=2))
        shop.catalog.update(product_id, ProductChanges(stock_quantity=2))
        assert shop.catalog.get(product_id).version == 2


def test_migrations_are_exempt_from_the_statement_timeout(postgres_database_url: str) -> None:
    # The statement timeout is PostgreSQL's.
    database = open_database(postgres_database_url, timeouts=SHORT)
    try:
        with pytest.raises(sa.exc.OperationalError), database.writer.begin() as conn:
            conn.execute(sa.text("SELECT pg_sleep(0.6)"))
        with migration_transaction(database) as conn:
            conn.execute(sa.text("SELECT pg_sleep(0.6)"))
    finally:
        database.dispose()


def test_no_free_connection_within_the_pool_timeout_is_unavailable(database_url: str) -> None:
    database = open_database(database_url, pool_size=1, max_overflow=0, timeouts=SHORT)
    shop = Shop.over(database, secret_key=SECRET, argon2=FAST_ARGON2)
    try:
        product_id = add(shop)
        # The only connection is taken.
        with database.reader.connect(), pytest.raises(ServiceUnavailable):
            shop.catalog.get(product_id)
        assert shop.catalog.get(product_id).id == product_id
    finally:
        shop.close()


def test_a_database_that_is_down_is_unavailable(tmp_path: Path) -> None:
    require_service("postgres", "postgresql://127.0.0.1:5432", 5432)
    urls = [
        f"postgresql://postgres@127.0.0.1:{free_port()}/test",  # nothing listens there
        f"sqlite:///{tmp_path}/missing-directory/shop.db",  # cannot be opened
    ]
    for url in urls:
        with Shop.over(open_database(url, timeouts=SHORT), secret_key=SECRET) as shop:
            with pytest.raises(ServiceUnavailable):
                shop.catalog.get(1)
            with pytest.raises(ServiceUnavailable):
                shop.ping()


def run(shop: Shop, sql: str, *, write: bool) -> None:
    with SqlUnitOfWork(shop.database, "USD", write=write) as uow:
        uow._conn.execute(sa.text(sql))


def test_bugs_are_not_unavailability(shop: Shop) -> None:
    with pytest.raises(sa.exc.DBAPIError) as caught:
        run(shop, "SELECT * FROM no_such_table", write=False)
    assert not isinstance(caught.value, ServiceUnavailable)
    with pytest.raises(sa.exc.IntegrityError):
        run(shop, "INSERT INTO products (id) VALUES (NULL)", write=True)
