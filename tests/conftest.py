"""Fixtures shared by every tier: real backends, a shop on each, fast password hashing.

PostgreSQL and Redis tests run against real servers. Without them the tests skip with
the reason; with ``CI=true`` a missing server fails the run instead.
"""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from minicommerce import Argon2Parameters, DirectoryMediaStorage, Shop
from minicommerce.catalog.cache import CatalogCache
from minicommerce.storage.engine import open_database
from minicommerce.storage.migrate import upgrade
from minicommerce.storage.tables import metadata

if TYPE_CHECKING:
    from tests.pgservers import PgBouncer, ReplicatedCluster

POSTGRES_URL = os.environ.get(
    "MINICOMMERCE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("MINICOMMERCE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# Ports of the private servers some tests start (tests/pgservers.py).
PRIMARY_PORT, REPLICA_PORT, PGBOUNCER_PORT = 5440, 5441, 6440
FAST_ARGON2 = Argon2Parameters(time_cost=1, memory_cost=1024, parallelism=1)
SECRET = "test-secret-" + "x" * 40
ADDRESS: dict[str, str] = {
    "full_name": "Ada Lovelace",
    "line1": "12 St James's Square",
    "city": "London",
    "postal_code": "SW1Y 4JH",
    "country": "GB",
}
"""A shipping address every order test may send (as JSON, or to ``PlaceOrder``)."""


def _answers(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 1
        ):
            return True
    except OSError:
        return False


def require_service(name: str, url: str, default_port: int) -> None:
    if _answers(url, default_port):
        return
    message = f"{name} does not answer at {url}"
    if IN_CI:
        pytest.fail(f"{message}, and CI=true requires it", pytrace=False)
    pytest.skip(f"{message} (set MINICOMMERCE_TEST_{name.upper()}_URL or start it)")


@contextmanager
def new_postgres_database(prefix: str) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards."""
    require_service("postgres", POSTGRES_URL, 5432)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(
        POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_database_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated once."""
    with new_postgres_database("mc_test") as url:
        database = open_database(url)
        upgrade(database)
        database.dispose()
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies (faster than migrating every time)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    database = open_database(f"sqlite:///{path}")
    upgrade(database)
    database.dispose()
    return path


def _truncate_postgres(url: str) -> None:
    database = open_database(url)
    names = ", ".join(t.name for t in metadata.sorted_tables)
    with database.writer.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    database.dispose()


@pytest.fixture
def one_connection(postgres_database_url: str) -> Iterator[Shop]:
    """A shop on a clean PostgreSQL database whose pools hold one connection each: the
    connection that ``tests.roundtrips.round_trips`` traces."""
    _truncate_postgres(postgres_database_url)
    with Shop.open(
        postgres_database_url, secret_key=SECRET, argon2=FAST_ARGON2, migrate=False, pool_size=1
    ) as shop:
        yield shop


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A clean, migrated database on each backend."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "shop.db"
        shutil.copy(template, target)
        return f"sqlite:///{target}"
    url: str = request.getfixturevalue("postgres_database_url")
    _truncate_postgres(url)
    return url


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    target = tmp_path / "shop.db"
    shutil.copy(sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def shop(database_url: str) -> Iterator[Shop]:
    with Shop.open(database_url, secret_key=SECRET, argon2=FAST_ARGON2, migrate=False) as shop:
        yield shop


@pytest.fixture
def media_dir(tmp_path: Path) -> Path:
    return tmp_path / "media-files"


def open_shop(url: str, media: Path, cache: CatalogCache | None = None) -> Shop:
    """A shop on a migrated database that stores product images in ``media``, with the
    catalog ``cache`` (or the one its settings give)."""
    return Shop.open(
        url,
        secret_key=SECRET,
        argon2=FAST_ARGON2,
        migrate=False,
        media=DirectoryMediaStorage(media),
        catalog_cache=cache,
    )


@pytest.fixture
def media_shop(database_url: str, media_dir: Path) -> Iterator[Shop]:
    """A shop on each backend that stores product images in ``media_dir``."""
    with open_shop(database_url, media_dir) as shop:
        yield shop


@pytest.fixture
def sqlite_shop(sqlite_url: str) -> Iterator[Shop]:
    with Shop.open(sqlite_url, secret_key=SECRET, argon2=FAST_ARGON2, migrate=False) as shop:
        yield shop


@pytest.fixture
def redis_url() -> Iterator[str]:
    require_service("redis", REDIS_URL, 6379)
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    try:
        yield REDIS_URL
    finally:
        client.flushdb()
        client.close()


@pytest.fixture(scope="session")
def replicated_cluster() -> Iterator[ReplicatedCluster]:
    """A private PostgreSQL primary and a streaming replica of it, with a migrated
    database ``shop`` (``tests/pgservers.py``)."""
    from tests.pgservers import ReplicatedCluster

    cluster = ReplicatedCluster(PRIMARY_PORT, REPLICA_PORT)
    try:
        import psycopg

        with psycopg.connect(cluster.primary.url(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE shop")
        database = open_database(cluster.primary.url("shop"))
        upgrade(database)
        database.dispose()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pgbouncer() -> Iterator[PgBouncer]:
    """pgbouncer in transaction mode in front of the test PostgreSQL server."""
    require_service("postgres", POSTGRES_URL, 5432)
    from tests.pgservers import PgBouncer

    parts = urlsplit(POSTGRES_URL)
    bouncer = PgBouncer(PGBOUNCER_PORT, parts.port or 5432, parts.hostname or "127.0.0.1")
    try:
        yield bouncer
    finally:
        bouncer.stop()


@contextmanager
def database_behind_pgbouncer(bouncer: PgBouncer, prefix: str) -> Iterator[str]:
    """A new database reached through ``bouncer``, with the role-level settings that
    docs/deploy-database.md asks for, and migrated through pgbouncer."""
    with new_postgres_database(prefix) as direct:
        admin = sa.create_engine(
            POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1),
            isolation_level="AUTOCOMMIT",
        )
        name = direct.rsplit("/", 1)[1]
        with admin.connect() as conn:
            conn.exec_driver_sql(f"ALTER DATABASE \"{name}\" SET timezone = 'UTC'")
            conn.exec_driver_sql(f"ALTER DATABASE \"{name}\" SET statement_timeout = '10s'")
        admin.dispose()
        url = bouncer.url(name)
        database = open_database(url, pgbouncer=True)
        upgrade(database)
        database.dispose()
        yield url


@pytest.fixture(scope="session")
def pgbouncer_database_url(pgbouncer: PgBouncer) -> Iterator[str]:
    with database_behind_pgbouncer(pgbouncer, "mc_bouncer") as url:
        yield url


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: Playwright's sync API keeps an event loop running in the main
    thread for as long as its browser lives, and tests that call ``asyncio.run`` cannot
    run beside it."""
    items.sort(key=lambda item: "browser" in item.path.parts)
