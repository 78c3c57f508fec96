"""Storage: migrations make the schema, SQLite is tuned, concurrent writers succeed."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from minicommerce import NewProduct, PreconditionFailed, ProductChanges, Registration, Shop
from minicommerce.storage.engine import check_session, normalise_url, open_database
from minicommerce.storage.migrate import alembic_config, current_revision, head_revision, upgrade
from minicommerce.storage.tables import metadata, sessions
from tests.conftest import FAST_ARGON2, SECRET, new_postgres_database


def test_migrations_build_exactly_the_declared_schema(shop: Shop) -> None:
    with shop.database.writer.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
    assert current_revision(shop.database) == head_revision()


def test_required_indexes(shop: Shop) -> None:
    inspector = sa.inspect(shop.database.reader)
    indexes = {
        (table, tuple(ix["column_names"]), bool(ix["unique"]))
        for table in (
            "users",
            "products",
            "orders",
            "order_items",
            "idempotency_keys",
            "product_images",
        )
        for ix in inspector.get_indexes(table)
    }
    assert ("users", ("email",), True) in indexes
    assert ("products", ("sku",), True) in indexes
    assert ("products", ("price", "id"), False) in indexes
    assert ("products", ("name", "id"), False) in indexes
    assert ("orders", ("user_id",), False) in indexes
    assert ("orders", ("status",), False) in indexes
    assert ("order_items", ("order_id",), False) in indexes
    assert ("order_items", ("product_id",), False) in indexes
    assert ("idempotency_keys", ("created_at",), False) in indexes
    assert ("orders", ("created_at",), False) in indexes
    assert ("product_images", ("product_id", "position"), False) in indexes
    assert ("product_images", ("content_hash",), False) in indexes


def test_upgrade_is_idempotent(shop: Shop) -> None:
    shop.migrate()
    shop.migrate()
    assert current_revision(shop.database) == head_revision()


def test_an_unmigrated_database_is_refused_without_migrate(tmp_path: Path) -> None:
    from minicommerce import ConfigurationError

    with pytest.raises(ConfigurationError, match="db upgrade"):
        Shop.open(f"sqlite:///{tmp_path}/new.db", migrate=False)


def test_sqlite_is_in_wal_mode_with_a_busy_timeout(sqlite_shop: Shop) -> None:
    with sqlite_shop.database.writer.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_url_forms() -> None:
    assert normalise_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("sqlite:///x.db").drivername == "sqlite"
    with pytest.raises(ValueError, match="unsupported"):
        normalise_url("mysql://u@h/db")


def test_concurrent_upgrades_from_several_processes_agree(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/race.db"

    def migrate() -> None:
        database = open_database(url)
        try:
            upgrade(database)
        finally:
            database.dispose()

    with ThreadPoolExecutor(4) as pool:
        for future in [pool.submit(migrate) for _ in range(4)]:
            future.result()


def test_no_index_covers_stock(shop: Shop) -> None:
    """Every order updates products.stock_quantity: indexed, each of those updates would
    write to every index of products (no HOT update on PostgreSQL; migration 0008)."""
    inspector = sa.inspect(shop.database.reader)
    for index in inspector.get_indexes("products"):
        assert "stock_quantity" not in index["column_names"], index["name"]


def test_concurrent_writers_never_see_database_is_locked(shop: Shop) -> None:
    """Many threads writing at once: every write lands, none fails with a lock error."""
    product = shop.catalog.create(NewProduct(name="Counter", price="1.00", stock_quantity=0))
    threads, writes = 8, 25
    barrier = threading.Barrier(threads)

    def work(n: int) -> None:
        barrier.wait()
        for i in range(writes):
            shop.catalog.create(NewProduct(name=f"p{n}-{i}", price="1.00", stock_quantity=1))
            shop.accounts.register(Registration(email=f"u{n}-{i}@example.com", password="x" * 8))
            for _ in range(1000):  # optimistic retry loop, as a client would
                current = shop.catalog.get(product.id)
                try:
                    shop.catalog.update(
                        product.id,
                        ProductChanges(stock_quantity=current.stock_quantity + 1),
                        if_match={current.version},
                    )
                    break
                except PreconditionFailed:
                    continue
            else:
                raise AssertionError("no progress after 1000 retries")

    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(work, n) for n in range(threads)]:
            future.result()
    assert shop.catalog.count() == 1 + threads * writes
    assert shop.catalog.get(product.id).stock_quantity == threads * writes


def test_if_match_lets_exactly_one_concurrent_writer_win(shop: Shop) -> None:
    product = shop.catalog.create(NewProduct(name="Mug", price="1.00", stock_quantity=0))
    barrier = threading.Barrier(8)

    def attempt(n: int) -> bool:
        barrier.wait()
        try:
            shop.catalog.update(product.id, ProductChanges(stock_quantity=n), if_match={1})
        except PreconditionFailed:
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(attempt, range(8)))
    assert results.count(True) == 1
    assert shop.catalog.get(product.id).version == 2


def test_shop_from_a_url_with_fresh_file(tmp_path: Path) -> None:
    with Shop.open(f"sqlite:///{tmp_path}/fresh.db", secret_key=SECRET, argon2=FAST_ARGON2) as s:
        assert s.catalog.count() == 0
        s.ping()


def test_rows_map_onto_entities_by_name(shop: Shop) -> None:
    """Entities are built from rows by column name: columns in another order or an extra
    column change nothing, on the ordinary path and on PostgreSQL's CompiledRead."""
    from minicommerce import ProductQuery

    mug = shop.catalog.create(NewProduct(name="Mug", price="9.50", stock_quantity=3, sku="M"))
    uid = shop.accounts.register(Registration(email="n@example.com", password="x" * 8)).id
    assert (mug.sku, mug.name, str(mug.price), mug.stock_quantity, mug.in_stock) == (
        "M", "Mug", "9.50", 3, True
    )  # fmt: skip
    assert shop.catalog.get(mug.id) == mug
    assert shop.catalog.list(ProductQuery()).items == [mug]
    user = shop.accounts.get(uid)
    assert (user.id, user.email, user.is_staff, user.is_active) == (
        uid,
        "n@example.com",
        False,
        True,
    )
    from minicommerce.storage import accounts, catalog

    with shop.database.reader.connect() as conn:
        backwards = sa.select(sa.literal(1).label("extra"), *reversed(catalog._COLUMNS))
        row = conn.execute(backwards.where(catalog._p.id == mug.id)).one()
        assert catalog.SqlProductRepository(conn, "USD")._product(row) == mug
        backwards = sa.select(*reversed(accounts._USER), accounts._u.password_hash)
        assert accounts._user(conn.execute(backwards.where(accounts._u.id == uid)).one()) == user


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    with new_postgres_database("mc_empty") as url:
        yield url


