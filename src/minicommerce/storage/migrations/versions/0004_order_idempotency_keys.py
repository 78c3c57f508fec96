"""idempotency keys on the orders they placed

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24

The key and the request's fingerprint move onto the order: placing an order can then
claim the key and record the order in one statement on PostgreSQL, and the key lives as
long as the order (at least the 24 h promised) with nothing to purge.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("orders", sa.Column("idempotency_key", sa.String(length=255), nullable=True))
    op.add_column("orders", sa.Column("request_fingerprint", sa.String(length=64), nullable=True))
    op.create_index(
        "uq_orders_user_id_idempotency_key",
        "orders",
        ["user_id", "idempotency_key"],
        unique=True,
    )
    op.execute(
        "UPDATE orders SET"
        " idempotency_key = (SELECT k.key FROM idempotency_keys k WHERE k.order_id = orders.id),"
        " request_fingerprint = (SELECT k.fingerprint FROM idempotency_keys k"
        " WHERE k.order_id = orders.id)"
        " WHERE id IN (SELECT order_id FROM idempotency_keys WHERE order_id IS NOT NULL)"
    )
    op.drop_index(op.f("ix_idempotency_keys_created_at"), table_name="idempotency_keys")
    op.drop_table("idempotency_keys")


def downgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("user_id", ID, nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("order_id", ID, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_idempotency_keys_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_idempotency_keys_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_index(
        op.f("ix_idempotency_keys_created_at"), "idempotency_keys", ["created_at"], unique=False
    )
    op.execute(
        "INSERT INTO idempotency_keys (user_id, key, fingerprint, order_id, created_at)"
        " SELECT user_id, idempotency_key, request_fingerprint, id, created_at FROM orders"
        " WHERE idempotency_key IS NOT NULL"
    )
    op.drop_index("uq_orders_user_id_idempotency_key", table_name="orders")
    # Not a batch (copy and move) on SQLite: dropping the old orders table would cascade to
    # the order lines and keys. SQLite has dropped plain columns in place since 3.35.
    op.execute("ALTER TABLE orders DROP COLUMN request_fingerprint")
    op.execute("ALTER TABLE orders DROP COLUMN idempotency_key")
