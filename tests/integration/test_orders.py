"""Orders on every backend: all or nothing, idempotent, never overselling."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minicommerce import (
    InsufficientStock,
    InvalidTransition,
    LineQuantity,
    NewProduct,
    NotFound,
    Product,
    ProductChanges,
    Registration,
    Shop,
    ValidationError,
)
from minicommerce.errors import EmptyCartError, IdempotencyKeyReused
from minicommerce.orders.models import MAX_ORDER_TOTAL, OrderStatus, PlaceOrder
from minicommerce.orders.service import OrderService
from minicommerce.storage.tables import idempotency_keys
from minicommerce.storage.unit_of_work import SqlUnitOfWorkFactory
from tests.conftest import ADDRESS, FAST_ARGON2, SECRET, _truncate_postgres


def user(shop: Shop) -> int:
    email = f"u{uuid.uuid4().hex[:12]}@example.com"
    return shop.accounts.register(Registration(email=email, password="x" * 8)).id


def product(shop: Shop, price: str = "9.50", stock: int = 10, name: str = "Mug") -> Product:
    return shop.catalog.create(NewProduct(name=name, price=price, stock_quantity=stock))


def request(*lines: tuple[int, int]) -> PlaceOrder:
    items = [{"product_id": p, "quantity": q} for p, q in lines] if lines else None
    return PlaceOrder.parse({"shipping_address": ADDRESS, "items": items})


def stock(shop: Shop, product_id: int) -> int:
    return shop.catalog.get(product_id).stock_quantity


def test_place_from_items(shop: Shop) -> None:
    uid = user(shop)
    mug, tote = product(shop, "9.50", 10), product(shop, "15.00", 5, "Tote")
    order, created = shop.orders.place(uid, request((tote.id, 1), (mug.id, 2), (mug.id, 1)))
    assert created
    assert order.status is OrderStatus.PENDING
    assert [(i.product_id, i.quantity, str(i.line_total)) for i in order.items] == [
        (mug.id, 3, "28.50"),
        (tote.id, 1, "15.00"),
    ]
    assert (str(order.total_amount), order.currency) == ("43.50", "USD")
    assert order.shipping_address["country"] == "GB"
    assert (stock(shop, mug.id), stock(shop, tote.id)) == (7, 4)
    assert shop.orders.get(uid, order.id) == order


def test_text_beyond_ascii_is_kept_exactly(shop: Shop) -> None:
    """The address and the line's name are JSON inside placement's statement on PostgreSQL:
    what comes back, then and later, is what was sent."""
    uid = user(shop)
    mug = product(shop, name='Tasse "Zürich" ☕ \\ 𝄞')
    address = {**ADDRESS, "full_name": "Zoë Ørsted-Łukasiewicz", "line1": "Straße 1 / 東京 ✉"}
    order, _ = shop.orders.place(
        uid, PlaceOrder.parse({"shipping_address": address, "items": [{"product_id": mug.id,
                                                                        "quantity": 1}]})
    )  # fmt: skip
    assert {key: order.shipping_address[key] for key in address} == address
    assert order.items[0].name == 'Tasse "Zürich" ☕ \\ 𝄞'
    assert shop.orders.get(uid, order.id) == order


def test_checkout_leaves_out_what_the_cart_no_longer_shows(shop: Shop) -> None:
    """An archived product leaves the cart view (test_carts); checkout agrees with it."""
    uid = user(shop)
    mug, gone = product(shop, stock=5), product(shop, stock=5, name="Gone")
    shop.carts.set_quantity(uid, mug.id, LineQuantity(quantity=1))
    shop.carts.set_quantity(uid, gone.id, LineQuantity(quantity=2))
    shop.catalog.delete(gone.id)
    order, _ = shop.orders.place(uid, request())
    assert [(i.product_id, i.quantity) for i in order.items] == [(mug.id, 1)]
    assert shop.carts.view(uid).items == []
    shop.carts.set_quantity(uid, mug.id, LineQuantity(quantity=1))
    shop.catalog.delete(mug.id)
    with pytest.raises(EmptyCartError):  # nothing left that the customer can see
        shop.orders.place(uid, request())


def test_order_lines_are_copies(shop: Shop) -> None:
    uid = user(shop)
    mug = product(shop, "9.50")
    order, _ = shop.orders.place(uid, request((mug.id, 1)))
    shop.catalog.update(mug.id, ProductChanges(price="99.00", name="Renamed"))
    shop.catalog.delete(mug.id)
    kept = shop.orders.get(uid, order.id)
    assert (kept.items[0].name, str(kept.items[0].unit_price)) == ("Mug", "9.50")


def test_cart_checkout_empties_the_cart(shop: Shop) -> None:
    uid = user(shop)
    mug = product(shop)
    shop.carts.set_quantity(uid, mug.id, LineQuantity(quantity=2))
    order, _ = shop.orders.place(uid, request())
    assert [(i.product_id, i.quantity) for i in order.items] == [(mug.id, 2)]
    assert shop.carts.view(uid).items == []
    with pytest.raises(EmptyCartError):
        shop.orders.place(uid, request())


def test_explicit_items_leave_the_cart_alone(shop: Shop) -> None:
    uid = user(shop)
    mug, tote = product(shop), product(shop, name="Tote")
    shop.carts.set_quantity(uid, mug.id, LineQuantity(quantity=2))
    shop.orders.place(uid, request((tote.id, 1)))
    assert shop.carts.view(uid).item_count == 2


def test_all_or_nothing(shop: Shop) -> None:
    uid = user(shop)
    plenty, scarce = product(shop, stock=10), product(shop, stock=1, name="Rare")
    with pytest.raises(InsufficientStock) as info:
        shop.orders.place(uid, request((plenty.id, 3), (scarce.id, 2)))
    assert [(s.product_id, s.requested, s.available) for s in info.value.items] == [
        (scarce.id, 2, 1)
    ]
    assert (stock(shop, plenty.id), stock(shop, scarce.id)) == (10, 1)
    assert shop.orders.list(uid).items == []
    with pytest.raises(NotFound):
        shop.orders.place(uid, request((plenty.id, 1), (424242, 1)))
    assert stock(shop, plenty.id) == 10


def test_idempotent_replay_and_reuse(shop: Shop) -> None:
    uid = user(shop)
    mug = product(shop, stock=10)
    first, created = shop.orders.place(uid, request((mug.id, 2)), "key-1")
    again, created_again = shop.orders.place(uid, request((mug.id, 2)), "key-1")
    assert (created, created_again) == (True, False)
    assert again == first
    assert stock(shop, mug.id) == 8
    with pytest.raises(IdempotencyKeyReused):
        shop.orders.place(uid, request((mug.id, 3)), "key-1")
    other = user(shop)  # keys are per user
    assert shop.orders.place(other, request((mug.id, 1)), "key-1")[1]


def test_a_replay_returns_the_order_as_first_answered(shop: Shop) -> None:
    uid = user(shop)
    mug = product(shop, stock=10)
    first, _ = shop.orders.place(uid, request((mug.id, 2)), "then")
    shop.orders.cancel(uid, first.id)
    shop.catalog.update(mug.id, ProductChanges(price="1.00", name="Renamed"))
    again, created = shop.orders.place(uid, request((mug.id, 2)), "then")
    assert not created
    assert again == first
    assert again.status is OrderStatus.PENDING
    assert shop.orders.get(uid, first.id).status is OrderStatus.CANCELLED
    assert stock(shop, mug.id) == 10


def test_a_cart_checkout_replay_changes_nothing(shop: Shop) -> None:
    uid = user(shop)
    mug = product(shop, stock=10)
    shop.carts.set_quantity(uid, mug.id, LineQuantity(quantity=3))
    first, _ = shop.orders.place(uid, request(), "cart-key")
    shop.carts.set_quantity(uid, mug.id, LineQuantity(quantity=1))
    again, created = shop.orders.place(uid, request(), "cart-key")
    assert (again, created) == (first, False)
    assert shop.carts.view(uid).item_count == 1
    assert stock(shop, mug.id) == 7


def test_expired_keys_are_purged(database_url: str) -> None:
    """Keys live at least the retention, then go: by the command's call and by itself
    every ``purge_every`` placements."""
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    with Shop.open(
        database_url, secret_key=SECRET, argon2=FAST_ARGON2, migrate=False,
        clock=lambda: now[0], idempotency_key_ttl=86_400, idempotency_purge_every=5,
    ) as shop:  # fmt: skip
        uid = user(shop)
        mug = product(shop, stock=100)
        old, _ = shop.orders.place(uid, request((mug.id, 1)), "old")
        now[0] += timedelta(hours=23)
        recent, _ = shop.orders.place(uid, request((mug.id, 1)), "recent")
        now[0] += timedelta(hours=2)  # "old" is 25 h old, "recent" 2 h
        assert shop.orders.purge_idempotency_keys() == 1
        assert shop.orders.purge_idempotency_keys() == 0
        assert shop.orders.place(uid, request((mug.id, 1)), "recent") == (recent, False)
        again, created = shop.orders.place(uid, request((mug.id, 1)), "old")
        assert created  # the key was forgotten: a new order
        assert again.id != old.id
        now[0] += timedelta(days=2)
        shop.orders.place(uid, request((mug.id, 1)))  # the 5th placement: it purges first
        with shop.database.reader.connect() as conn:
            left = conn.execute(sa.select(sa.func.count()).select_from(idempotency_keys))
            assert left.scalar_one() == 0


def test_a_failed_request_stores_no_key(shop: Shop) -> None:
    uid = user(shop)
    mug = product(shop, stock=1)
    with pytest.raises(InsufficientStock):
        shop.orders.place(uid, request((mug.id, 2)), "retry-me")
    shop.catalog.update(mug.id, ProductChanges(stock_quantity=5))
    order, created = shop.orders.place(uid, request((mug.id, 2)), "retry-me")
    assert created
    assert order.items[0].quantity == 2


def test_key_length_is_checked(shop: Shop) -> None:
    with pytest.raises(ValidationError):
        shop.orders.place(user(shop), request((1, 1)), "k" * 256)


def test_cancel_returns_stock_once(shop: Shop) -> None:
    uid = user(shop)
    mug = product(shop, stock=10)
    order, _ = shop.orders.place(uid, request((mug.id, 4)))
    cancelled = shop.orders.cancel(uid, order.id)
    assert cancelled.status is OrderStatus.CANCELLED
    assert stock(shop, mug.id) == 10
    with pytest.raises(InvalidTransition):
        shop.orders.cancel(uid, order.id)
    assert stock(shop, mug.id) == 10


def test_orders_are_private_and_newest_first(shop: Shop) -> None:
    ann, bob = user(shop), user(shop)
    mug = product(shop, stock=100)
    ids = [shop.orders.place(ann, request((mug.id, 1)))[0].id for _ in range(5)]
    page = shop.orders.list(ann, limit=2)
    assert [o.id for o in page.items] == ids[::-1][:2]
    rest = shop.orders.list(ann, limit=10, cursor=page.next_cursor)
    assert [o.id for o in rest.items] == ids[::-1][2:]
    assert shop.orders.list(bob).items == []
    with pytest.raises(NotFound):
        shop.orders.get(bob, ids[0])
    with pytest.raises(NotFound):
        shop.orders.cancel(bob, ids[0])


def test_address_rules() -> None:
    with pytest.raises(ValidationError) as info:
        PlaceOrder.parse({"shipping_address": {**ADDRESS, "country": "gb", "city": "x" * 201}})
    assert {e.field for e in info.value.errors} == {
        "shipping_address.country",
        "shipping_address.city",
    }


# --- races: run on SQLite and PostgreSQL ----------------------------------------------------


def test_forty_buyers_ten_in_stock(shop: Shop) -> None:
    mug = product(shop, stock=10)
    buyers = [user(shop) for _ in range(40)]
    barrier = threading.Barrier(len(buyers))

    def buy(uid: int) -> bool:
        barrier.wait()
        try:
            shop.orders.place(uid, request((mug.id, 1)))
        except InsufficientStock:
            return False
        return True

    with ThreadPoolExecutor(len(buyers)) as pool:
        results = list(pool.map(buy, buyers))
    assert results.count(True) == 10
    assert stock(shop, mug.id) == 0


def test_crossing_multi_line_orders_never_deadlock_or_split(shop: Shop) -> None:
    a, b = product(shop, stock=10_000, name="A"), product(shop, stock=10_000, name="B")
    buyers = [user(shop) for _ in range(8)]
    rounds = 100 // len(buyers) + 1

    def work(n: int) -> int:
        placed = 0
        for i in range(rounds):
            lines = ((a.id, 1), (b.id, 2)) if (n + i) % 2 else ((b.id, 2), (a.id, 1))
            shop.orders.place(buyers[n], request(*lines))
            placed += 1
        return placed

    with ThreadPoolExecutor(len(buyers)) as pool:
        placed = sum(pool.map(work, range(len(buyers))))
    assert stock(shop, a.id) == 10_000 - placed
    assert stock(shop, b.id) == 10_000 - 2 * placed
    for uid in buyers:
        for order in shop.orders.list(uid, limit=100).items:
            assert sorted((i.product_id, i.quantity) for i in order.items) == [(a.id, 1), (b.id, 2)]


def test_ten_concurrent_requests_with_one_key_make_one_order(shop: Shop) -> None:
    uid = user(shop)
    mug = product(shop, stock=100)
    barrier = threading.Barrier(10)

    def attempt(_: int) -> tuple[int, bool]:
        barrier.wait()
        order, created = shop.orders.place(uid, request((mug.id, 3)), "same-key")
        return order.id, created

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(attempt, range(10)))
    assert len({order_id for order_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert stock(shop, mug.id) == 97


def test_totals_are_exact(shop: Shop) -> None:
    uid = user(shop)
    prices = ["0.01", "0.10", "19.99", "99999999.99"]
    products = [product(shop, p, stock=1000) for p in prices]
    order, _ = shop.orders.place(uid, request(*[(p.id, 3) for p in products]))
    assert order.total_amount == sum(Decimal(p) * 3 for p in prices)
    assert order.total_amount == sum(i.line_total for i in order.items)
    assert shop.orders.get(uid, order.id).total_amount == order.total_amount


# --- staff ----------------------------------------------------------------------------------


def test_staff_list_filters_and_customer(shop: Shop) -> None:
    from minicommerce import StatusChange

    ann, bob = user(shop), user(shop)
    mug = product(shop, stock=100)
    a1 = shop.orders.place(ann, request((mug.id, 1)))[0]
    b1 = shop.orders.place(bob, request((mug.id, 1)))[0]
    a2 = shop.orders.place(ann, request((mug.id, 1)))[0]
    shop.orders.set_status(a1.id, StatusChange(status=OrderStatus.PAID))
    page = shop.orders.list_all(limit=2)
    assert [o.id for o in page.items] == [a2.id, b1.id]
    assert page.items[0].user.id == ann
    rest = shop.orders.list_all(limit=2, cursor=page.next_cursor)
    assert [o.id for o in rest.items] == [a1.id]
    assert [o.id for o in shop.orders.list_all(status=OrderStatus.PAID).items] == [a1.id]
    assert [o.id for o in shop.orders.list_all(user_id=bob).items] == [b1.id]
    assert shop.orders.admin_get(b1.id).user.id == bob
    with pytest.raises(NotFound):
        shop.orders.admin_get(424242)


def test_staff_move_orders_along_the_machine(shop: Shop) -> None:
    from minicommerce import StatusChange

    uid = user(shop)
    mug = product(shop, stock=10)
    order = shop.orders.place(uid, request((mug.id, 2)))[0]
    for status in (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED):
        assert shop.orders.set_status(order.id, StatusChange(status=status)).status is status
    for status in (OrderStatus.CANCELLED, OrderStatus.PENDING, OrderStatus.PAID):
        with pytest.raises(InvalidTransition):
            shop.orders.set_status(order.id, StatusChange(status=status))
    paid = shop.orders.place(uid, request((mug.id, 3)))[0]
    shop.orders.set_status(paid.id, StatusChange(status=OrderStatus.PAID))
    with pytest.raises(InvalidTransition):  # customers cancel only pending orders
        shop.orders.cancel(uid, paid.id)
    assert stock(shop, mug.id) == 5
    shop.orders.set_status(paid.id, StatusChange(status=OrderStatus.CANCELLED))
    assert stock(shop, mug.id) == 8


# --- failure injection and the in-progress path ---------------------------------------------


_BOOM = {
    "sqlite": [
        "CREATE TRIGGER test_boom BEFORE INSERT ON order_items"
        " BEGIN SELECT RAISE(ABORT, 'the disk is on fire'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION test_boom() RETURNS trigger LANGUAGE plpgsql"
        " AS $$ BEGIN RAISE EXCEPTION 'the disk is on fire'; END $$",
        "CREATE TRIGGER test_boom BEFORE INSERT ON order_items"
        " FOR EACH ROW EXECUTE FUNCTION test_boom()",
    ],
}
_UNBOOM = {
    "sqlite": ["DROP TRIGGER test_boom"],
    "postgresql": ["DROP TRIGGER test_boom ON order_items", "DROP FUNCTION test_boom()"],
}


def run_sql(shop: Shop, statements: list[str]) -> None:
    with shop.database.writer.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


def test_a_failure_after_the_decrement_leaves_nothing(shop: Shop) -> None:
    """The order lines are written after the stock is taken (SQLite: a later statement;
    PostgreSQL: a later part of the one statement); make that write fail."""
    uid = user(shop)
    mug = product(shop, stock=10)
    shop.carts.set_quantity(uid, mug.id, LineQuantity(quantity=2))
    backend = shop.database.backend
    run_sql(shop, _BOOM[backend])
    try:
        with pytest.raises(Exception, match="the disk is on fire"):
            shop.orders.place(uid, request(), "after-decrement")
    finally:
        run_sql(shop, _UNBOOM[backend])
    assert stock(shop, mug.id) == 10
    assert shop.orders.list(uid).items == []
    assert shop.carts.view(uid).item_count == 2
    _, created = shop.orders.place(uid, request(), "after-decrement")  # the key is free
    assert created
    assert stock(shop, mug.id) == 8
    assert shop.carts.view(uid).item_count == 0


@contextmanager
def held_after_the_stock_is_taken(shop: Shop) -> Iterator[tuple[threading.Event, threading.Event]]:
    """Hold the next placement inside its transaction, after it took the stock and
    claimed its key: set ``release`` to let it go; ``inside`` is set once it is held."""
    inside, release = threading.Event(), threading.Event()
    if shop.database.backend == "sqlite":
        from minicommerce.storage.orders import SqlOrderRepository

        original = SqlOrderRepository.add
        calls = iter(range(1_000))

        def slow_add(self: SqlOrderRepository, *args: Any) -> Any:
            if next(calls) == 0:
                inside.set()
                assert release.wait(10)
            return original(self, *args)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(SqlOrderRepository, "add", slow_add)
            yield inside, release
        return
    # PostgreSQL: the order lines' trigger waits for an advisory lock this test holds.
    run_sql(shop, [
        "CREATE FUNCTION test_hold() RETURNS trigger LANGUAGE plpgsql"
        " AS $$ BEGIN PERFORM pg_advisory_xact_lock(4242); RETURN NEW; END $$",
        "CREATE TRIGGER test_hold BEFORE INSERT ON order_items"
        " FOR EACH ROW EXECUTE FUNCTION test_hold()",
    ])  # fmt: skip
    holder = shop.database.writer.connect()
    holder.begin()
    holder.exec_driver_sql("SELECT pg_advisory_xact_lock(4242)")

    def watch() -> None:
        while not release.is_set():
            with shop.database.reader.connect() as conn:
                waiting = conn.exec_driver_sql(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                ).scalar_one()
            if waiting:
                inside.set()
                assert release.wait(10)
                holder.rollback()
                return
            release.wait(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        yield inside, release
    finally:
        release.set()
        watcher.join(10)
        holder.close()
        run_sql(shop, ["DROP TRIGGER test_hold ON order_items", "DROP FUNCTION test_hold()"])


def test_a_duplicate_waits_for_the_first_and_replays_it(shop: Shop) -> None:
    uid = user(shop)
    mug = product(shop, stock=10)
    with held_after_the_stock_is_taken(shop) as (inside, release), ThreadPoolExecutor(2) as pool:
        first = pool.submit(shop.orders.place, uid, request((mug.id, 2)), "k")
        assert inside.wait(10)
        second = pool.submit(shop.orders.place, uid, request((mug.id, 2)), "k")
        with pytest.raises(TimeoutError):
            second.result(timeout=0.5)  # still waiting for the first request's transaction
        release.set()
        (order_a, created_a), (order_b, created_b) = first.result(10), second.result(10)
    assert (created_a, created_b) == (True, False)
    assert order_a == order_b
    assert stock(shop, mug.id) == 8


def test_a_different_request_with_a_key_in_use_waits_then_is_refused(shop: Shop) -> None:
    uid = user(shop)
    mug, tote = product(shop, stock=10), product(shop, stock=10, name="Tote")
    with held_after_the_stock_is_taken(shop) as (inside, release), ThreadPoolExecutor(2) as pool:
        first = pool.submit(shop.orders.place, uid, request((mug.id, 2)), "k")
        assert inside.wait(10)
        second = pool.submit(shop.orders.place, uid, request((tote.id, 1)), "k")
        with pytest.raises(TimeoutError):
            second.result(timeout=0.5)
        release.set()
        assert first.result(10)[1]
        with pytest.raises(IdempotencyKeyReused):
            second.result(10)
    assert (stock(shop, mug.id), stock(shop, tote.id)) == (8, 10)


@pytest.fixture
def pg_shop(postgres_database_url: str) -> Iterator[Shop]:
    """PostgreSQL only: SQLite's placement holds the write lock from read to write, so
    nothing can come in between there."""
    _truncate_postgres(postgres_database_url)
    with Shop.open(
        postgres_database_url,
        secret_key=SECRET,
        argon2=FAST_ARGON2,
        migrate=False,
        order_row_cache=0,  # every placement reads: these tests come in after the read
    ) as shop:
        yield shop


@contextmanager
def between_read_and_write(shop: Shop, change: Callable[[], object]) -> Iterator[list[int]]:
    """PostgreSQL reads without locks and checks in the write: run ``change`` after the
    next placement's first read."""
    from minicommerce.storage.postgres_orders import PgOrderRepository

    original = PgOrderRepository.read
    reads: list[int] = []

    def read_then_change(self: PgOrderRepository, *args: Any) -> Any:
        seen = original(self, *args)
        reads.append(1)
        if len(reads) == 1:
            change()
        return seen

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(PgOrderRepository, "read", read_then_change)
        yield reads


