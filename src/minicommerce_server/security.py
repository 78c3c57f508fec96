"""The signed-in user, as route dependencies (the token was read by the edge middleware)."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import NamedDependency

from minicommerce import AuthenticationError, PermissionDenied, Shop, User


def provide_user(request: Request[Any, Any, Any], shop: NamedDependency[Shop]) -> User:
    """The signed-in, active user; 401 otherwise."""
    state = request.scope.get("state") or {}
    token = state.get("access_token")
    if token is None:
        error = state.get("auth_error")
        if isinstance(error, AuthenticationError):
            raise error
        raise AuthenticationError("Sign in: send 'Authorization: Bearer <access_token>'.")
    # Here, not in the edge, the session is checked in storage: only routes that need a
    # user pay for it, and they run in a worker thread.
    return shop.auth.authenticate(token)


def provide_staff(current_user: NamedDependency[User]) -> User:
    """The signed-in user, if staff; 403 otherwise."""
    if not current_user.is_staff:
        raise PermissionDenied("This route is for staff only.")
    return current_user
