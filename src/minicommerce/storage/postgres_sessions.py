"""The session check that PostgreSQL statements make in their own text.

A write or read made for the caller's session (``SessionCheck``) can check that the session
is live in the same statement, rather than in a query of its own before it: one round trip
and one unit of work less per request. The rule is ``accounts.auth.signed_in``'s, written
once here for every statement that folds it in: an active user, and a session of theirs
that has not ended and started after the maximum age. The tests hold each statement to that
rule (``tests/integration/test_order_sessions.py``, ``test_cart_sessions.py``).
"""

from __future__ import annotations

from typing import Any

from minicommerce.accounts.models import SessionCheck

# A one-row CTE, ``signed_in(ok)``; MATERIALIZED so that it runs once per statement.
SIGNED_IN = """signed_in AS MATERIALIZED (
    SELECT EXISTS (
        SELECT FROM sessions s JOIN users u ON u.id = s.user_id
        WHERE s.id = %(session_id)s AND s.user_id = %(user_id)s AND s.revoked_at IS NULL
          AND s.created_at > %(started_after)s AND u.is_active
    ) AS ok
)"""


def session_params(session: SessionCheck) -> dict[str, Any]:
    """``SIGNED_IN``'s parameters but ``user_id``, which the statement binds as its own."""
    return {"session_id": session.session_id, "started_after": session.started_after}
