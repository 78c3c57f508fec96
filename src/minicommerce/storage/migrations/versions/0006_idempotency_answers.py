"""idempotency keys in their own table, with the answer

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-30

The Idempotency-Key moves off the order into a table of its own that also keeps the order
as answered (a replay returns it, whatever happened to the order since) and when the key
was claimed (keys are purged after the retention). Keys already on orders are copied with
no answer: their replays show the order as it is now, as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("user_id", ID, nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("order_id", ID, nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
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


def downgrade() -> None:
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
