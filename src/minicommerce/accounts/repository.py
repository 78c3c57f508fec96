"""What accounts and auth need from storage."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from minicommerce.accounts.models import RefreshTokenRecord, User


class UserRepository(Protocol):
    def add(
        self,
        *,
        email: str,
        password_hash: str,
        first_name: str,
        last_name: str,
        is_staff: bool,
        now: datetime,
    ) -> User:
        """Insert an account; raises :class:`~minicommerce.errors.EmailTaken` on a duplicate."""
        ...

    def get(self, user_id: int) -> User | None: ...

    def get_by_email(self, email: str) -> User | None: ...

    def get_in_session(self, user_id: int, session_id: str, started_after: datetime) -> User | None:
        """The user, if ``session_id`` is theirs, has not ended and started after
        ``started_after``: one query, run on every authenticated request."""
        ...

    def credentials(self, email: str) -> tuple[User, str] | None:
        """The account and its password hash, for checking a login."""
        ...

    def update(self, user_id: int, values: Mapping[str, Any]) -> User | None: ...

    def list(self, q: str | None, after_id: int | None, limit: int) -> list[User]:
        """Newest first; ``q`` matches email and names."""
        ...


class RefreshTokenRepository(Protocol):
    def add(
        self, *, user_id: int, family_id: str, token_hash: str, now: datetime, expires_at: datetime
    ) -> None: ...

    def find(self, token_hash: str) -> RefreshTokenRecord | None: ...

    def use(self, token_id: int, now: datetime) -> bool:
        """Retire a live token; ``False`` if it was already used or revoked (a race lost)."""
        ...

    def delete_expired(self, before: datetime) -> int: ...


class SessionRepository(Protocol):
    """Sessions: one per refresh-token family, named by the ``sid`` of its access tokens."""

    def start(self, *, session_id: str, user_id: int, now: datetime) -> None: ...

    def end(self, session_id: str, now: datetime) -> None:
        """End one session: its refresh tokens are revoked and its access tokens refused."""
        ...

    def end_all(self, user_id: int, now: datetime) -> None:
        """End every session of a user."""
        ...


class LoginFailureRepository(Protocol):
    """Failed logins per account key (a hash of the normalised email)."""

    def lock(self, key: str) -> None:
        """Hold attempts for ``key`` back until this transaction ends, so that counting and
        recording an attempt is atomic across threads, processes and instances."""
        ...

    def recent(self, key: str, since: datetime) -> list[datetime]: ...

    def add(self, key: str, at: datetime) -> None: ...

    def clear(self, key: str, before: datetime | None = None) -> None:
        """Forget the failures of ``key`` (all of them, or those before ``before``)."""
        ...
