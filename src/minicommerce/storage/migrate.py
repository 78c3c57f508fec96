"""Schema migrations (Alembic): the only way the schema is made, on every backend."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from minicommerce.storage.engine import Database

MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_ID = 0x6D696E69  # "mini": serialises concurrent upgrades across server instances


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@contextmanager
def migration_transaction(database: Database) -> Iterator[sa.Connection]:
    """A write transaction exempt from the statement timeout: a migration that rewrites a
    large table, or waits for another instance's, must not be cut off half way."""
    with database.writer.begin() as conn:
        if database.backend == "postgresql":
            conn.execute(sa.text("SET LOCAL statement_timeout = 0"))
        yield conn


def upgrade(database: Database, revision: str = "head") -> None:
    """Bring the schema up to ``revision``; safe to call from several processes at once."""
    config = alembic_config()
    with migration_transaction(database) as conn:
        if database.backend == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def current_revision(database: Database) -> str | None:
    with database.reader.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def is_up_to_date(database: Database) -> bool:
    return current_revision(database) == head_revision()