def test_0004_moves_idempotency_keys_onto_orders_and_back(empty_database_url: str) -> None:
    database = open_database(empty_database_url)
    try:
        upgrade(database, "0003")
        with database.writer.begin() as conn:
            run = conn.exec_driver_sql
            run(
                "INSERT INTO users (email, password_hash, first_name, last_name, is_staff,"
                " is_active, created_at) VALUES ('a@example.com', '!', '', '', false, true,"
                " CURRENT_TIMESTAMP)"
            )
            run(
                "INSERT INTO products (sku, name, description, price, stock_quantity, version,"
                " created_at, updated_at) VALUES ('S', 'Mug', '', 950, 5, 1,"
                " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
            run(
                "INSERT INTO orders (user_id, status, total_amount, currency, shipping_address,"
                " created_at, updated_at) SELECT id, 'pending', 950, 'EUR', '{}',"
                " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM users"
            )
            run(
                "INSERT INTO order_items (order_id, product_id, sku, name, quantity, unit_price,"
                " line_total) SELECT orders.id, products.id, 'S', 'Mug', 1, 950, 950"
                " FROM orders, products"
            )
            run(
                "INSERT INTO idempotency_keys (user_id, key, fingerprint, order_id, created_at)"
                " SELECT user_id, 'k1', 'fp', id, created_at FROM orders"
            )
        upgrade(database, "0004")
        with database.reader.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT idempotency_key, request_fingerprint FROM orders"
            ).all()
        assert [tuple(row) for row in rows] == [("k1", "fp")]

        config = alembic_config()
        with database.writer.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0003")
        with database.reader.connect() as conn:
            keys = conn.exec_driver_sql("SELECT key, fingerprint FROM idempotency_keys").all()
            lines = conn.exec_driver_sql("SELECT count(*) FROM order_items").scalar_one()
        assert [tuple(row) for row in keys] == [("k1", "fp")]
        assert lines == 1  # nothing cascaded away on the way down
        upgrade(database)
        assert current_revision(database) == head_revision()
    finally:
        database.dispose()


def test_0005_makes_a_session_of_every_refresh_token_family(empty_database_url: str) -> None:
    database = open_database(empty_database_url)
    try:
        upgrade(database, "0004")
        with database.writer.begin() as conn:
            run = conn.exec_driver_sql
            run(
                "INSERT INTO users (email, password_hash, first_name, last_name, is_staff,"
                " is_active, created_at) VALUES ('a@example.com', '!', '', '', false, true,"
                " '2026-11-01 10:00:00+00:00')"
            )
            for n, (family, created, revoked) in enumerate(
                [
                    ("live", "2026-11-02 10:00:00+00:00", None),
                    ("live", "2026-11-03 10:00:00+00:00", None),
                    ("ended", "2026-11-04 10:00:00+00:00", "2026-11-05 10:00:00+00:00"),
                    ("ended", "2026-11-04 11:00:00+00:00", "2026-11-05 10:00:00+00:00"),
                ]
            ):
                run(
                    "INSERT INTO refresh_tokens (user_id, family_id, token_hash, created_at,"
                    " expires_at, revoked_at) SELECT id, ?, ?, ?, ?, ? FROM users"
                    if database.backend == "sqlite"
                    else "INSERT INTO refresh_tokens (user_id, family_id, token_hash, created_at,"
                    " expires_at, revoked_at) SELECT id, %s, %s, %s, %s, %s FROM users",
                    (family, f"hash{n}", created, "2026-12-30 10:00:00+00:00", revoked),
                )
        upgrade(database)
        with database.reader.connect() as conn:
            rows = conn.execute(
                sa.select(sessions.c.id, sessions.c.created_at, sessions.c.revoked_at).order_by(
                    sessions.c.id
                )
            ).all()
        assert [(r.id, r.created_at.isoformat(), r.revoked_at) for r in rows] == [
            ("ended", "2026-11-04T10:00:00+00:00", rows[0].revoked_at),
            ("live", "2026-11-02T10:00:00+00:00", None),
        ]
        assert rows[0].revoked_at is not None
        config = alembic_config()
        with database.writer.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0004")
        assert "sessions" not in sa.inspect(database.reader).get_table_names()
    finally:
        database.dispose()


