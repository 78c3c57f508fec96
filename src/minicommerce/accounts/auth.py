"""Authentication: logins, token pairs, refresh rotation with reuse detection, logout."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from minicommerce.accounts.emails import legacy_email_key, normalise_email
from minicommerce.accounts.models import (
    Credentials,
    PasswordChange,
    SessionCheck,
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
        session_max_age: int = 2_592_000,
        throttle: LoginThrottle | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._access = access_tokens
        self._refresh_ttl = refresh_ttl
        self._max_age = timedelta(seconds=session_max_age)
        self._throttle = throttle or LoginThrottle()
        self._clock = clock

    def login(self, credentials: Credentials) -> TokenPair:
        """Check an email and password and open a new session (a new token family).

        An unknown email, a wrong password and a deactivated account all raise the same
        :class:`InvalidCredentials` after the same amount of hashing work.
        """
        # An address stored before today's normal form (lower() rather than NFKC case
        # folding, or refused by today's syntax check) is still found under its old key.
        legacy = legacy_email_key(credentials.email)
        try:
            email = normalise_email(credentials.email)
        except ValueError:
            email = legacy
        key = _account_key(email)
        found = self._count_attempt(key, email, legacy)
        if found is None:
            self._hasher.waste_time(credentials.password)
            raise InvalidCredentials()
        user, password_hash = found
        if not (self._hasher.verify(password_hash, credentials.password) and user.is_active):
            raise InvalidCredentials()
        now = self._clock()
        with self._uow(write=True) as uow:
            uow.login_failures.clear(key)
            if self._hasher.needs_rehash(password_hash):
                uow.users.update(
                    user.id, {"password_hash": self._hasher.hash(credentials.password)}
                )
            uow.users.update(user.id, {"last_login": now})
            session_id = new_family_id()
            uow.sessions.start(session_id=session_id, user_id=user.id, now=now)
            pair = self._issue(uow, user.id, session_id, now)
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
            if record.session_started_at + self._max_age <= now:
                raise InvalidToken("The session has reached its maximum age; sign in again.")
            if record.expires_at <= now:
                raise InvalidToken("The refresh token has expired.")
            user = uow.users.get(record.user_id)
            if user is None or not user.is_active:
                uow.sessions.end(record.family_id, now)
                uow.commit()
                raise InvalidToken("The account is not active.")
            if not uow.refresh_tokens.use(record.id, now):
                # Another request retired it between our read and write: that is reuse too.
                self._revoke_reused(uow, record.family_id, record.user_id)
                raise InvalidToken("The refresh token was already used; the session is revoked.")
            pair = self._issue(uow, user.id, record.family_id, record.session_started_at)
            uow.commit()
        return pair

    def logout(self, refresh_token: str) -> None:
        """End the session the refresh token belongs to: its refresh and access tokens.
        Unknown tokens are ignored."""
        with self._uow(write=True) as uow:
            record = uow.refresh_tokens.find(hash_token(refresh_token))
            if record is not None:
                uow.sessions.end(record.family_id, self._clock())
                uow.commit()

    def verify_access_token(self, token: str) -> AccessClaims:
        """Check an access token's signature and claims (no storage access): who it claims
        to be, for rate limiting. :meth:`authenticate` is what admits a request."""
        return self._access.verify(token)

    def authenticate(self, token: str) -> User:
        """The active user an access token speaks for, if its session is still live.

        One query per call (the token's signature check is cached): run on every
        authenticated request, so that an ended session ends its access tokens at once.
        """
        session = self.session_of(token)
        try:
            return self.check(session)
        except InvalidToken:
            self._access.forget(token)
            raise

    def session_of(self, token: str) -> SessionCheck:
        """What a valid access token claims, to be checked by :meth:`check` or by a write
        that checks it in its own statement; no storage access. Raises
        :class:`InvalidToken` for a token that is not valid."""
        claims = self._access.verify(token)
        return SessionCheck(claims.user_id, claims.session_id, self._clock() - self._max_age)

    def check(self, session: SessionCheck) -> User:
        """The active user of a live session (one query); :class:`InvalidToken` otherwise."""
        with self._uow(write=False) as uow:
            return signed_in(uow, session)

    def forget(self, token: str) -> None:
        """Stop trusting a token whose session was found ended by a write that checked it."""
        self._access.forget(token)

    def change_password(self, user_id: int, change: PasswordChange) -> None:
        """Set a new password after checking the current one; ends every session.

        A wrong current password counts as a failed login of the account (a stolen access
        token must not be a way to guess the password without limit)."""
        with self._uow(write=False) as uow:
            user = uow.users.get(user_id)
        if user is None:
            raise InvalidCredentials()
        key = _account_key(user.email)
        found = self._count_attempt(key, user.email)
        if found is None or not self._hasher.verify(found[1], change.current_password):
            raise InvalidCredentials()
        new_hash = self._hasher.hash(change.new_password)
        with self._uow(write=True) as uow:
            uow.login_failures.clear(key)
            uow.users.update(user_id, {"password_hash": new_hash})
            uow.sessions.end_all(user_id, self._clock())
            uow.commit()

    def _count_attempt(
        self, key: str, email: str, legacy: str | None = None
    ) -> tuple[User, str] | None:
        """Record a password attempt for the account ``key`` as a failure before checking it
        (a success clears it), and raise :class:`RateLimited` once the account has had its
        failures in the window. The count and the record are one atomic step, so that
        concurrent attempts cannot all slip under the cap. Returns the account and its
        password hash, if the account exists."""
        now = self._clock()
        since = now - timedelta(seconds=self._throttle.window)
        with self._uow(write=True) as uow:
            uow.login_failures.lock(key)
            failures = uow.login_failures.recent(key, since)
            if len(failures) >= self._throttle.max_failures:
                oldest = sorted(failures)[-self._throttle.max_failures]
                retry = oldest + timedelta(seconds=self._throttle.window) - now
                raise RateLimited(
                    int(retry.total_seconds()) + 1,
                    "Too many failed logins for this account; try again later.",
                )
            uow.login_failures.add(key, now)
            uow.login_failures.clear(key, before=since)
            found = uow.users.credentials(email)
            if found is None and legacy is not None and legacy != email:
                found = uow.users.credentials(legacy)
            uow.commit()
        return found

    def _issue(
        self, uow: UnitOfWork, user_id: int, session_id: str, started_at: datetime
    ) -> TokenPair:
        now = self._clock()
        ends_at = started_at + self._max_age
        token = new_refresh_token()
        uow.refresh_tokens.add(
            user_id=user_id,
            family_id=session_id,
            token_hash=hash_token(token),
            now=now,
            expires_at=min(now + timedelta(seconds=self._refresh_ttl), ends_at),
        )
        access_expires = min(now + timedelta(seconds=self._access.ttl), ends_at)
        return TokenPair(
            access_token=self._access.issue(user_id, session_id, now, access_expires),
            refresh_token=token,
            expires_in=max(0, int((access_expires - now).total_seconds())),
        )

    def _revoke_reused(self, uow: UnitOfWork, family_id: str, user_id: int) -> None:
        log.warning("refresh token reuse detected; revoking family", extra={"user_id": user_id})
        uow.sessions.end(family_id, self._clock())
        uow.commit()


SESSION_ENDED = "The session has ended, or the account is not active."


def signed_in(uow: UnitOfWork, session: SessionCheck) -> User:
    """The active user of a live session, read in ``uow``; :class:`InvalidToken` otherwise.
    Storage that checks a session inside a write (``OrderRepository.checks_session``)
    applies this same rule in its statement."""
    if is_valid_id(session.user_id):
        user = uow.users.get_in_session(session.user_id, session.session_id, session.started_after)
        if user is not None and user.is_active:
            return user
    raise InvalidToken(SESSION_ENDED)


def _account_key(email: str) -> str:
    """What failures are counted under: a hash of the normalised email, so that the table
    of failures holds no addresses."""
    return hashlib.sha256(email.encode()).hexdigest()