def test_a_price_change_after_the_read_is_ordered_at_the_new_price(pg_shop: Shop) -> None:
    uid = user(pg_shop)
    mug = product(pg_shop, "9.50", stock=10)
    change = lambda: pg_shop.catalog.update(mug.id, ProductChanges(price="12.00"))  # noqa: E731
    with between_read_and_write(pg_shop, change) as reads:
        order, _ = pg_shop.orders.place(uid, request((mug.id, 2)), "k")
    assert len(reads) == 2  # read again after the write found the row changed
    assert (str(order.items[0].unit_price), str(order.total_amount)) == ("12.00", "24.00")
    assert pg_shop.orders.place(uid, request((mug.id, 2)), "k") == (order, False)
    assert stock(pg_shop, mug.id) == 8


def test_stock_sold_after_the_read_is_refused(pg_shop: Shop) -> None:
    uid, other = user(pg_shop), user(pg_shop)
    mug = product(pg_shop, stock=3)
    sell = lambda: pg_shop.orders.place(other, request((mug.id, 2)))  # noqa: E731
    with between_read_and_write(pg_shop, sell), pytest.raises(InsufficientStock) as info:
        pg_shop.orders.place(uid, request((mug.id, 2)))
    assert [(s.requested, s.available) for s in info.value.items] == [(2, 1)]
    assert stock(pg_shop, mug.id) == 1


