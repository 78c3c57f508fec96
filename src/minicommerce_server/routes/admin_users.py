"""Staff administration of accounts."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, patch
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from minicommerce import Page, Shop, User, UserAdminChanges, UserQuery
from minicommerce.pagination import DEFAULT_LIMIT, MAX_LIMIT
from minicommerce_server.params import CursorParam
from minicommerce_server.problems import JSON_BODY, problems


class AdminUserController(Controller):
    path = "/admin/users"
    tags = ["Admin"]
    security = [{"BearerToken": []}]

    @get(
        "/",
        sync_to_thread=True,
        summary="List accounts, newest first (staff)",
        responses=problems(401, 403, 422, 429),
    )
    def list_users(
        self,
        staff_user: NamedDependency[User],
        shop: NamedDependency[Shop],
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
        cursor: CursorParam = None,
        q: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> Page[User]:
        return shop.accounts.list(UserQuery(limit=limit, cursor=cursor, q=q or None))

    @get(
        "/{user_id:int}",
        sync_to_thread=True,
        summary="One account (staff)",
        responses=problems(401, 403, 404, 429),
    )
    def get_user(
        self, user_id: FromPath[int], staff_user: NamedDependency[User], shop: NamedDependency[Shop]
    ) -> User:
        return shop.accounts.get(user_id)

    @patch(
        "/{user_id:int}",
        sync_to_thread=True,
        summary="Grant or remove staff access, deactivate or reactivate (staff)",
        description="Deactivating an account ends its sessions. Staff cannot demote or "
        "deactivate themselves.",
        responses=problems(
            *JSON_BODY,
            401,
            403,
            404,
            422,
            429,
            _409="Staff changing their own access (`self_modification`).",
        ),
    )
    def update_user(
        self,
        user_id: FromPath[int],
        data: JSONBody[UserAdminChanges],
        staff_user: NamedDependency[User],
        shop: NamedDependency[Shop],
    ) -> User:
        return shop.accounts.administer(staff_user.id, user_id, data)
