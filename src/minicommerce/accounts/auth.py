"""Authentication: logins, token pairs, refresh rotation with reuse detection, logout."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import timedelta

from minicommerce.accounts.emails import legacy_email_key, normalise_email
from minicommerce.accounts.models import (
    Credentials,
    PasswordChange,
    TokenPair,
    User,
)
from minicommerce.accounts.passwords import PasswordHasher
from minicommerce.accounts.tokens import (
    AccessClaims,
    AccessTokenCodec,
    hash_token,
    new_family_id,
    new_refresh_token,
)
from minicommerce.clock import Clock, utcnow
from minicommerce.errors import InvalidCredentials, InvalidToken, RateLimited
from minicommerce.ids import is_valid_id
from minicommerce.uow import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger("minicommerce.auth")


@dataclass(frozen=True, slots=True)
class LoginThrottle:
    """After ``max_failures`` failed logins for one account within ``window`` seconds,
    further attempts are refused until the oldest failure leaves the window."""

    max_failures: int = 10
    window: int = 900


class AuthService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        hasher: PasswordHasher,
        access_tokens: AccessTokenCodec,
        *,
        refresh_ttl: int = 1_209_600,
        throttle: LoginThrottle | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._access = access_tokens
        self._refresh_ttl = refresh_ttl
        self._throttle = throttle or LoginThrottle()
        self._clock = clock

    def login(self, credentials: Credentials) -> TokenPair:
        """Check an email and password and open a new session (a new token family).

        An unknown email, a wrong password and a deactivated account all raise the same
        :class:`InvalidCredentials` after the same amount of hashing work.
        """
        now = self._clock()
        # An address stored before today's normal form (lower() rather than NFKC case
        # folding, or refused by today's syntax check) is still found under its old key.
        legacy = legacy_email_key(credentials.email)
        try:
            email = normalise_email(credentials.email)
        except ValueError:
            email = legacy
        key = hashlib.sha256(email.encode()).hexdigest()
        since = now - timedelta(seconds=self._throttle.window)
        with self._uow(write=False) as uow:
            failures = uow.login_failures.recent(key, since)
            found = uow.users.credentials(email)
            if found is None and legacy != email:
                found = uow.users.credentials(legacy)
        if len(failures) >= self._throttle.max_failures:
            oldest = sorted(failures)[-self._throttle.max_failures]
            retry = oldest + timedelta(seconds=self._throttle.window) - now
            raise RateLimited(
                int(retry.total_seconds()) + 1,
                "Too many failed logins for this account; try again later.",
            )
        if found is None:
            self._hasher.waste_time(credentials.password)
            ok = False
        else:
            user, password_hash = found
            ok = self._hasher.verify(password_hash, credentials.password) and user.is_active
        with self._uow(write=True) as uow:
            if not ok or found is None:
                uow.login_failures.add(key, now)
                uow.login_failures.clear(key, before=since)
                uow.commit()
                raise InvalidCredentials()
            if failures:
                uow.login_failures.clear(key)
            if self._hasher.needs_rehash(password_hash):
                uow.users.update(
                    user.id, {"password_hash": self._hasher.hash(credentials.password)}
                )
            uow.users.update(user.id, {"last_login": now})
            pair = self._issue(uow, user.id, new_family_id())
            uow.commit()
        return pair

    def refresh(self, refresh_token: str) -> TokenPair:
        """Trade a refresh token for a new pair. The old token is retired; presenting a
        retired token again is taken as theft and revokes its whole family."""
        now = self._clock()
        with self._uow(write=True) as uow:
            record = uow.refresh_tokens.find(hash_token(refresh_token))
            if record is None:
                raise InvalidToken("The refresh token is invalid.")
            if record.revoked_at is not None or record.used_at is not None:
                self._revoke_reused(uow, record.family_id, record.user_id)
                raise InvalidToken("The refresh token was already used; the session is revoked.")
            if record.expires_at <= now:
                raise InvalidToken("The refresh token has expired.")
            user = uow.users.get(record.user_id)
            if user is None or not user.is_active:
                uow.refresh_tokens.revoke_family(record.family_id, now)
                uow.commit()
                raise InvalidToken("The account is not active.")
            if not uow.refresh_tokens.use(record.id, now):
                # Another request retired it between our read and write: that is reuse too.
                self._revoke_reused(uow, record.family_id, record.user_id)
                raise InvalidToken("The refresh token was already used; the session is revoked.")
            pair = self._issue(uow, user.id, record.family_id)
            uow.commit()
        return pair

    def logout(self, refresh_token: str) -> None:
        """End the session the refresh token belongs to. Unknown tokens are ignored."""
        with self._uow(write=True) as uow:
            record = uow.refresh_tokens.find(hash_token(refresh_token))
            if record is not None:
                uow.refresh_tokens.revoke_family(record.family_id, self._clock())
                uow.commit()

    def verify_access_token(self, token: str) -> AccessClaims:
        """Check an access token's signature and claims (no storage access)."""
        return self._access.verify(token)

    def authenticate(self, token: str) -> User:
        """The active user an access token speaks for."""
        claims = self._access.verify(token)
        return self.active_user(claims.user_id)

    def active_user(self, user_id: int) -> User:
        if not is_valid_id(user_id):
            raise InvalidToken("The account does not exist or is not active.")
        with self._uow(write=False) as uow:
            user = uow.users.get(user_id)
        if user is None or not user.is_active:
            raise InvalidToken("The account does not exist or is not active.")
        return user

    def change_password(self, user_id: int, change: PasswordChange) -> None:
        """Set a new password after checking the current one; ends every session."""
        with self._uow(write=False) as uow:
            user = uow.users.get(user_id)
            found = uow.users.credentials(user.email) if user else None
        if found is None or not self._hasher.verify(found[1], change.current_password):
            raise InvalidCredentials()
        new_hash = self._hasher.hash(change.new_password)
        with self._uow(write=True) as uow:
            uow.users.update(user_id, {"password_hash": new_hash})
            uow.refresh_tokens.revoke_user(user_id, self._clock())
            uow.commit()

    def _issue(self, uow: UnitOfWork, user_id: int, family_id: str) -> TokenPair:
        now = self._clock()
        token = new_refresh_token()
        uow.refresh_tokens.add(
            user_id=user_id,
            family_id=family_id,
            token_hash=hash_token(token),
            now=now,
            expires_at=now + timedelta(seconds=self._refresh_ttl),
        )
        return TokenPair(
            access_token=self._access.issue(user_id, now),
            refresh_token=token,
            expires_in=self._access.ttl,
        )

    def _revoke_reused(self, uow: UnitOfWork, family_id: str, user_id: int) -> None:
        log.warning("refresh token reuse detected; revoking family", extra={"user_id": user_id})
        uow.refresh_tokens.revoke_family(family_id, self._clock())
        uow.commit()