def test_a_cart_changed_after_the_read_is_read_again(pg_shop: Shop) -> None:
    uid = user(pg_shop)
    mug, tote = product(pg_shop, stock=10), product(pg_shop, stock=10, name="Tote")
    pg_shop.carts.set_quantity(uid, mug.id, LineQuantity(quantity=1))
    change = lambda: pg_shop.carts.set_quantity(uid, tote.id, LineQuantity(quantity=2))  # noqa: E731
    with between_read_and_write(pg_shop, change) as reads:
        order, _ = pg_shop.orders.place(uid, request())
    assert len(reads) == 2
    assert [(i.product_id, i.quantity) for i in order.items] == [(mug.id, 1), (tote.id, 2)]
    assert pg_shop.carts.view(uid).items == []


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lines=st.lists(
        st.tuples(
            st.one_of(st.integers(1, 99_999), st.integers(1, 9_999_999_999)),
            st.integers(1, 1000),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_order_total_is_the_exact_sum_of_its_lines(
    shop: Shop, lines: list[tuple[int, int]]
) -> None:
    uid = user(shop)
    wanted = []
    for cents, quantity in lines:
        p = product(shop, str(Decimal(cents).scaleb(-2)), stock=1000)
        wanted.append((p.id, quantity))
    expected = sum((Decimal(c).scaleb(-2) * q for c, q in lines), Decimal("0.00"))
    if expected > MAX_ORDER_TOTAL:
        with pytest.raises(ValidationError, match="above the maximum"):
            shop.orders.place(uid, request(*wanted))
        assert all(stock(shop, product_id) == 1000 for product_id, _ in wanted)
        return
    order, _ = shop.orders.place(uid, request(*wanted))
    assert order.total_amount == expected
    assert order.total_amount == sum(i.line_total for i in order.items)
    assert all(i.line_total == i.unit_price * i.quantity for i in order.items)
    assert shop.orders.get(uid, order.id).total_amount == expected


# --- remembered product rows (PostgreSQL drafts from them; SQLite always reads) -------------


@pytest.fixture
def pg_cache_shop(postgres_database_url: str) -> Iterator[Shop]:
    """PostgreSQL with the remembered rows (the default)."""
    _truncate_postgres(postgres_database_url)
    with Shop.open(
        postgres_database_url, secret_key=SECRET, argon2=FAST_ARGON2, migrate=False
    ) as shop:
        yield shop


@contextmanager
def counted() -> Iterator[dict[str, int]]:
    """How often placement reads products, looks keys up and reads rows to remember
    (PostgreSQL's repository)."""
    from minicommerce.storage.postgres_orders import PgOrderRepository

    calls = {"read": 0, "answered": 0, "live_rows": 0}

    def counting(name: str) -> Callable[..., Any]:
        original = getattr(PgOrderRepository, name)

        def call(self: PgOrderRepository, *args: Any) -> Any:
            calls[name] += 1
            return original(self, *args)

        return call

    with pytest.MonkeyPatch.context() as patch:
        for name in calls:
            patch.setattr(PgOrderRepository, name, counting(name))
        yield calls


def test_an_order_of_remembered_products_is_one_statement(pg_cache_shop: Shop) -> None:
    shop = pg_cache_shop
    uid = user(shop)
    mug, tote = product(shop, "9.50"), product(shop, "3.25", name="Tote")
    with counted() as calls:
        order, created = shop.orders.place(uid, request((tote.id, 2), (mug.id, 1)), "k1")
        assert created
        # The first placement remembers the newest products; then only the checked write.
        assert calls == {"read": 0, "answered": 0, "live_rows": 1}
        shop.orders.place(uid, request((mug.id, 1)))
        assert calls == {"read": 0, "answered": 0, "live_rows": 1}
        # A replay: the write finds the key taken; then the key's answer.
        replay = shop.orders.place(uid, request((tote.id, 2), (mug.id, 1)), "k1")
        assert replay == (order, False)
        assert calls == {"read": 0, "answered": 1, "live_rows": 1}
        newer = product(shop, name="Newer")  # not remembered yet: read, then remembered
        shop.orders.place(uid, request((newer.id, 1)))
        shop.orders.place(uid, request((newer.id, 1)))
        assert calls == {"read": 1, "answered": 1, "live_rows": 1}
    assert [(i.product_id, i.quantity, str(i.line_total)) for i in order.items] == [
        (mug.id, 1, "9.50"),
        (tote.id, 2, "6.50"),
    ]
    assert (stock(shop, mug.id), stock(shop, tote.id), stock(shop, newer.id)) == (8, 8, 8)


def test_a_price_changed_since_the_last_order_is_charged_new(shop: Shop) -> None:
    uid = user(shop)
    mug = product(shop, "9.50")
    first, _ = shop.orders.place(uid, request((mug.id, 1)))
    shop.catalog.update(mug.id, ProductChanges(price="12.00", name="Big mug"))
    order, _ = shop.orders.place(uid, request((mug.id, 2)), "k")
    assert str(first.items[0].unit_price) == "9.50"
    assert (order.items[0].name, str(order.items[0].unit_price)) == ("Big mug", "12.00")
    assert str(order.total_amount) == "24.00"
    assert shop.orders.get(uid, order.id) == order
    assert stock(shop, mug.id) == 7


def test_the_stale_remembered_price_is_refused_by_the_write(pg_cache_shop: Shop) -> None:
    shop = pg_cache_shop
    uid = user(shop)
    mug = product(shop, "9.50")
    shop.orders.place(uid, request((mug.id, 1)))
    shop.catalog.update(mug.id, ProductChanges(price="8.00"))
    with counted() as calls:
        order, _ = shop.orders.place(uid, request((mug.id, 1)), "k")
        assert calls["read"] == calls["answered"] == 1  # refused: the key, then a fresh read
        assert str(order.total_amount) == "8.00"
        shop.orders.place(uid, request((mug.id, 1)))
        assert calls["read"] == 1  # the fresh row is remembered now


def test_an_archived_product_is_refused_after_it_was_ordered(shop: Shop) -> None:
    uid = user(shop)
    mug, tote = product(shop), product(shop, name="Tote")
    keyed, _ = shop.orders.place(uid, request((mug.id, 1)), "before")
    shop.orders.place(uid, request((mug.id, 1), (tote.id, 1)))
    shop.catalog.delete(mug.id)
    for _ in range(2):  # the second time too: the archived row is not remembered
        with pytest.raises(NotFound) as info:
            shop.orders.place(uid, request((mug.id, 1), (tote.id, 1)))
        assert info.value.identifier == mug.id
    assert shop.orders.place(uid, request((mug.id, 1)), "before") == (keyed, False)
    assert stock(shop, tote.id) == 9
    assert len(shop.orders.list(uid).items) == 2


def test_short_stock_is_refused_with_the_real_figure_and_restock_sells(shop: Shop) -> None:
    uid, other = user(shop), user(shop)
    mug = product(shop, stock=5)
    shop.orders.place(uid, request((mug.id, 1)))  # remembered with 5 in stock (PostgreSQL)
    shop.orders.place(other, request((mug.id, 3)))
    with pytest.raises(InsufficientStock) as info:
        shop.orders.place(uid, request((mug.id, 2)))
    assert [(s.requested, s.available) for s in info.value.items] == [(2, 1)]
    shop.orders.place(other, request((mug.id, 1)))  # remembered with 1, then 0 left
    shop.catalog.update(mug.id, ProductChanges(stock_quantity=4))
    order, _ = shop.orders.place(uid, request((mug.id, 4)))  # not refused on the old 0
    assert order.items[0].quantity == 4
    assert stock(shop, mug.id) == 0


def test_remembered_rows_are_bounded(pg_cache_shop: Shop) -> None:
    orders = OrderService(SqlUnitOfWorkFactory(pg_cache_shop.database, "USD"), "USD", row_cache=2)
    uid = user(pg_cache_shop)
    mugs = [product(pg_cache_shop, name=f"Mug {n}") for n in range(3)]
    with counted() as calls:
        orders.place(uid, request((mugs[2].id, 1)))
        orders.place(uid, request((mugs[1].id, 1)))
        assert calls == {"read": 0, "answered": 0, "live_rows": 1}  # the newest two
        orders.place(uid, request((mugs[0].id, 1)))  # read, and remembered instead of mugs[1]
        orders.place(uid, request((mugs[0].id, 1)))
        orders.place(uid, request((mugs[2].id, 1)))
        assert calls["read"] == 1
        orders.place(uid, request((mugs[1].id, 1)))
        assert calls["read"] == 2


def test_live_rows_are_the_newest_live_products(shop: Shop) -> None:
    mugs = [product(shop, f"{n}.50", stock=n, name=f"Mug {n}") for n in range(1, 5)]
    shop.catalog.delete(mugs[2].id)
    with SqlUnitOfWorkFactory(shop.database, "USD")(write=False) as uow:
        rows = uow.orders.live_rows(2)
    assert [(r.id, r.name, str(r.price), r.stock_quantity) for r in rows] == [
        (mugs[3].id, "Mug 4", "4.50", 4),
        (mugs[1].id, "Mug 2", "2.50", 2),
    ]


def test_placement_runs_its_generic_plan_on_the_writer(postgres_database_url: str) -> None:
    """PostgreSQL's default (``auto``) planned placement's statement afresh at every order;
    the writer forces the generic plan (storage/engine.py), the reader keeps ``auto``."""
    _truncate_postgres(postgres_database_url)
    with Shop.open(
        postgres_database_url, secret_key=SECRET, argon2=FAST_ARGON2, migrate=False, pool_size=1
    ) as shop:
        uid = user(shop)
        mug = product(shop, stock=100)
        for _ in range(12):  # psycopg prepares a statement on its fifth run
            shop.orders.place(uid, request((mug.id, 1)))
        with shop.database.writer.connect() as conn:
            mode = conn.exec_driver_sql("SHOW plan_cache_mode").scalar_one()
            plans = conn.exec_driver_sql(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
                " WHERE statement LIKE '%%INSERT INTO orders%%'"
            ).one()
        with shop.database.reader.connect() as conn:
            assert conn.exec_driver_sql("SHOW plan_cache_mode").scalar_one() == "auto"
        assert stock(shop, mug.id) == 88
    assert mode == "force_generic_plan"
    generic, custom = plans
    assert custom == 0
    assert generic >= 5
