"""The schema, defined once. Alembic migrations create it; tests compare the two."""

from __future__ import annotations

import sqlalchemy as sa

from minicommerce.storage.types import Money, UTCDateTime

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_live = sa.text("deleted_at IS NULL")

products = sa.Table(
    "products",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("sku", sa.String(64), nullable=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.Text(), nullable=False, server_default=""),
    sa.Column("price", Money(10), nullable=False),
    sa.Column("stock_quantity", sa.Integer(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("deleted_at", UTCDateTime(), nullable=True),
    sa.CheckConstraint("stock_quantity >= 0", name="stock_not_negative"),
    sa.CheckConstraint("price > 0", name="price_positive"),
    # A SKU is unique among live products; an archived product frees its SKU
    # (its order lines keep their own copy).
    sa.Index("uq_products_sku", "sku", unique=True, sqlite_where=_live, postgresql_where=_live),
    # One index per sort of the product list, keyset-ready: (sort key, id).
    sa.Index("ix_products_live_price", "price", "id", sqlite_where=_live, postgresql_where=_live),
    sa.Index("ix_products_live_name", "name", "id", sqlite_where=_live, postgresql_where=_live),
    sa.Index("ix_products_live_id", "id", sqlite_where=_live, postgresql_where=_live),
    # No index on stock_quantity: every order updates it, and an indexed column would make
    # each of those updates write to every index above (no HOT update on PostgreSQL). The
    # staff low-stock list scans live products instead (migration 0008).
)

product_images = sa.Table(
    "product_images",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("product_id", Id, sa.ForeignKey("products.id", ondelete="CASCADE"), nullable=False),
    # Dense 0..n-1 per product, 0 the main image. Not unique: a reorder shifts several rows
    # in one statement, and the product row's lock serialises changes to one product.
    sa.Column("position", sa.Integer(), nullable=False),
    sa.Column("alt", sa.String(1000), nullable=False, server_default=""),
    sa.Column("width", sa.Integer(), nullable=False),
    sa.Column("height", sa.Integer(), nullable=False),
    # SHA-256 of the uploaded bytes: the files are named after it, and are removed only when
    # no image row uses it any more.
    sa.Column("content_hash", sa.String(64), nullable=False, index=True),
    sa.Column("format", sa.String(8), nullable=False),
    # [{width, height, format, name}], smallest first: the stored files.
    sa.Column("renditions", sa.JSON(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Index("ix_product_images_product_id", "product_id", "position"),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("first_name", sa.String(100), nullable=False, server_default=""),
    sa.Column("last_name", sa.String(100), nullable=False, server_default=""),
    sa.Column("is_staff", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("last_login", UTCDateTime(), nullable=True),
    sa.Index("uq_users_email", "email", unique=True),
)

# A session is one refresh-token family: it starts at a login and ends with a logout, a
# reuse detection, a password change, a deactivation, or its maximum age (a setting, counted
# from created_at). Its access tokens name it (``sid``) and are refused once it has ended.
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column(
        "user_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
)

refresh_tokens = sa.Table(
    "refresh_tokens",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column(
        "user_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    sa.Column("family_id", sa.String(32), nullable=False, index=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("used_at", UTCDateTime(), nullable=True),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
)

login_failures = sa.Table(
    "login_failures",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("account_key", sa.String(64), nullable=False),
    sa.Column("failed_at", UTCDateTime(), nullable=False),
    sa.Index("ix_login_failures_account_key", "account_key", "failed_at"),
)

cart_items = sa.Table(
    "cart_items",
    metadata,
    sa.Column("user_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("product_id", Id, sa.ForeignKey("products.id"), primary_key=True),
    sa.Column("quantity", sa.Integer(), nullable=False),
    sa.Column("added_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.CheckConstraint("quantity > 0 AND quantity <= 1000", name="quantity_in_range"),
)

orders = sa.Table(
    "orders",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("user_id", Id, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("total_amount", Money(12), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("shipping_address", sa.JSON(), nullable=False),
    # The staff overview counts orders by day over a window of creation times.
    sa.Column("created_at", UTCDateTime(), nullable=False, index=True),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

order_items = sa.Table(
    "order_items",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column(
        "order_id", Id, sa.ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    sa.Column("product_id", Id, sa.ForeignKey("products.id"), nullable=False, index=True),
    sa.Column("sku", sa.String(64), nullable=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("quantity", sa.Integer(), nullable=False),
    sa.Column("unit_price", Money(10), nullable=False),
    sa.Column("line_total", Money(12), nullable=False),
    sa.CheckConstraint("quantity > 0", name="quantity_positive"),
)

# Idempotency-Key of a request that placed an order, per user: a hash of that request and
# the order as answered (JSON, ``models.answer_of``), for replays. Written with the order,
# so a concurrent duplicate waits on the primary key; purged after the retention.
idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("user_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("order_id", Id, sa.ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
    sa.Column("answer", sa.Text(), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False, index=True),
)
