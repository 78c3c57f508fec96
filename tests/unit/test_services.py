"""The services over an in-memory unit of work (``tests/unit/fakes.py``): their rules
without a database, and the seam a library user has, ``Shop(uow=...)``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from minicommerce import (
    ConfigurationError,
    Credentials,
    InsufficientStock,
    InvalidTransition,
    LineQuantity,
    NewProduct,
    NotFound,
    PreconditionFailed,
    ProductChanges,
    ProductQuery,
    Registration,
    Shop,
    SkuTaken,
)
from minicommerce.carts.models import MAX_CART_LINES
from minicommerce.errors import EmptyCartError, IdempotencyKeyReused, ValidationError
from minicommerce.orders.models import OrderStatus, PlaceOrder
from tests.conftest import ADDRESS, FAST_ARGON2, SECRET
from tests.unit.fakes import MemoryStore

START = datetime.now(UTC)  # access tokens are checked against the real time (tokens.py)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def shop(store: MemoryStore, clock: Clock) -> Iterator[Shop]:
    with Shop(uow=store, secret_key=SECRET, argon2=FAST_ARGON2, clock=clock,
              idempotency_purge_every=4) as shop:  # fmt: skip
        yield shop


def request(*lines: tuple[int, int]) -> PlaceOrder:
    items = [{"product_id": p, "quantity": q} for p, q in lines] if lines else None
    return PlaceOrder.parse({"shipping_address": ADDRESS, "items": items})


def customer(shop: Shop, email: str = "ada@example.com") -> int:
    return shop.accounts.register(Registration(email=email, password="x" * 8)).id


def test_changes_without_commit_are_discarded(store: MemoryStore, shop: Shop) -> None:
    mug = shop.catalog.create(NewProduct(name="Mug", price="9.50", stock_quantity=5))
    with store(write=True) as uow:
        uow.products.update(mug.id, {"stock_quantity": 0}, START)
        assert uow.products.get(mug.id) is not None
    assert shop.catalog.get(mug.id).stock_quantity == 5
    with pytest.raises(RuntimeError), store(write=False) as uow:
        uow.commit()


def test_a_shop_without_a_database_says_so(shop: Shop) -> None:
    shop.ping()
    shop.migrate()
    with pytest.raises(ConfigurationError):
        _ = shop.database


def test_catalog_rules(shop: Shop) -> None:
    mug = shop.catalog.create(NewProduct(name="Mug", price="9.50", stock_quantity=5, sku="M-1"))
    with pytest.raises(SkuTaken):
        shop.catalog.create(NewProduct(name="Other", price="1.00", stock_quantity=1, sku="M-1"))
    with pytest.raises(PreconditionFailed):
        shop.catalog.update(mug.id, ProductChanges(price="8.00"), if_match={7})
    assert shop.catalog.update(mug.id, ProductChanges(price="8.00"), if_match={1}).version == 2
    for n in range(4):
        shop.catalog.create(NewProduct(name=f"P{n}", price=f"{n + 1}.00", stock_quantity=n))
    page = shop.catalog.list(ProductQuery(limit=2, sort="price_asc"))
    rest = shop.catalog.list(ProductQuery(limit=10, sort="price_asc", cursor=page.next_cursor))
    prices = [str(p.price) for p in page.items + rest.items]
    assert prices == ["1.00", "2.00", "3.00", "4.00", "8.00"]
    shop.catalog.delete(mug.id)
    with pytest.raises(NotFound):
        shop.catalog.get(mug.id)
    assert shop.catalog.count() == 4


def test_accounts_and_auth(shop: Shop) -> None:
    uid = customer(shop)
    pair = shop.auth.login(Credentials(email="ada@example.com", password="x" * 8))
    assert shop.auth.authenticate(pair.access_token).id == uid
    rotated = shop.auth.refresh(pair.refresh_token)
    assert rotated.refresh_token != pair.refresh_token


def test_a_cart_holds_at_most_as_many_products_as_an_order_and_can_be_checked_out(
    shop: Shop,
) -> None:
    uid = customer(shop)
    ids = [
        shop.catalog.create(NewProduct(name=f"P{n}", price="1.00", stock_quantity=5)).id
        for n in range(MAX_CART_LINES + 1)
    ]
    for product_id in ids[:MAX_CART_LINES]:
        shop.carts.set_quantity(uid, product_id, LineQuantity(quantity=1))
    with pytest.raises(ValidationError, match=f"at most {MAX_CART_LINES} products"):
        shop.carts.set_quantity(uid, ids[-1], LineQuantity(quantity=1))
    cart = shop.carts.view(uid)
    assert len(cart.items) == MAX_CART_LINES  # the refused line was not kept
    # A line already there still changes, and a full cart is an order.
    assert shop.carts.set_quantity(uid, ids[0], LineQuantity(quantity=3)).item_count == 102
    order, _ = shop.orders.place(uid, request())
    assert len(order.items) == MAX_CART_LINES


def test_placement_takes_stock_empties_the_cart_and_is_all_or_nothing(shop: Shop) -> None:
    uid = customer(shop)
    mug = shop.catalog.create(NewProduct(name="Mug", price="9.50", stock_quantity=5))
    rare = shop.catalog.create(NewProduct(name="Rare", price="100.00", stock_quantity=1))
    shop.carts.set_quantity(uid, mug.id, LineQuantity(quantity=2))
    order, created = shop.orders.place(uid, request())
    assert created
    assert (str(order.total_amount), [i.quantity for i in order.items]) == ("19.00", [2])
    assert shop.carts.view(uid).items == []
    assert shop.catalog.get(mug.id).stock_quantity == 3
    with pytest.raises(EmptyCartError):
        shop.orders.place(uid, request())
    with pytest.raises(InsufficientStock):
        shop.orders.place(uid, request((mug.id, 1), (rare.id, 2)), "k")
    assert shop.catalog.get(mug.id).stock_quantity == 3  # nothing taken
    assert shop.orders.place(uid, request((rare.id, 1)), "k")[1]  # the key was released
    assert shop.orders.get(uid, order.id) == order


def test_a_replay_answers_as_first_answered(shop: Shop) -> None:
    uid = customer(shop)
    mug = shop.catalog.create(NewProduct(name="Mug", price="9.50", stock_quantity=5))
    first, _ = shop.orders.place(uid, request((mug.id, 2)), "key")
    assert shop.orders.cancel(uid, first.id).status is OrderStatus.CANCELLED
    with pytest.raises(InvalidTransition):
        shop.orders.cancel(uid, first.id)
    again, created = shop.orders.place(uid, request((mug.id, 2)), "key")
    assert (again, created) == (first, False)
    with pytest.raises(IdempotencyKeyReused):
        shop.orders.place(uid, request((mug.id, 1)), "key")
    assert shop.catalog.get(mug.id).stock_quantity == 5


def test_keys_are_purged_after_the_retention(shop: Shop, store: MemoryStore, clock: Clock) -> None:
    uid = customer(shop)
    mug = shop.catalog.create(NewProduct(name="Mug", price="1.00", stock_quantity=50))
    shop.orders.place(uid, request((mug.id, 1)), "a")
    clock.now += timedelta(hours=24)
    assert shop.orders.purge_idempotency_keys() == 0  # kept at least 24 h
    shop.orders.place(uid, request((mug.id, 1)), "b")
    clock.now += timedelta(seconds=1)
    assert shop.orders.purge_idempotency_keys() == 1
    assert set(store.state.idempotency_keys) == {(uid, "b")}
    clock.now += timedelta(days=2)
    shop.orders.place(uid, request((mug.id, 1)))
    shop.orders.place(uid, request((mug.id, 1)))  # the 4th: purges first, by itself
    assert store.state.idempotency_keys == {}
