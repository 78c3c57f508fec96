"""Orders: the caller's own (no route takes a user id), and staff order management."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter

from minicommerce import (
    AdminOrder,
    Order,
    OrderStatus,
    Page,
    PlaceOrder,
    Shop,
    StatusChange,
)
from minicommerce.ids import MAX_ID
from minicommerce.pagination import DEFAULT_LIMIT, MAX_LIMIT
from minicommerce_server.observability import metrics_of
from minicommerce_server.params import CursorParam
from minicommerce_server.problems import problems
from minicommerce_server.security import Caller, staff_only

BEARER: list[dict[str, list[str]]] = [{"BearerToken": []}]
Limit = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)]
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        required=False,
        description="1 to 255 characters, no control characters. Retrying with the same "
        "key returns the original order and creates nothing (kept at least 24 h, per user); "
        "the same key with another body is `idempotency_key_reused` (422).",
    ),
]


class OrderController(Controller):
    path = "/orders"
    tags = ["Orders"]
    security = BEARER

    @post(
        "/",
        status_code=201,
        summary="Place an order from the cart, or from explicit items",
        description="All or nothing: every line's stock is checked and taken in one "
        "transaction. Without `items` the cart is checked out and emptied.",
        responses=problems(
            401,
            _404=("A product of `items` does not exist or was removed.", "not_found"),
            _409=("Not enough stock; `errors` names the short products.", "insufficient_stock"),
            _422=(
                "Invalid input (`errors` lists each field), an empty cart to check out, or an "
                "`Idempotency-Key` already used for another request.",
                "validation_error",
                "empty_cart",
                "idempotency_key_reused",
            ),
        ),
    )
    async def place(
        self,
        data: JSONBody[PlaceOrder],
        caller: NamedDependency[Caller],
        shop: NamedDependency[Shop],
        request: Request[Any, Any, Any],
        idempotency_key: IdempotencyKey = None,
    ) -> Order:
        # The session is checked by placement itself: in the statement that records the
        # order where storage can, so a placed order costs no query of its own for it. On
        # PostgreSQL the common case runs on the event loop, the rest in a handler thread.
        order, created = await caller.checked_by_async(
            lambda session: shop.orders.place_async(
                session.user_id, data, idempotency_key, session=session
            )
        )
        if created:
            metrics_of(request).count("orders_placed")
        return order

    @get("/", sync_to_thread=True, summary="The caller's orders, newest first",
         responses=problems(401, 422, 429))  # fmt: skip
    def list_orders(
        self,
        caller: NamedDependency[Caller],
        shop: NamedDependency[Shop],
        limit: Limit = DEFAULT_LIMIT,
        cursor: CursorParam = None,
    ) -> Page[Order]:
        return shop.orders.list(caller.user.id, limit=limit, cursor=cursor)

    @get("/{order_id:int}", sync_to_thread=True, summary="One of the caller's orders",
         responses=problems(401, 404, 429))  # fmt: skip
    def get_order(
        self,
        order_id: FromPath[int],
        caller: NamedDependency[Caller],
        shop: NamedDependency[Shop],
    ) -> Order:
        return shop.orders.get(caller.user.id, order_id)

    @post(
        "/{order_id:int}/cancel",
        status_code=200,
        sync_to_thread=True,
        summary="Cancel one's own pending order (the stock returns)",
        responses=problems(401, 404, 429, _409=("Not pending any more.", "invalid_transition")),
    )
    def cancel(
        self,
        order_id: FromPath[int],
        caller: NamedDependency[Caller],
        shop: NamedDependency[Shop],
    ) -> Order:
        return shop.orders.cancel(caller.user.id, order_id)


class AdminOrderController(Controller):
    path = "/admin/orders"
    tags = ["Admin"]
    security = BEARER
    guards = [staff_only]

    @get("/", sync_to_thread=True, summary="Every order, newest first, with its customer (staff)",
         responses=problems(401, 403, 422, 429))  # fmt: skip
    def list_orders(
        self,
        shop: NamedDependency[Shop],
        status: FromQuery[OrderStatus | None] = None,
        user_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: CursorParam = None,
    ) -> Page[AdminOrder]:
        return shop.orders.list_all(status=status, user_id=user_id, limit=limit, cursor=cursor)

    @get("/{order_id:int}", sync_to_thread=True, summary="One order with its customer (staff)",
         responses=problems(401, 403, 404, 429))  # fmt: skip
    def get_order(
        self,
        order_id: FromPath[int],
        shop: NamedDependency[Shop],
    ) -> AdminOrder:
        return shop.orders.admin_get(order_id)

    @patch(
        "/{order_id:int}",
        sync_to_thread=True,
        summary="Move an order along pending → paid → shipped → delivered, or cancel (staff)",
        responses=problems(
            401, 403, 404, 422, 429, _409=("Not a move of the state machine.", "invalid_transition")
        ),
    )
    def set_status(
        self,
        order_id: FromPath[int],
        data: JSONBody[StatusChange],
        shop: NamedDependency[Shop],
    ) -> AdminOrder:
        return shop.orders.set_status(order_id, data)
