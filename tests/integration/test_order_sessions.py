"""Placing an order for a session (``OrderService.place(..., session=)``), on every backend:
nothing is answered or recorded unless the session is live, and the session's check comes
before every other answer. On PostgreSQL the check is part of the statement that records
the order, so a placed order costs no query of its own for it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from minicommerce import (
    InvalidToken,
    NewProduct,
    PlaceOrder,
    ProductQuery,
    SessionCheck,
    Shop,
)
from minicommerce.storage.tables import idempotency_keys, orders
from tests.conftest import ADDRESS
from tests.roundtrips import round_trips
from tests.sessions import ENDINGS, Customer, logged_out, sign_in, too_old


def request(*lines: tuple[int, int]) -> PlaceOrder:
    items = [{"product_id": p, "quantity": q} for p, q in lines] if lines else None
    return PlaceOrder.parse({"shipping_address": ADDRESS, "items": items})


def recorded(shop: Shop) -> tuple[int, int, int]:
    """Orders, keys, and the stock of every product, summed: what a placement changes."""
    with shop.database.writer.connect() as conn:
        placed = conn.execute(sa.select(sa.func.count()).select_from(orders)).scalar_one()
        keys = conn.execute(sa.select(sa.func.count()).select_from(idempotency_keys)).scalar_one()
    return placed, keys, sum(p.stock_quantity for p in shop.catalog.list(ProductQuery()).items)


@pytest.fixture
def stocked(shop: Shop) -> tuple[Shop, int]:
    return shop, shop.catalog.create(NewProduct(name="Mug", price="9.50", stock_quantity=5)).id


def test_a_live_session_places_its_order(stocked: tuple[Shop, int]) -> None:
    shop, mug = stocked
    customer = sign_in(shop)
    order, created = shop.orders.place(
        customer.id, request((mug, 2)), "k1", session=customer.session
    )
    assert created
    assert order.items[0].quantity == 2
    # A replay for the live session answers the order as first answered.
    assert shop.orders.place(customer.id, request((mug, 2)), "k1", session=customer.session) == (
        order,
        False,
    )


@pytest.mark.parametrize("ending", ENDINGS, ids=lambda f: f.__name__)
def test_an_ended_session_places_nothing(
    stocked: tuple[Shop, int], ending: Callable[[Shop, Customer], SessionCheck]
) -> None:
    shop, mug = stocked
    customer = sign_in(shop)
    session = ending(shop, customer)
    before = recorded(shop)
    for key in (None, "k1"):  # the first attempt of each drafts from remembered rows
        with pytest.raises(InvalidToken):
            shop.orders.place(customer.id, request((mug, 1)), key, session=session)
    assert recorded(shop) == before


@pytest.mark.parametrize("ending", [logged_out, too_old], ids=lambda f: f.__name__)
def test_an_ended_session_learns_nothing_of_its_request(
    stocked: tuple[Shop, int], ending: Callable[[Shop, Customer], SessionCheck]
) -> None:
    """Every answer that placement gives without recording an order (a refusal, a replay,
    invalid input) is preceded by the session's check: an ended session gets only 401s."""
    shop, mug = stocked
    customer = sign_in(shop)
    placed, _ = shop.orders.place(customer.id, request((mug, 1)), "k1", session=customer.session)
    session = ending(shop, customer)
    before = recorded(shop)
    attempts: list[tuple[PlaceOrder, str | None]] = [
        (request((mug, 1)), "k1"),  # a replay
        (request((mug, 2)), "k1"),  # the key with another body
        (request((mug, 50)), None),  # not enough stock
        (request((mug + 1000, 1)), None),  # no such product
        (request((mug, 1)), ""),  # an invalid key
        (request((mug, 1)), "x" * 300),  # a key too long
        (request(), None),  # an empty cart
    ]
    for body, key in attempts:
        with pytest.raises(InvalidToken):
            shop.orders.place(customer.id, body, key, session=session)
    assert recorded(shop) == before
    assert shop.orders.get(customer.id, placed.id) == placed


def test_the_session_must_be_the_users(stocked: tuple[Shop, int]) -> None:
    shop, mug = stocked
    customer, other = sign_in(shop), sign_in(shop)
    with pytest.raises(ValueError, match="not the user's"):
        shop.orders.place(other.id, request((mug, 1)), session=customer.session)


def test_a_placed_order_checks_its_session_in_its_one_statement(one_connection: Shop) -> None:
    shop = one_connection
    mug = shop.catalog.create(NewProduct(name="Mug", price="9.50", stock_quantity=5)).id
    customer = sign_in(shop)
    shop.orders.place(customer.id, request((mug, 1)), session=customer.session)  # warm
    trips = round_trips(
        shop, lambda: shop.orders.place(customer.id, request((mug, 1)), session=customer.session)
    )
    assert len(trips) == 1, trips
    assert "BEGIN" not in trips[0]
    assert "COMMIT" not in trips[0]
    # An ended session: the same one statement answers, and nothing was written.
    shop.auth.logout(customer.refresh_token)
    with pytest.raises(InvalidToken):
        shop.orders.place(customer.id, request((mug, 1)), session=customer.session)
    assert shop.catalog.get(mug).stock_quantity == 3
