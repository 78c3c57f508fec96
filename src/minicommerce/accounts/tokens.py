"""Access tokens (short-lived JWTs) and refresh tokens (opaque, stored hashed)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from jwt.types import Options

from minicommerce.clock import Clock, utcnow
from minicommerce.errors import InvalidToken

ACCESS_TOKEN_TYPE = "at+jwt"  # RFC 9068: lets a verifier tell an access token from any other JWT
REFRESH_PREFIX = "rt_"
_REQUIRED = ["exp", "iat", "jti", "iss", "aud", "sub", "sid"]
# Times are checked here against the injected clock, not by PyJWT against the system's.
_OPTIONS: Options = {
    "require": _REQUIRED,
    "verify_exp": False,
    "verify_iat": False,
    "verify_nbf": False,
}
_VERIFIED_CACHE_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: int
    session_id: str
    jti: str
    issued_at: datetime
    expires_at: datetime


class AccessTokenCodec:
    """Issues and verifies access tokens with one pinned algorithm.

    Verification requires and checks ``exp``, ``iat``, ``jti``, ``iss``, ``aud``, ``sub``
    and ``sid`` (the session), and the ``typ`` header, so neither a refresh token nor a JWT
    minted for another audience or purpose passes. A token that lives longer than ``ttl``
    (minted before the setting was lowered) is refused too. Whether its session is still
    live is for :class:`~minicommerce.accounts.auth.AuthService` to check in storage.
    """

    def __init__(
        self,
        secret: str,
        *,
        ttl: int = 900,
        issuer: str = "minicommerce",
        audience: str = "minicommerce-api",
        algorithm: str = "HS256",
        leeway: int = 5,
        clock: Clock = utcnow,
    ) -> None:
        if len(secret) < 32:
            raise ValueError("the token secret must be at least 32 characters long")
        self._secret = secret
        self.ttl = ttl
        self._issuer = issuer
        self._audience = audience
        self._algorithm = algorithm
        self._leeway = leeway
        self._clock = clock
        # Checking a token costs two JSON decodes and an HMAC (about a tenth of an order
        # request's CPU); a client sends the same token for its whole life. What a valid
        # token says cannot change, only its expiry can come, and that is checked on use.
        # Its session can end: that is checked in storage on every request, and a token
        # found revoked there is dropped from here (:meth:`forget`).
        self._verified: dict[str, tuple[AccessClaims, float]] = {}

    def issue(
        self, user_id: int, session_id: str, now: datetime, expires_at: datetime | None = None
    ) -> str:
        """A token for ``user_id`` in ``session_id``; it expires after ``ttl`` seconds or at
        ``expires_at`` (the end of the session), whichever comes first."""
        exp = now + timedelta(seconds=self.ttl)
        if expires_at is not None:
            exp = min(exp, expires_at)
        claims = {
            "sub": str(user_id),
            "sid": session_id,
            "iat": now,
            "exp": exp,
            "jti": uuid.uuid4().hex,
            "iss": self._issuer,
            "aud": self._audience,
        }
        return jwt.encode(
            claims, self._secret, algorithm=self._algorithm, headers={"typ": ACCESS_TOKEN_TYPE}
        )

    def verify(self, token: str) -> AccessClaims:
        """The claims of a valid access token; :class:`InvalidToken` for anything else."""
        known = self._verified.get(token)
        if known is not None and self._clock().timestamp() < known[1]:
            return known[0]
        claims = self._verify(token)
        if len(self._verified) >= _VERIFIED_CACHE_SIZE:
            self._verified.clear()
        self._verified[token] = (claims, claims.expires_at.timestamp() + self._leeway)
        return claims

    def forget(self, token: str) -> None:
        """Drop a token from the verification cache (its session has ended)."""
        self._verified.pop(token, None)

    def _verify(self, token: str) -> AccessClaims:
        if not token or len(token) > 4096 or token.startswith(REFRESH_PREFIX):
            raise InvalidToken("The access token is missing or malformed.")
        try:
            decoded = jwt.api_jwt.decode_complete(
                token,
                self._secret,
                algorithms=[self._algorithm],
                audience=self._audience,
                issuer=self._issuer,
                options=_OPTIONS,
            )
        except jwt.PyJWTError:
            raise InvalidToken("The access token is invalid.") from None
        if decoded["header"].get("typ") != ACCESS_TOKEN_TYPE:
            raise InvalidToken("The token is not an access token.")
        payload = decoded["payload"]
        iat, exp, sid = payload["iat"], payload["exp"], payload["sid"]
        try:
            user_id = int(payload["sub"])
        except (TypeError, ValueError):
            raise InvalidToken("The access token is invalid.") from None
        if not (_is_number(iat) and _is_number(exp) and isinstance(sid, str) and sid):
            raise InvalidToken("The access token is invalid.")
        now = self._clock().timestamp()
        if now >= exp + self._leeway:
            raise InvalidToken("The access token has expired.")
        if iat > now + self._leeway:
            raise InvalidToken("The access token is invalid.")
        if exp - iat > self.ttl:
            # Minted for longer than tokens live now (the setting was lowered since).
            raise InvalidToken("The access token outlives the configured lifetime.")
        return AccessClaims(
            user_id=user_id,
            session_id=sid,
            jti=str(payload["jti"]),
            issued_at=datetime.fromtimestamp(iat, UTC),
            expires_at=datetime.fromtimestamp(exp, UTC),
        )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def new_refresh_token() -> str:
    """An opaque refresh token: 256 random bits. Only its hash is stored."""
    return REFRESH_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    # A fast hash is right here: the token has 256 bits of entropy, nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


def new_family_id() -> str:
    return uuid.uuid4().hex
