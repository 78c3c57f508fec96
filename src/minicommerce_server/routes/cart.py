"""The signed-in user's own cart. No route takes a user id: the cart is always the caller's."""

from __future__ import annotations

from litestar import Controller, delete, get, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from minicommerce import Cart, LineQuantity, Shop
from minicommerce_server.problems import problems
from minicommerce_server.security import Caller


# The cart's service checks the session itself: viewing the cart and setting a line, its
# requests under a shop's load, in the statement that reads or writes the cart where
# storage can (``CartRepository.checks_session``), with no query of its own for it.
class CartController(Controller):
    path = "/cart"
    tags = ["Cart"]
    security = [{"BearerToken": []}]

    @get("/", sync_to_thread=True, summary="The caller's cart", responses=problems(401, 429))
    def view(self, caller: NamedDependency[Caller], shop: NamedDependency[Shop]) -> Cart:
        return caller.checked_by(lambda session: shop.carts.view(session.user_id, session=session))

    @put(
        "/items/{product_id:int}",
        sync_to_thread=True,
        summary="Set a line's quantity (1..1000; 0 removes the line)",
        description="A cart holds at most 100 products: a new line in a full cart is a 422.",
        responses=problems(
            401,
            404,
            422,
            429,
            _409=("More than the stock; `errors` names the product.", "insufficient_stock"),
        ),
    )
    def set_item(
        self,
        product_id: FromPath[int],
        data: JSONBody[LineQuantity],
        caller: NamedDependency[Caller],
        shop: NamedDependency[Shop],
    ) -> Cart:
        return caller.checked_by(
            lambda session: shop.carts.set_quantity(
                session.user_id, product_id, data, session=session
            )
        )

    @delete(
        "/items/{product_id:int}",
        status_code=200,
        sync_to_thread=True,
        summary="Remove a line (no error if it is not there)",
        responses=problems(401, 429),
    )
    def remove_item(
        self,
        product_id: FromPath[int],
        caller: NamedDependency[Caller],
        shop: NamedDependency[Shop],
    ) -> Cart:
        return caller.checked_by(
            lambda session: shop.carts.remove(session.user_id, product_id, session=session)
        )

    @delete(
        "/",
        status_code=204,
        sync_to_thread=True,
        summary="Empty the cart",
        responses=problems(401, 429),
    )
    def clear(self, caller: NamedDependency[Caller], shop: NamedDependency[Shop]) -> None:
        caller.checked_by(lambda session: shop.carts.clear(session.user_id, session=session))
