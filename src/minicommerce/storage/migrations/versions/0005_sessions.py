"""sessions: one row per refresh-token family

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

Access tokens name their session (the ``sid`` claim) and every authenticated request checks
it, so that a logout, a reuse detection, a password change or a deactivation ends the
access tokens too, and a session lives at most its maximum age however often it is rotated.
Existing families become sessions that started with their first token; a family whose
every token is revoked becomes an ended session.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("revoked_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
    )
    op.create_index(op.f("ix_sessions_user_id"), "sessions", ["user_id"], unique=False)
    op.execute(
        "INSERT INTO sessions (id, user_id, created_at, revoked_at)"
        " SELECT family_id, MIN(user_id), MIN(created_at),"
        " CASE WHEN COUNT(*) = COUNT(revoked_at) THEN MAX(revoked_at) END"
        " FROM refresh_tokens GROUP BY family_id"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_sessions_user_id"), table_name="sessions")
    op.drop_table("sessions")
