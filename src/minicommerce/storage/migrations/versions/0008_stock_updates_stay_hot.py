"""no index on products' stock: every order's stock update stays a HOT update

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30

0007 indexed live products by (stock_quantity, id) for the staff low-stock list. Every
order changes stock_quantity, and on PostgreSQL an update that changes an indexed column
cannot be a heap-only (HOT) update: each order then wrote a new entry into every index of
products (six of them) instead of none, and the hot-product case queued longer on the row
lock (docs/benchmarks.md). The low-stock list, a staff query, scans live products instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = sa.text("deleted_at IS NULL")


def upgrade() -> None:
    op.drop_index("ix_products_live_stock_quantity", table_name="products")


def downgrade() -> None:
    op.create_index(
        "ix_products_live_stock_quantity",
        "products",
        ["stock_quantity", "id"],
        unique=False,
        sqlite_where=LIVE,
        postgresql_where=LIVE,
    )
