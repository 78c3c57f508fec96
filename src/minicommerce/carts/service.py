"""The signed-in user's own cart."""

from __future__ import annotations

from decimal import Decimal

from minicommerce.carts.models import MAX_CART_LINES, Cart, CartLine, LineQuantity, StoredLine
from minicommerce.clock import Clock, utcnow
from minicommerce.errors import InsufficientStock, NotFound, ShortItem, ValidationError
from minicommerce.ids import is_valid_id
from minicommerce.uow import UnitOfWorkFactory


class CartService:
    """Carts are per user and stored; every view prices them at current catalog prices.

    Lines whose product was removed from the catalog disappear from the view (they can no
    longer be bought). The stock check here is advisory — the order placement checks again.
    """

    def __init__(self, uow: UnitOfWorkFactory, currency: str, clock: Clock = utcnow) -> None:
        self._uow = uow
        self._currency = currency
        self._clock = clock

    def view(self, user_id: int) -> Cart:
        with self._uow(write=False) as uow:
            return self._cart(uow.carts.lines(user_id))

    def set_quantity(self, user_id: int, product_id: int, change: LineQuantity) -> Cart:
        """Set a line's quantity (0 removes it). An unknown or removed product is
        :class:`NotFound`; more than the stock is :class:`InsufficientStock`; a new line in
        a cart of ``MAX_CART_LINES`` products is a :class:`ValidationError`."""
        if not is_valid_id(product_id):
            raise NotFound("Product", product_id)
        with self._uow(write=True) as uow:
            product = uow.products.get(product_id)
            if product is None:
                raise NotFound("Product", product_id)
            if change.quantity == 0:
                lines = uow.carts.take_out(user_id, product_id)
            else:
                if change.quantity > product.stock_quantity:
                    raise InsufficientStock(
                        [ShortItem(product_id, change.quantity, product.stock_quantity)]
                    )
                put = uow.carts.put(
                    user_id, product_id, change.quantity, self._clock(), MAX_CART_LINES
                )
                if put is None:
                    raise ValidationError.single(
                        "product_id",
                        f"a cart holds at most {MAX_CART_LINES} products; "
                        "order or remove some first",
                    )
                lines = put
            uow.commit()
        return self._cart(lines)

    def remove(self, user_id: int, product_id: int) -> Cart:
        """Remove a line; removing a line that is not there is not an error."""
        with self._uow(write=True) as uow:
            if is_valid_id(product_id):
                lines = uow.carts.take_out(user_id, product_id)
            else:
                lines = uow.carts.lines(user_id)
            uow.commit()
        return self._cart(lines)

    def clear(self, user_id: int) -> None:
        with self._uow(write=True) as uow:
            uow.carts.clear(user_id)
            uow.commit()

    def _cart(self, lines: list[StoredLine]) -> Cart:
        items = [
            CartLine(
                product_id=line.product_id,
                sku=line.sku,
                name=line.name,
                unit_price=line.unit_price,
                quantity=line.quantity,
                line_total=line.unit_price * line.quantity,
            )
            for line in lines
        ]
        return Cart(
            items=items,
            total=sum((item.line_total for item in items), Decimal("0.00")),
            currency=self._currency,
            item_count=sum(item.quantity for item in items),
        )
