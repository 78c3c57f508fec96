"""The signed-in user's own account."""

from __future__ import annotations

from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from minicommerce import PasswordChange, ProfileChanges, Shop, User
from minicommerce_server.problems import JSON_BODY, problems

BEARER: list[dict[str, list[str]]] = [{"BearerToken": []}]


class MeController(Controller):
    path = "/me"
    tags = ["Account"]
    security = BEARER

    @get("/", sync_to_thread=False, summary="The signed-in user", responses=problems(401, 429))
    def me(self, current_user: NamedDependency[User]) -> User:
        return current_user

    @patch(
        "/",
        sync_to_thread=True,
        summary="Change one's own names",
        responses=problems(*JSON_BODY, 401, 422, 429),
    )
    def update_me(
        self,
        data: JSONBody[ProfileChanges],
        current_user: NamedDependency[User],
        shop: NamedDependency[Shop],
    ) -> User:
        return shop.accounts.update_profile(current_user.id, data)

    @post(
        "/password",
        status_code=204,
        sync_to_thread=True,
        summary="Change one's own password",
        description="Needs the current password. Ends every session (refresh token) of the user.",
        responses=problems(
            *JSON_BODY,
            422,
            429,
            _401="Not signed in, or the current password is wrong (`invalid_credentials`).",
        ),
    )
    def change_password(
        self,
        data: JSONBody[PasswordChange],
        current_user: NamedDependency[User],
        shop: NamedDependency[Shop],
    ) -> None:
        shop.auth.change_password(current_user.id, data)
