"""The signed-in user's own cart."""

from __future__ import annotations

from decimal import Decimal

from minicommerce.accounts.auth import SESSION_ENDED, signed_in
from minicommerce.accounts.models import SessionCheck, SignedOut
from minicommerce.carts.models import MAX_CART_LINES, Cart, CartLine, LineQuantity, StoredLine
from minicommerce.clock import Clock, utcnow
from minicommerce.errors import (
    InsufficientStock,
    InvalidToken,
    NotFound,
    ShortItem,
    ValidationError,
)
from minicommerce.ids import is_valid_id
from minicommerce.uow import UnitOfWork, UnitOfWorkFactory


class CartService:
    """Carts are per user and stored; every view prices them at current catalog prices.

    Lines whose product was removed from the catalog disappear from the view (they can no
    longer be bought). The stock check here is advisory — the order placement checks again.
    """

    def __init__(self, uow: UnitOfWorkFactory, currency: str, clock: Clock = utcnow) -> None:
        self._uow = uow
        self._currency = currency
        self._clock = clock

    def view(self, user_id: int, *, session: SessionCheck | None = None) -> Cart:
        """The cart. With ``session`` (the caller's, ``AuthService.session_of``), only while
        it is live (:class:`InvalidToken` otherwise); where storage checks it in the read
        (``CartRepository.checks_session``), it costs no query of its own."""
        _same_user(user_id, session)
        with self._uow(write=False) as uow:
            return self._cart(_lines(uow, user_id, session))

    def set_quantity(
        self,
        user_id: int,
        product_id: int,
        change: LineQuantity,
        *,
        session: SessionCheck | None = None,
    ) -> Cart:
        """Set a line's quantity (0 removes it). An unknown or removed product is
        :class:`NotFound`; more than the stock is :class:`InsufficientStock`; a new line in
        a cart of ``MAX_CART_LINES`` products is a :class:`ValidationError`.

        With ``session``, nothing is answered or written unless it is live
        (:class:`InvalidToken`): a signed-out caller learns nothing of the product. Where
        storage checks it in the write, a line set costs no query of its own for it."""
        _same_user(user_id, session)
        with self._uow(write=True) as uow:
            # Only a line set (the hot path) is checked by its write; the rest read first.
            by_write = (
                session
                if uow.carts.checks_session and change.quantity > 0 and is_valid_id(product_id)
                else None
            )
            if session is not None and by_write is None:
                signed_in(uow, session)
            if not is_valid_id(product_id):
                raise NotFound("Product", product_id)
            product = uow.products.get(product_id)
            if product is None or change.quantity > product.stock_quantity:
                if by_write is not None:  # a refusal must not answer a stranger
                    signed_in(uow, by_write)
                if product is None:
                    raise NotFound("Product", product_id)
                raise InsufficientStock(
                    [ShortItem(product_id, change.quantity, product.stock_quantity)]
                )
            if change.quantity == 0:
                lines = uow.carts.take_out(user_id, product_id)
            else:
                put = uow.carts.put(
                    user_id,
                    product_id,
                    change.quantity,
                    self._clock(),
                    MAX_CART_LINES,
                    session=by_write,
                )
                if isinstance(put, SignedOut):
                    raise InvalidToken(SESSION_ENDED)
                if put is None:
                    raise ValidationError.single(
                        "product_id",
                        f"a cart holds at most {MAX_CART_LINES} products; "
                        "order or remove some first",
                    )
                lines = put
            uow.commit()
        return self._cart(lines)

    def remove(self, user_id: int, product_id: int, *, session: SessionCheck | None = None) -> Cart:
        """Remove a line; removing a line that is not there is not an error. With
        ``session``, nothing is done unless it is live (read first, in the same unit of
        work)."""
        _same_user(user_id, session)
        with self._uow(write=True) as uow:
            if session is not None:
                signed_in(uow, session)
            if is_valid_id(product_id):
                lines = uow.carts.take_out(user_id, product_id)
            else:
                lines = _lines(uow, user_id, None)
            uow.commit()
        return self._cart(lines)

    def clear(self, user_id: int, *, session: SessionCheck | None = None) -> None:
        """Empty the cart; with ``session``, only while it is live (as :meth:`remove`)."""
        _same_user(user_id, session)
        with self._uow(write=True) as uow:
            if session is not None:
                signed_in(uow, session)
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


def _lines(uow: UnitOfWork, user_id: int, session: SessionCheck | None) -> list[StoredLine]:
    """The user's lines; with ``session``, only while it is live: checked by the read where
    storage can, else read first."""
    if session is not None and not uow.carts.checks_session:
        signed_in(uow, session)
        session = None
    lines = uow.carts.lines(user_id, session=session)
    if isinstance(lines, SignedOut):
        raise InvalidToken(SESSION_ENDED)
    return lines


def _same_user(user_id: int, session: SessionCheck | None) -> None:
    if session is not None and session.user_id != user_id:
        raise ValueError("the session is not the user's")
