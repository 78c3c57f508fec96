"""Access tokens (short-lived JWTs) and refresh tokens (opaque, stored hashed)."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from minicommerce.errors import InvalidToken

ACCESS_TOKEN_TYPE = "at+jwt"  # RFC 9068: lets a verifier tell an access token from any other JWT
REFRESH_PREFIX = "rt_"
_REQUIRED = ["exp", "iat", "jti", "iss", "aud", "sub"]
_VERIFIED_CACHE_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: int
    jti: str
    issued_at: datetime
    expires_at: datetime


class AccessTokenCodec:
    """Issues and verifies access tokens with one pinned algorithm.

    Verification requires and checks ``exp``, ``iat``, ``jti``, ``iss``, ``aud`` and
    ``sub``, and the ``typ`` header, so neither a refresh token nor a JWT minted for
    another audience or purpose passes.
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
    ) -> None:
        if len(secret) < 32:
            raise ValueError("the token secret must be at least 32 characters long")
        self._secret = secret
        self.ttl = ttl
        self._issuer = issuer
        self._audience = audience
        self._algorithm = algorithm
        self._leeway = leeway
        # Checking a token costs two JSON decodes and an HMAC (about a tenth of an order
        # request's CPU); a client sends the same token for its whole life. What a valid
        # token says cannot change, only its expiry can come, and that is checked on use.
        self._verified: dict[str, AccessClaims] = {}

    def issue(self, user_id: int, now: datetime) -> str:
        claims = {
            "sub": str(user_id),
            "iat": now,
            "exp": now + timedelta(seconds=self.ttl),
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
        if known is not None and time.time() < known.expires_at.timestamp() + self._leeway:
            return known
        claims = self._verify(token)
        if len(self._verified) >= _VERIFIED_CACHE_SIZE:
            self._verified.clear()
        self._verified[token] = claims
        return claims

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
                leeway=self._leeway,
                options={"require": _REQUIRED},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("The access token has expired.") from None
        except jwt.PyJWTError:
            raise InvalidToken("The access token is invalid.") from None
        if decoded["header"].get("typ") != ACCESS_TOKEN_TYPE:
            raise InvalidToken("The token is not an access token.")
        payload = decoded["payload"]
        try:
            user_id = int(payload["sub"])
        except (TypeError, ValueError):
            raise InvalidToken("The access token is invalid.") from None
        return AccessClaims(
            user_id=user_id,
            jti=str(payload["jti"]),
            issued_at=datetime.fromtimestamp(payload["iat"], UTC),
            expires_at=datetime.fromtimestamp(payload["exp"], UTC),
        )


def new_refresh_token() -> str:
    """An opaque refresh token: 256 random bits. Only its hash is stored."""
    return REFRESH_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    # A fast hash is right here: the token has 256 bits of entropy, nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


def new_family_id() -> str:
    return uuid.uuid4().hex
