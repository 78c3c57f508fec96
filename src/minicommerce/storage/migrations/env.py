"""Alembic environment: runs on the connection minicommerce hands it (see ``migrate.py``)."""

from __future__ import annotations

from alembic import context

from minicommerce.storage.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `minicommerce db upgrade` or Shop.migrate()")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
