"""Auth: register, log in, refresh, log out."""

from __future__ import annotations

from litestar import Controller, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.params import JSONBody

from minicommerce import Credentials, RefreshRequest, Registration, Shop, TokenPair, User
from minicommerce_server.problems import problems

# Tokens are credentials: no cache, shared or private, may keep a response that holds them.
NO_STORE = ResponseHeader(
    name="Cache-Control",
    value="no-store",
    description="`no-store`: a response holding tokens is never cached.",
)


class AuthController(Controller):
    path = "/auth"
    tags = ["Auth"]

    @post(
        "/register",
        status_code=201,
        sync_to_thread=True,
        summary="Create a customer account",
        responses=problems(422, 429, _409=("The email is already registered.", "email_taken")),
    )
    def register(self, data: JSONBody[Registration], shop: NamedDependency[Shop]) -> User:
        return shop.accounts.register(data)

    @post(
        "/login",
        status_code=200,
        sync_to_thread=True,
        response_headers=[NO_STORE],
        summary="Exchange email and password for a token pair",
        description="An unknown email and a wrong password get the same answer. After 10 "
        "failed logins for one email within 15 minutes, that email answers 429.",
        responses=problems(
            422,
            429,
            _401=(
                "Unknown email, wrong password or inactive account.",
                "invalid_credentials",
            ),
        ),
    )
    def login(self, data: JSONBody[Credentials], shop: NamedDependency[Shop]) -> TokenPair:
        return shop.auth.login(data)

    @post(
        "/refresh",
        status_code=200,
        sync_to_thread=True,
        response_headers=[NO_STORE],
        summary="Rotate a refresh token into a new token pair",
        description="The refresh token is single use. Presenting a used token again ends its "
        "session, access tokens included (reuse detection). A session lives at most "
        "`MINICOMMERCE_SESSION_MAX_AGE` (30 days by default) however often it is refreshed.",
        responses=problems(
            422, 429, _401=("Invalid, expired, reused or revoked refresh token.", "invalid_token")
        ),
    )
    def refresh(self, data: JSONBody[RefreshRequest], shop: NamedDependency[Shop]) -> TokenPair:
        return shop.auth.refresh(data.refresh_token)

    @post(
        "/logout",
        status_code=204,
        sync_to_thread=True,
        summary="End the session of a refresh token",
        description="Its refresh tokens and its access tokens stop working at once. An unknown "
        "or already ended token is ignored (204 all the same).",
        responses=problems(422, 429),
    )
    def logout(self, data: JSONBody[RefreshRequest], shop: NamedDependency[Shop]) -> None:
        shop.auth.logout(data.refresh_token)