def test_0006_moves_idempotency_keys_into_their_table_and_back(empty_database_url: str) -> None:
    database = open_database(empty_database_url)
    try:
        upgrade(database, "0004")
        with database.writer.begin() as conn:
            run = conn.exec_driver_sql
            run(
                "INSERT INTO users (email, password_hash, first_name, last_name, is_staff,"
                " is_active, created_at) VALUES ('a@example.com', '!', '', '', false, true,"
                " CURRENT_TIMESTAMP)"
            )
            run(
                "INSERT INTO products (sku, name, description, price, stock_quantity, version,"
                " created_at, updated_at) VALUES ('S', 'Mug', '', 950, 5, 1,"
                " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
            run(
                "INSERT INTO orders (user_id, status, total_amount, currency, shipping_address,"
                " created_at, updated_at, idempotency_key, request_fingerprint)"
                " SELECT id, 'pending', 950, 'EUR', '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP,"
                " 'k1', 'fp' FROM users"
            )
            run(
                "INSERT INTO order_items (order_id, product_id, sku, name, quantity, unit_price,"
                " line_total) SELECT orders.id, products.id, 'S', 'Mug', 1, 950, 950"
                " FROM orders, products"
            )
        upgrade(database)
        with database.reader.connect() as conn:
            keys = conn.exec_driver_sql(
                "SELECT k.key, k.fingerprint, k.answer, k.order_id = o.id,"
                " k.created_at = o.created_at FROM idempotency_keys k, orders o"
            ).all()
        assert [tuple(row) for row in keys] == [("k1", "fp", None, True, True)]

        config = alembic_config()
        with database.writer.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0004")
        with database.reader.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT idempotency_key, request_fingerprint FROM orders"
            ).all()
            lines = conn.exec_driver_sql("SELECT count(*) FROM order_items").scalar_one()
        assert [tuple(row) for row in rows] == [("k1", "fp")]
        assert lines == 1  # nothing cascaded away on the way down
        upgrade(database)
        assert current_revision(database) == head_revision()
    finally:
        database.dispose()


def test_a_key_kept_before_0006_replays_the_order_as_it_is(shop: Shop) -> None:
    """Keys copied by 0006 have no answer kept: they replay the order as it is now."""
    from minicommerce import PlaceOrder

    uid = shop.accounts.register(Registration(email="r@example.com", password="x" * 8)).id
    mug = shop.catalog.create(NewProduct(name="Mug", price="1.00", stock_quantity=5))
    wanted = PlaceOrder.parse(
        {
            "shipping_address": {"full_name": "R", "line1": "1 Way", "city": "C",
                                 "postal_code": "1", "country": "DE"},
            "items": [{"product_id": mug.id, "quantity": 1}],
        }
    )  # fmt: skip
    order, _ = shop.orders.place(uid, wanted, "old")
    with shop.database.writer.begin() as conn:
        conn.exec_driver_sql("UPDATE idempotency_keys SET answer = NULL")
    shop.orders.cancel(uid, order.id)
    again, created = shop.orders.place(uid, wanted, "old")
    assert (again.id, again.status.value, created) == (order.id, "cancelled", False)


def test_start_warns_when_autovacuum_is_off(
    postgres_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Stale statistics make cached plans scan growing tables whole: an operator is told.
    (The test server's own setting decides which way this runs; CI's has autovacuum off.)"""
    database = open_database(postgres_database_url)
    try:
        with database.reader.connect() as conn:
            off = conn.exec_driver_sql("SHOW autovacuum").scalar_one() != "on"
        with caplog.at_level(logging.WARNING, logger="minicommerce.storage"):
            check_session(database)
    finally:
        database.dispose()
    warned = [r for r in caplog.records if "autovacuum is off" in r.getMessage()]
    assert len(warned) == (1 if off else 0)


def test_sqlite_has_no_server_settings_to_check(sqlite_url: str) -> None:
    database = open_database(sqlite_url)
    try:
        check_session(database)  # no query, no warning, no error
    finally:
        database.dispose()
