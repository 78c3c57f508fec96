"""Carts on every backend."""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minicommerce import (
    InsufficientStock,
    LineQuantity,
    NewProduct,
    NotFound,
    Product,
    ProductChanges,
    Registration,
    Shop,
    ValidationError,
)
from minicommerce.carts.models import MAX_CART_LINES
from tests.conftest import FAST_ARGON2, SECRET, _truncate_postgres
from tests.roundtrips import round_trips


def user(shop: Shop, email: str = "cart@example.com") -> int:
    return shop.accounts.register(Registration(email=email, password="x" * 8)).id


def product(shop: Shop, price: str, stock: int = 50, name: str = "P") -> Product:
    return shop.catalog.create(NewProduct(name=name, price=price, stock_quantity=stock))


def test_empty_cart(shop: Shop) -> None:
    cart = shop.carts.view(user(shop))
    assert (cart.items, cart.total, cart.currency, cart.item_count) == (
        [],
        Decimal("0.00"),
        "USD",
        0,
    )
    assert str(cart.total) == "0.00"


def test_set_change_remove_clear(shop: Shop) -> None:
    uid = user(shop)
    mug, tote = product(shop, "9.50", name="Mug"), product(shop, "15.00", name="Tote")
    shop.carts.set_quantity(uid, mug.id, LineQuantity(quantity=2))
    cart = shop.carts.set_quantity(uid, tote.id, LineQuantity(quantity=1))
    assert [(i.name, i.quantity, str(i.line_total)) for i in cart.items] == [
        ("Mug", 2, "19.00"),
        ("Tote", 1, "15.00"),
    ]
    assert (str(cart.total), cart.item_count) == ("34.00", 3)
    cart = shop.carts.set_quantity(uid, mug.id, LineQuantity(quantity=3))
    assert [i.quantity for i in cart.items] == [3, 1]
    cart = shop.carts.set_quantity(uid, mug.id, LineQuantity(quantity=0))
    assert [i.product_id for i in cart.items] == [tote.id]
    cart = shop.carts.remove(uid, tote.id)
    assert cart.items == []
    shop.carts.remove(uid, tote.id)  # not there: no error
    shop.carts.set_quantity(uid, mug.id, LineQuantity(quantity=1))
    shop.carts.clear(uid)
    assert shop.carts.view(uid).items == []


def test_prices_are_current(shop: Shop) -> None:
    uid = user(shop)
    mug = product(shop, "9.50")
    shop.carts.set_quantity(uid, mug.id, LineQuantity(quantity=2))
    shop.catalog.update(mug.id, ProductChanges(price="10.25"))
    cart = shop.carts.view(uid)
    assert (str(cart.items[0].unit_price), str(cart.total)) == ("10.25", "20.50")


def test_removed_products_leave_the_cart(shop: Shop) -> None:
    uid = user(shop)
    mug = product(shop, "9.50")
    shop.carts.set_quantity(uid, mug.id, LineQuantity(quantity=1))
    shop.catalog.delete(mug.id)
    assert shop.carts.view(uid).items == []
    with pytest.raises(NotFound):
        shop.carts.set_quantity(uid, mug.id, LineQuantity(quantity=1))


def test_unknown_product_and_stock(shop: Shop) -> None:
    uid = user(shop)
    with pytest.raises(NotFound):
        shop.carts.set_quantity(uid, 999, LineQuantity(quantity=1))
    with pytest.raises(NotFound):
        shop.carts.set_quantity(uid, 2**70, LineQuantity(quantity=1))
    mug = product(shop, "9.50", stock=3)
    with pytest.raises(InsufficientStock) as info:
        shop.carts.set_quantity(uid, mug.id, LineQuantity(quantity=4))
    assert (info.value.items[0].requested, info.value.items[0].available) == (4, 3)
    assert shop.carts.view(uid).items == []


@pytest.mark.parametrize("quantity", [-1, 1001, "2", 1.5, True])
def test_quantity_bounds(quantity: object) -> None:
    with pytest.raises(ValidationError):
        LineQuantity(quantity=quantity)


def test_carts_are_per_user(shop: Shop) -> None:
    ann, bob = user(shop, "ann@example.com"), user(shop, "bob@example.com")
    mug = product(shop, "9.50")
    shop.carts.set_quantity(ann, mug.id, LineQuantity(quantity=2))
    assert shop.carts.view(bob).items == []
    shop.carts.clear(bob)
    assert shop.carts.view(ann).item_count == 2


