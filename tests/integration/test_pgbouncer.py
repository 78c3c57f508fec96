"""Through a real pgbouncer in transaction mode (``tests/pgservers.py``) in front of the
test PostgreSQL server: orders, catalog, accounts and carts, concurrency included, and
migrations.

The tests imported below are the backends' own, run here again with ``shop`` (and
``database_url``) going through pgbouncer: consecutive transactions land on different
server connections, so a prepared statement or any session state would break them.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import sqlalchemy as sa

from minicommerce import ConfigurationError, NewProduct, Registration, Shop
from minicommerce.storage.engine import open_database
from minicommerce.storage.migrate import current_revision, head_revision, upgrade
from tests.conftest import (
    FAST_ARGON2,
    POSTGRES_URL,
    SECRET,
    _truncate_postgres,
    new_postgres_database,
)
from tests.integration.test_accounts import (  # noqa: F401
    test_change_password,
    test_concurrent_wrong_passwords_get_at_most_the_cap_of_verifications,
    test_deactivated_users_cannot_refresh,
    test_login_and_authenticate,
    test_logout_ends_the_session,
    test_refresh_refuses_access_tokens_and_garbage,
    test_register_normalises_and_refuses_duplicates,
)
from tests.integration.test_carts import (  # noqa: F401
    test_carts_are_per_user,
    test_empty_cart,
    test_removed_products_leave_the_cart,
    test_set_change_remove_clear,
)
from tests.integration.test_catalog import (  # noqa: F401
    catalog,
    test_create_and_get,
    test_delete_archives,
    test_every_sort_pages_through_each_product_once,
    test_filters,
    test_optimistic_concurrency,
    test_sku_is_unique,
)
from tests.integration.test_orders import (  # noqa: F401
    test_all_or_nothing,
    test_cancel_returns_stock_once,
    test_cart_checkout_empties_the_cart,
    test_crossing_multi_line_orders_never_deadlock_or_split,
    test_forty_buyers_ten_in_stock,
    test_idempotent_replay_and_reuse,
    test_orders_are_private_and_newest_first,
    test_place_from_items,
    test_staff_move_orders_along_the_machine,
    test_ten_concurrent_requests_with_one_key_make_one_order,
)
from tests.integration.test_orders_async import (  # noqa: F401
    on_loop,
    request,
    test_an_idempotent_replay_answers_the_first_order,
    test_forty_buyers_on_one_loop_ten_in_stock,
    test_refusals_are_places_and_record_nothing,
)
from tests.pgservers import PgBouncer


def _direct(url: str) -> str:
    """The same database, straight on PostgreSQL (for the fixture's own clean-up)."""
    return POSTGRES_URL.rsplit("/", 1)[0] + "/" + url.rsplit("/", 1)[1]


@pytest.fixture
def database_url(pgbouncer_database_url: str) -> str:
    _truncate_postgres(_direct(pgbouncer_database_url))
    return pgbouncer_database_url


@pytest.fixture
def shop(database_url: str) -> Iterator[Shop]:
    with Shop.open(
        database_url, pgbouncer=True, secret_key=SECRET, argon2=FAST_ARGON2, migrate=False
    ) as shop:
        yield shop


@pytest.fixture
def pg(shop: Shop) -> Shop:
    """For the tests of placement on the event loop: its connections go through pgbouncer."""
    return shop


def test_placements_on_the_loop_repeat_past_the_prepare_threshold(shop: Shop) -> None:
    mug = shop.catalog.create(NewProduct(name="Mug", price="1.00", stock_quantity=100)).id
    buyer = shop.accounts.register(Registration(email="b@example.com", password="x" * 8)).id
    _, calls = on_loop(lambda: shop.orders.place_async(buyer, request((mug, 1))))
    assert calls == ["place"]  # the first warms up

    async def twenty() -> None:
        for _ in range(20):
            await shop.orders.place_async(buyer, request((mug, 1)))

    _, calls = on_loop(twenty)
    assert calls == []  # all on the loop, on one connection: no prepared statement
    assert shop.catalog.get(mug).stock_quantity == 79


def test_statements_repeat_past_the_prepare_threshold(shop: Shop) -> None:
    """psycopg prepares a statement on its fifth run; behind pgbouncer it must not."""
    product = shop.catalog.create(NewProduct(name="Mug", price="9.50", stock_quantity=5))
    for _ in range(50):
        assert shop.catalog.get(product.id).id == product.id
        assert shop.catalog.list().items[0].id == product.id


def test_sessions_run_in_utc_with_a_statement_timeout(shop: Shop) -> None:
    with shop.database.reader.connect() as conn:
        zone, timeout = conn.exec_driver_sql(
            "SELECT current_setting('TimeZone'), current_setting('statement_timeout')"
        ).one()
    assert (zone, timeout) == ("UTC", "10s")


def test_migrations_run_through_pgbouncer(pgbouncer: PgBouncer) -> None:
    with new_postgres_database("mc_bouncer_mig") as direct:
        name = direct.rsplit("/", 1)[1]
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f"ALTER DATABASE \"{name}\" SET timezone = 'UTC'")
        url = pgbouncer.url(name)
        with Shop.open(url, pgbouncer=True, secret_key=SECRET, migrate=True) as shop:
            assert current_revision(shop.database) == head_revision()
            assert shop.catalog.count() == 0
        # Idempotent, and concurrent upgrades serialise on a transaction-scoped lock.
        database = open_database(url, pgbouncer=True)
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda _: upgrade(database), range(4)))
        assert current_revision(database) == head_revision()
        database.dispose()


def test_a_session_not_in_utc_is_refused(pgbouncer: PgBouncer) -> None:
    with new_postgres_database("mc_bouncer_tz") as direct:
        name = direct.rsplit("/", 1)[1]
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f"ALTER DATABASE \"{name}\" SET timezone = 'Europe/Paris'")
        with pytest.raises(ConfigurationError, match="UTC"):
            Shop.open(pgbouncer.url(name), pgbouncer=True, secret_key=SECRET)


def test_without_the_setting_pgbouncer_refuses_the_connection(database_url: str) -> None:
    database = open_database(database_url)
    refused = pytest.raises(sa.exc.OperationalError, match="unsupported startup parameter")
    with refused, database.reader.connect():
        pass
    database.dispose()


def test_db_upgrade_through_pgbouncer_from_the_settings(
    pgbouncer: PgBouncer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from minicommerce_server import cli

    with new_postgres_database("mc_bouncer_cli") as direct:
        name = direct.rsplit("/", 1)[1]
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f"ALTER DATABASE \"{name}\" SET timezone = 'UTC'")
        monkeypatch.setenv("MINICOMMERCE_DATABASE_URL", pgbouncer.url(name))
        monkeypatch.setenv("MINICOMMERCE_DATABASE_PGBOUNCER", "true")
        monkeypatch.setenv("MINICOMMERCE_SECRET_KEY", SECRET)
        assert cli.main(["db", "upgrade"]) == 0
        database = open_database(direct)
        assert current_revision(database) == head_revision()
        database.dispose()
