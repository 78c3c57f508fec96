"""The signed-in user's own account."""

from __future__ import annotations

from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from minicommerce import PasswordChange, ProfileChanges, Shop, User
from minicommerce_server.problems import problems
from minicommerce_server.security import Caller

BEARER: list[dict[str, list[str]]] = [{"BearerToken": []}]


class MeController(Controller):
    path = "/me"
    tags = ["Account"]
    security = BEARER

    @get("/", sync_to_thread=True, summary="The signed-in user", responses=problems(401, 429))
    def me(self, caller: NamedDependency[Caller]) -> User:
        return caller.user

    @patch(
        "/",
        sync_to_thread=True,
        summary="Change one's own names",
        responses=problems(401, 422, 429),
    )
    def update_me(
        self,
        data: JSONBody[ProfileChanges],
        caller: NamedDependency[Caller],
        shop: NamedDependency[Shop],
    ) -> User:
        return shop.accounts.update_profile(caller.user.id, data)

    @post(
        "/password",
        status_code=204,
        sync_to_thread=True,
        summary="Change one's own password",
        description="Needs the current password. Ends every session of the user: its refresh "
        "tokens and its access tokens, this request's included. A wrong current password counts "
        "as a failed login of the account: after 10 within 15 minutes, the account answers 429.",
        responses=problems(
            422,
            429,
            _401=(
                "Not signed in, or the current password is wrong.",
                "unauthenticated",
                "invalid_token",
                "invalid_credentials",
            ),
        ),
    )
    def change_password(
        self,
        data: JSONBody[PasswordChange],
        caller: NamedDependency[Caller],
        shop: NamedDependency[Shop],
    ) -> None:
        shop.auth.change_password(caller.user.id, data)
