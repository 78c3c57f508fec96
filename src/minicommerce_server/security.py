"""Who is calling, and how often: bearer tokens, rate limits, and the user dependencies."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import NamedDependency
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from minicommerce import AuthenticationError, PermissionDenied, RateLimited, Shop, User
from minicommerce.errors import InvalidToken
from minicommerce.ratelimit import Rate, RateLimiter

API_PREFIX = "/api/"


class CallerMiddleware:
    """Reads the bearer token (signature and claims only, no database) and applies the
    rate limit: per user when the token is valid, else per client address.

    A bad token on a public route is treated as anonymous; protected routes answer 401
    with the reason (see :func:`provide_user`).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        shop: NamedDependency[Shop],
        limiter: RateLimiter,
        anon_rate: Rate | None,
        user_rate: Rate | None,
        trust_forwarded_for: bool = False,
    ) -> None:
        self.app = app
        self._shop = shop
        self._limiter = limiter
        self._anon = anon_rate
        self._user = user_rate
        self._trust_forwarded_for = trust_forwarded_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        user_id: int | None = None
        authorization = _header(scope, b"authorization")
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                state["auth_error"] = InvalidToken("Use 'Authorization: Bearer <access_token>'.")
            else:
                try:
                    user_id = self._shop.auth.verify_access_token(token.strip()).user_id
                except InvalidToken as exc:
                    state["auth_error"] = exc
        state["user_id"] = user_id
        if scope["path"].startswith(API_PREFIX):
            if user_id is not None:
                self._check(f"user:{user_id}", self._user)
            else:
                self._check(f"addr:{self._client(scope)}", self._anon)
        await self.app(scope, receive, send)

    def _check(self, key: str, rate: Rate | None) -> None:
        if rate is None:
            return
        decision = self._limiter.hit(key, rate)
        if not decision.allowed:
            raise RateLimited(decision.retry_after)

    def _client(self, scope: Scope) -> str:
        if self._trust_forwarded_for:
            forwarded = _header(scope, b"x-forwarded-for")
            if forwarded:
                return forwarded.split(",")[0].strip()
        client = scope.get("client")
        return client[0] if client else "unknown"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def provide_user(request: Request[Any, Any, Any], shop: NamedDependency[Shop]) -> User:
    """The signed-in, active user; 401 otherwise."""
    state = request.scope.get("state") or {}
    user_id = state.get("user_id")
    if user_id is None:
        error = state.get("auth_error")
        if isinstance(error, AuthenticationError):
            raise error
        raise AuthenticationError("Sign in: send 'Authorization: Bearer <access_token>'.")
    return shop.auth.active_user(user_id)


def provide_staff(current_user: NamedDependency[User]) -> User:
    """The signed-in user, if staff; 403 otherwise."""
    if not current_user.is_staff:
        raise PermissionDenied("This route is for staff only.")
    return current_user
