"""Users, sessions, refresh tokens and login failures on SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from minicommerce.accounts.models import RefreshTokenRecord, User
from minicommerce.errors import EmailTaken
from minicommerce.storage.reads import CompiledRead, contains_pattern
from minicommerce.storage.tables import login_failures, refresh_tokens, sessions, users

_u = users.c
_s = sessions.c
_USER = (
    _u.id,
    _u.email,
    _u.first_name,
    _u.last_name,
    _u.is_staff,
    _u.is_active,
    _u.created_at,
    _u.last_login,
)
# Built once: every authenticated request loads its user.
_BY_ID = CompiledRead(
    sa.select(*_USER).where(_u.id == sa.bindparam("user_id", type_=_u.id.type)).limit(1)
)
# Every authenticated request: its user, if its session is theirs and live. Two primary-key
# lookups in one round trip.
_IN_SESSION = CompiledRead(
    sa.select(*_USER)
    .select_from(users.join(sessions, _s.user_id == _u.id))
    .where(
        _u.id == sa.bindparam("user_id", type_=_u.id.type),
        _s.id == sa.bindparam("session_id", type_=_s.id.type),
        _s.revoked_at.is_(None),
        _s.created_at > sa.bindparam("started_after", type_=_s.created_at.type),
    )
    .limit(1)
)
_BY_EMAIL = sa.select(*_USER).where(_u.email == sa.bindparam("email", type_=_u.email.type))
_CREDENTIALS = sa.select(*_USER, _u.password_hash).where(
    _u.email == sa.bindparam("email", type_=_u.email.type)
)
_WRITABLE = frozenset(
    {"first_name", "last_name", "is_staff", "is_active", "password_hash", "last_login"}
)


def _user(row: Any) -> User:
    return User(
        id=row.id,
        email=row.email,
        first_name=row.first_name,
        last_name=row.last_name,
        is_staff=row.is_staff,
        is_active=row.is_active,
        created_at=row.created_at,
        last_login=row.last_login,
    )


class SqlUserRepository:
    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

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
        stmt = (
            sa.insert(users)
            .values(
                email=email,
                password_hash=password_hash,
                first_name=first_name,
                last_name=last_name,
                is_staff=is_staff,
                is_active=True,
                created_at=now,
            )
            .returning(*_USER)
        )
        try:
            return _user(self._conn.execute(stmt).one())
        except sa.exc.IntegrityError as exc:
            if "email" in str(exc.orig).lower():
                raise EmailTaken() from exc
            raise

    def get(self, user_id: int) -> User | None:
        row = _BY_ID.first(self._conn, {"user_id": user_id})
        return None if row is None else _user(row)

    def get_in_session(self, user_id: int, session_id: str, started_after: datetime) -> User | None:
        row = _IN_SESSION.first(
            self._conn,
            {"user_id": user_id, "session_id": session_id, "started_after": started_after},
        )
        return None if row is None else _user(row)

    def get_by_email(self, email: str) -> User | None:
        row = self._conn.execute(_BY_EMAIL, {"email": email}).first()
        return None if row is None else _user(row)

    def credentials(self, email: str) -> tuple[User, str] | None:
        row = self._conn.execute(_CREDENTIALS, {"email": email}).first()
        return None if row is None else (_user(row), row.password_hash)

    def update(self, user_id: int, values: Mapping[str, Any]) -> User | None:
        unknown = set(values) - _WRITABLE
        if unknown:
            raise ValueError(f"not writable: {sorted(unknown)}")
        stmt = sa.update(users).where(_u.id == user_id).values(**values).returning(*_USER)
        row = self._conn.execute(stmt).first()
        return None if row is None else _user(row)

    def list(self, q: str | None, after_id: int | None, limit: int) -> list[User]:
        stmt = sa.select(*_USER)
        if q is not None:
            pattern = contains_pattern(q)
            stmt = stmt.where(
                sa.or_(
                    _u.email.ilike(pattern, escape="\\"),
                    _u.first_name.ilike(pattern, escape="\\"),
                    _u.last_name.ilike(pattern, escape="\\"),
                )
            )
        if after_id is not None:
            stmt = stmt.where(_u.id < after_id)
        stmt = stmt.order_by(_u.id.desc()).limit(limit)
        return [_user(row) for row in self._conn.execute(stmt)]


_r = refresh_tokens.c


class SqlRefreshTokenRepository:
    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def add(
        self, *, user_id: int, family_id: str, token_hash: str, now: datetime, expires_at: datetime
    ) -> None:
        self._conn.execute(
            sa.insert(refresh_tokens).values(
                user_id=user_id,
                family_id=family_id,
                token_hash=token_hash,
                created_at=now,
                expires_at=expires_at,
            )
        )

    def find(self, token_hash: str) -> RefreshTokenRecord | None:
        row = self._conn.execute(
            sa.select(
                _r.id,
                _r.user_id,
                _r.family_id,
                _r.expires_at,
                _r.used_at,
                _r.revoked_at,
                _s.created_at.label("session_started_at"),
            )
            .select_from(refresh_tokens.join(sessions, _s.id == _r.family_id))
            .where(_r.token_hash == token_hash)
        ).first()
        if row is None:
            return None
        return RefreshTokenRecord(
            id=row.id,
            user_id=row.user_id,
            family_id=row.family_id,
            expires_at=row.expires_at,
            used_at=row.used_at,
            revoked_at=row.revoked_at,
            session_started_at=row.session_started_at,
        )

    def use(self, token_id: int, now: datetime) -> bool:
        result = self._conn.execute(
            sa.update(refresh_tokens)
            .where(_r.id == token_id, _r.used_at.is_(None), _r.revoked_at.is_(None))
            .values(used_at=now)
        )
        return result.rowcount == 1

    def delete_expired(self, before: datetime) -> int:
        result = self._conn.execute(sa.delete(refresh_tokens).where(_r.expires_at < before))
        return result.rowcount


class SqlSessionRepository:
    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def start(self, *, session_id: str, user_id: int, now: datetime) -> None:
        self._conn.execute(
            sa.insert(sessions).values(id=session_id, user_id=user_id, created_at=now)
        )

    def end(self, session_id: str, now: datetime) -> None:
        self._conn.execute(
            sa.update(sessions)
            .where(_s.id == session_id, _s.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        self._conn.execute(
            sa.update(refresh_tokens)
            .where(_r.family_id == session_id, _r.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    def end_all(self, user_id: int, now: datetime) -> None:
        self._conn.execute(
            sa.update(sessions)
            .where(_s.user_id == user_id, _s.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        self._conn.execute(
            sa.update(refresh_tokens)
            .where(_r.user_id == user_id, _r.revoked_at.is_(None))
            .values(revoked_at=now)
        )


_f = login_failures.c
# The namespace of the per-account advisory locks on PostgreSQL (any constant will do).
_THROTTLE_LOCK_SPACE = 0x6D63_6C66  # "mclf"


class SqlLoginFailureRepository:
    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def lock(self, key: str) -> None:
        if self._conn.dialect.name == "postgresql":
            # A transaction-scoped advisory lock on (namespace, 32 bits of the key's hash):
            # attempts for one account queue here, whichever instance they reach. Two
            # accounts that share the 32 bits merely queue together for a moment.
            self._conn.execute(
                sa.select(sa.func.pg_advisory_xact_lock(_THROTTLE_LOCK_SPACE, _lock_id(key)))
            )
        # SQLite: the write transaction began with BEGIN IMMEDIATE and so holds the
        # database's write lock already, which serialises every attempt.

    def recent(self, key: str, since: datetime) -> list[datetime]:
        stmt = sa.select(_f.failed_at).where(_f.account_key == key, _f.failed_at >= since)
        return list(self._conn.execute(stmt).scalars())

    def add(self, key: str, at: datetime) -> None:
        self._conn.execute(sa.insert(login_failures).values(account_key=key, failed_at=at))

    def clear(self, key: str, before: datetime | None = None) -> None:
        stmt = sa.delete(login_failures).where(_f.account_key == key)
        if before is not None:
            stmt = stmt.where(_f.failed_at < before)
        self._conn.execute(stmt)


def _lock_id(key: str) -> int:
    return int.from_bytes(bytes.fromhex(key[:8]), "big", signed=True)