cents = st.integers(min_value=1, max_value=9_999_999_999)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=st.lists(st.tuples(cents, st.integers(1, 1000)), min_size=1, max_size=5))
def test_cart_total_is_the_exact_sum(sqlite_shop: Shop, lines: list[tuple[int, int]]) -> None:
    shop = sqlite_shop
    uid = user(shop, f"h{uuid.uuid4().hex}@example.com")
    expected = Decimal("0.00")
    for n, quantity in lines:
        price = Decimal(n).scaleb(-2)
        p = product(shop, str(price), stock=1000)
        shop.carts.set_quantity(uid, p.id, LineQuantity(quantity=quantity))
        expected += price * quantity
    cart = shop.carts.view(uid)
    assert cart.total == expected
    assert cart.total == sum(i.unit_price * i.quantity for i in cart.items)
    assert all(i.line_total == i.unit_price * i.quantity for i in cart.items)
    assert cart.total.as_tuple().exponent == -2


def add_at_once(shop: Shop, uid: int, product_id: int, buyers: int) -> list[BaseException]:
    """``buyers`` threads set the same line of one cart at the same moment."""
    barrier = threading.Barrier(buyers)
    errors: list[BaseException] = []

    def add(quantity: int) -> None:
        barrier.wait()
        try:
            shop.carts.set_quantity(uid, product_id, LineQuantity(quantity=quantity))
        except BaseException as exc:  # every failure is the finding
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(n,)) for n in range(1, buyers + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_the_same_line_added_at_once_is_one_line_and_no_error(shop: Shop) -> None:
    uid = user(shop)
    for _ in range(10):
        item = product(shop, "2.00", stock=50)
        assert add_at_once(shop, uid, item.id, 6) == []
        lines = [line for line in shop.carts.view(uid).items if line.product_id == item.id]
        assert len(lines) == 1
        assert 1 <= lines[0].quantity <= 6


def test_a_full_cart_takes_no_new_product(shop: Shop) -> None:
    """The bound holds on every backend: a new line in a full cart is refused and nothing
    is written, while the lines already there can still change."""
    uid = user(shop)
    items = [product(shop, "1.00", name=f"P{n}") for n in range(MAX_CART_LINES + 1)]
    for item in items[:MAX_CART_LINES]:
        shop.carts.set_quantity(uid, item.id, LineQuantity(quantity=1))
    with pytest.raises(ValidationError) as info:
        shop.carts.set_quantity(uid, items[-1].id, LineQuantity(quantity=1))
    assert info.value.errors[0].field == "product_id"
    cart = shop.carts.view(uid)
    assert [line.product_id for line in cart.items] == [item.id for item in items[:-1]]
    cart = shop.carts.set_quantity(uid, items[0].id, LineQuantity(quantity=5))
    assert (len(cart.items), cart.items[0].quantity) == (MAX_CART_LINES, 5)
    # A removed product's line no longer counts: room for the new one.
    shop.catalog.delete(items[1].id)
    cart = shop.carts.set_quantity(uid, items[-1].id, LineQuantity(quantity=2))
    assert (len(cart.items), cart.items[-1].product_id) == (MAX_CART_LINES, items[-1].id)


def test_a_cart_update_is_its_read_and_one_statement(postgres_database_url: str) -> None:
    """On PostgreSQL a cart update is two round trips on the writer: the product, then the
    write with the lines after it, each committing by itself (no BEGIN, no COMMIT); it
    was five, and a worker thread waits for the GIL again after each."""
    _truncate_postgres(postgres_database_url)
    with Shop.open(
        postgres_database_url, secret_key=SECRET, argon2=FAST_ARGON2, migrate=False, pool_size=1
    ) as shop:
        uid = user(shop)
        mug, tote = product(shop, "9.50", name="Mug"), product(shop, "15.00", name="Tote")
        shop.carts.set_quantity(uid, mug.id, LineQuantity(quantity=1))
        trips = round_trips(
            shop, lambda: shop.carts.set_quantity(uid, tote.id, LineQuantity(quantity=2))
        )
        assert len(trips) == 2, trips
        assert "Query" not in " ".join(trips)  # BEGIN and COMMIT go as simple queries
        assert len(round_trips(shop, lambda: shop.carts.remove(uid, mug.id))) == 1
        cart = shop.carts.view(uid)
    assert [(line.name, line.quantity) for line in cart.items] == [("Tote", 2)]
