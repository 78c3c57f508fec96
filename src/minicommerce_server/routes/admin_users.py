"""Staff administration of accounts."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, patch
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from minicommerce import Page, Shop, User, UserAdminChanges, UserQuery
from minicommerce.pagination import DEFAULT_LIMIT, MAX_LIMIT
from minicommerce_server.params import CursorParam
from minicommerce_server.problems import problems
from minicommerce_server.routes.catalog import blank_to_none
from minicommerce_server.security import Caller, staff_only


class AdminUserController(Controller):
    path = "/admin/users"
    tags = ["Admin"]
    security = [{"BearerToken": []}]
    guards = [staff_only]

    @get(
        "/",
        sync_to_thread=True,
        summary="List accounts, newest first (staff)",
        responses=problems(401, 403, 422, 429),
    )
    def list_users(
        self,
        shop: NamedDependency[Shop],
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
        cursor: CursorParam = None,
        q: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> Page[User]:
        return shop.accounts.list(UserQuery(limit=limit, cursor=cursor, q=blank_to_none(q)))

    @get(
        "/{user_id:int}",
        sync_to_thread=True,
        summary="One account (staff)",
        responses=problems(401, 403, 404, 429),
    )
    def get_user(self, user_id: FromPath[int], shop: NamedDependency[Shop]) -> User:
        return shop.accounts.get(user_id)

    @patch(
        "/{user_id:int}",
        sync_to_thread=True,
        summary="Grant or remove staff access, deactivate or reactivate (staff)",
        description="Deactivating an account ends its sessions. Staff cannot demote or "
        "deactivate themselves.",
        responses=problems(
            401,
            403,
            404,
            422,
            _409=("Staff cannot demote or deactivate themselves.", "self_modification"),
        ),
    )
    def update_user(
        self,
        user_id: FromPath[int],
        data: JSONBody[UserAdminChanges],
        caller: NamedDependency[Caller],
        shop: NamedDependency[Shop],
    ) -> User:
        return shop.accounts.administer(caller.user.id, user_id, data)
