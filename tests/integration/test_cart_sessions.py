"""The cart for a session (``CartService`` with ``session=``), on every backend: nothing
is read, written or answered unless the session is live, and the session's check comes
before every other answer. On PostgreSQL a view and a line set check it in the statement
that reads or writes the cart: no query of their own for it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from minicommerce import InvalidToken, LineQuantity, NewProduct, SessionCheck, Shop
from minicommerce.carts.models import MAX_CART_LINES
from minicommerce.storage.carts import SqlCartRepository
from minicommerce.storage.tables import cart_items
from tests.roundtrips import round_trips
from tests.sessions import ENDINGS, Customer, logged_out, sign_in, too_old


def quantity(n: int) -> LineQuantity:
    return LineQuantity(quantity=n)


def stored(shop: Shop) -> list[tuple[int, int, int]]:
    """Every cart line: what a line set changes."""
    with shop.database.writer.connect() as conn:
        rows = conn.execute(
            sa.select(
                cart_items.c.user_id, cart_items.c.product_id, cart_items.c.quantity
            ).order_by(cart_items.c.user_id, cart_items.c.product_id)
        )
        return [tuple(row) for row in rows]


@pytest.fixture
def mug(shop: Shop) -> int:
    return shop.catalog.create(NewProduct(name="Mug", price="9.50", stock_quantity=5)).id


def test_a_live_session_sets_and_views_its_cart(shop: Shop, mug: int) -> None:
    customer = sign_in(shop)
    cart = shop.carts.set_quantity(customer.id, mug, quantity(2), session=customer.session)
    assert [(line.product_id, line.quantity) for line in cart.items] == [(mug, 2)]
    assert shop.carts.view(customer.id, session=customer.session) == cart
    assert shop.carts.view(customer.id) == cart  # the same cart without a session to check
    emptied = shop.carts.set_quantity(customer.id, mug, quantity(0), session=customer.session)
    assert emptied.items == []
    assert shop.carts.view(customer.id, session=customer.session) == emptied
    shop.carts.set_quantity(customer.id, mug, quantity(1), session=customer.session)
    assert shop.carts.remove(customer.id, mug, session=customer.session).items == []
    assert shop.carts.remove(customer.id, 0, session=customer.session).items == []  # not an id
    shop.carts.set_quantity(customer.id, mug, quantity(1), session=customer.session)
    shop.carts.clear(customer.id, session=customer.session)
    assert shop.carts.view(customer.id).items == []


@pytest.mark.parametrize("ending", ENDINGS, ids=lambda f: f.__name__)
def test_an_ended_session_neither_sets_nor_views(
    shop: Shop, mug: int, ending: Callable[[Shop, Customer], SessionCheck]
) -> None:
    customer = sign_in(shop)
    shop.carts.set_quantity(customer.id, mug, quantity(1), session=customer.session)
    session = ending(shop, customer)
    before = stored(shop)
    with pytest.raises(InvalidToken):
        shop.carts.set_quantity(customer.id, mug, quantity(3), session=session)
    with pytest.raises(InvalidToken):
        shop.carts.view(customer.id, session=session)
    with pytest.raises(InvalidToken):
        shop.carts.remove(customer.id, mug, session=session)
    with pytest.raises(InvalidToken):
        shop.carts.clear(customer.id, session=session)
    assert stored(shop) == before


@pytest.mark.parametrize("ending", [logged_out, too_old], ids=lambda f: f.__name__)
def test_an_ended_session_learns_nothing_of_its_request(
    shop: Shop, mug: int, ending: Callable[[Shop, Customer], SessionCheck]
) -> None:
    """Every answer a line set gives (a refusal, a removal) is preceded by the session's
    check: an ended session gets only 401s, and nothing changes."""
    customer = sign_in(shop)
    shop.carts.set_quantity(customer.id, mug, quantity(1), session=customer.session)
    session = ending(shop, customer)
    before = stored(shop)
    attempts = [
        (mug, quantity(50)),  # more than the stock
        (mug + 1000, quantity(1)),  # no such product
        (0, quantity(1)),  # not an id
        (mug, quantity(0)),  # a removal
    ]
    for product_id, change in attempts:
        with pytest.raises(InvalidToken):
            shop.carts.set_quantity(customer.id, product_id, change, session=session)
    assert stored(shop) == before


def test_a_full_cart_refuses_a_new_line_for_a_live_session(shop: Shop) -> None:
    customer = sign_in(shop)
    ids = [
        shop.catalog.create(NewProduct(name=f"P{i}", price="1.00", stock_quantity=5)).id
        for i in range(MAX_CART_LINES + 1)
    ]
    for product_id in ids[:-1]:
        shop.carts.set_quantity(customer.id, product_id, quantity(1), session=customer.session)
    with pytest.raises(Exception, match="at most") as refused:
        shop.carts.set_quantity(customer.id, ids[-1], quantity(1), session=customer.session)
    assert type(refused.value).__name__ == "ValidationError"
    # A line already there is still set.
    cart = shop.carts.set_quantity(customer.id, ids[0], quantity(4), session=customer.session)
    assert cart.item_count == MAX_CART_LINES + 3


def test_storage_that_does_not_check_sessions_refuses_one(sqlite_shop: Shop) -> None:
    """A session handed to storage that would not check it is an error, never ignored."""
    shop = sqlite_shop
    session = sign_in(shop).session
    with shop.database.writer.connect() as conn:
        carts = SqlCartRepository(conn)
        assert not carts.checks_session
        with pytest.raises(ValueError, match="does not check sessions"):
            carts.lines(session.user_id, session=session)
        with pytest.raises(ValueError, match="does not check sessions"):
            carts.put(session.user_id, 1, 1, datetime.now(UTC), MAX_CART_LINES, session=session)


def test_the_session_must_be_the_users(shop: Shop, mug: int) -> None:
    customer, other = sign_in(shop), sign_in(shop)
    with pytest.raises(ValueError, match="not the user's"):
        shop.carts.view(other.id, session=customer.session)
    with pytest.raises(ValueError, match="not the user's"):
        shop.carts.set_quantity(other.id, mug, quantity(1), session=customer.session)
    with pytest.raises(ValueError, match="not the user's"):
        shop.carts.remove(other.id, mug, session=customer.session)
    with pytest.raises(ValueError, match="not the user's"):
        shop.carts.clear(other.id, session=customer.session)


def test_the_session_costs_no_round_trip_of_its_own(one_connection: Shop) -> None:
    shop = one_connection
    mug = shop.catalog.create(NewProduct(name="Mug", price="9.50", stock_quantity=5)).id
    customer = sign_in(shop)
    session = customer.session
    shop.carts.set_quantity(customer.id, mug, quantity(1), session=session)  # warm
    shop.carts.view(customer.id, session=session)
    # A line set: the product's read, then the write that checks the session.
    trips = round_trips(
        shop, lambda: shop.carts.set_quantity(customer.id, mug, quantity(2), session=session)
    )
    assert len(trips) == 2, trips
    # A view: one statement.
    trips = round_trips(shop, lambda: shop.carts.view(customer.id, session=session), reader=True)
    assert len(trips) == 1, trips
    # An ended session: the write answers it, and nothing was written.
    shop.auth.logout(customer.refresh_token)
    with pytest.raises(InvalidToken):
        shop.carts.set_quantity(customer.id, mug, quantity(3), session=session)
    with pytest.raises(InvalidToken):
        shop.carts.view(customer.id, session=session)
    assert stored(shop) == [(customer.id, mug, 2)]


def test_a_view_for_a_session_answers_the_lines_a_plain_view_does(shop: Shop) -> None:
    """Oldest line first, lines of removed products left out: the session's read on
    PostgreSQL is its own statement, held here to the plain one's answer."""
    customer = sign_in(shop)
    ids = [
        shop.catalog.create(NewProduct(name=f"P{i}", price=f"{i}.25", stock_quantity=9)).id
        for i in range(1, 5)
    ]
    for product_id in (ids[2], ids[0], ids[3], ids[1]):
        shop.carts.set_quantity(customer.id, product_id, quantity(2), session=customer.session)
    shop.carts.set_quantity(customer.id, ids[2], quantity(5), session=customer.session)
    shop.catalog.delete(ids[3])
    cart = shop.carts.view(customer.id, session=customer.session)
    assert [(line.product_id, line.quantity) for line in cart.items] == [
        (ids[2], 5),
        (ids[0], 2),
        (ids[1], 2),
    ]
    assert cart == shop.carts.view(customer.id)
