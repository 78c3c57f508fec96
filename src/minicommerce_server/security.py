"""The signed-in user: the ``caller`` route dependency, and the guard of the staff routes
(the token was read by the edge middleware)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio.to_thread
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers import BaseRouteHandler
from litestar.types import Scope

from minicommerce import (
    AuthenticationError,
    InvalidToken,
    PermissionDenied,
    SessionCheck,
    Shop,
    User,
)

T = TypeVar("T")

_USER = "user"  # where the loaded user is kept in the request's state
_SIGN_IN = "Sign in: send 'Authorization: Bearer <access_token>'."


def _access_token(scope: Scope) -> str | None:
    """The request's access token, if the edge found a valid one."""
    token = scope.get("state", {}).get("access_token")
    return token if isinstance(token, str) else None


def signed_in_user(scope: Scope, shop: Shop) -> User:
    """The signed-in, active user of a live session, loaded once per request; 401 otherwise."""
    state = scope.setdefault("state", {})
    user = state.get(_USER)
    if isinstance(user, User):
        return user
    token = _access_token(scope)
    if token is None:
        error = state.get("auth_error")
        if isinstance(error, AuthenticationError):
            raise error
        raise AuthenticationError(_SIGN_IN)
    # Here, not in the edge, the session is checked in storage: only routes that need a
    # user pay for it, and they run in a worker thread.
    user = shop.auth.authenticate(token)
    state[_USER] = user
    return user


def token_user(request: Request[Any, Any, Any]) -> int | None:
    """The user of the request's valid access token, if any, as the edge read it (no
    database read): whose own writes a catalog read must see."""
    user_id = request.scope.get("state", {}).get("user_id")
    return user_id if isinstance(user_id, int) else None


class Caller:
    """Who is calling: the handler's way to the signed-in user.

    The token's signature and claims were checked at the edge, on the event loop (cached,
    no I/O), so a request without a valid token is a 401 before its body is read. Whether
    its session is still live is a database read: :attr:`user` does it in the thread that
    asks, which is the handler's own worker thread. A dependency that loaded the user would
    need a worker thread of its own, and each hop to a thread cost about 0.25 ms of server
    CPU per order (docs/benchmarks.md).
    """

    __slots__ = ("_scope", "_shop")

    def __init__(self, scope: Scope, shop: Shop) -> None:
        self._scope = scope
        self._shop = shop

    @property
    def user(self) -> User:
        """The signed-in, active user of a live session (loaded once per request); 401
        otherwise. Blocks on the database: call it from a sync handler."""
        return signed_in_user(self._scope, self._shop)

    @property
    def session(self) -> SessionCheck:
        """The session the token claims, not checked yet (no I/O): for a service call that
        checks it itself (``session=``: orders' placement, the cart's methods)."""
        token = _access_token(self._scope)
        if token is None:
            raise AuthenticationError(_SIGN_IN)
        return self._shop.auth.session_of(token)

    def checked_by(self, call: Callable[[SessionCheck], T]) -> T:
        """``call``'s answer, given the session the token claims, for a service method that
        checks it itself (``session=``). When that finds it ended (:class:`InvalidToken`),
        the token is trusted no more."""
        session = self.session
        try:
            return call(session)
        except InvalidToken:
            self._forget_token()
            raise

    async def checked_by_async(self, call: Callable[[SessionCheck], Awaitable[T]]) -> T:
        """:meth:`checked_by` for a coroutine function (``place_async``)."""
        session = self.session
        try:
            return await call(session)
        except InvalidToken:
            self._forget_token()
            raise

    def _forget_token(self) -> None:
        token = _access_token(self._scope)
        if token is not None:
            self._shop.auth.forget(token)


def provide_caller(request: Request[Any, Any, Any], shop: NamedDependency[Shop]) -> Caller:
    """The caller of a request with a valid access token; 401 otherwise (no I/O)."""
    state = request.scope.setdefault("state", {})
    if state.get("user_id") is None:
        error = state.get("auth_error")
        if isinstance(error, AuthenticationError):
            raise error
        raise AuthenticationError(_SIGN_IN)
    return Caller(request.scope, shop)


async def staff_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard of the staff routes: 401 without a valid token, 403 for a customer.

    Guards run before the body and the parameters are read, so a customer learns nothing
    about a staff route's input. Loading the user is a database read: it runs in a worker
    thread, and the user is kept for the handler's ``caller``.
    """
    if connection.scope.get("method") == "OPTIONS":  # says which methods exist, nothing more
        return
    shop: Shop = connection.app.state["shop"]
    user = await anyio.to_thread.run_sync(signed_in_user, connection.scope, shop)
    if not user.is_staff:
        raise PermissionDenied("This route is for staff only.")
