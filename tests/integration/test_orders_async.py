"""``OrderService.place_async``: placement from an event loop.

On PostgreSQL the common case (explicit lines of remembered products, drafted into an order)
is one statement on the loop's own connection (``storage/async_orders.py``), with no thread;
anything else is ``place`` itself in the loop's default executor. Either way the answers,
errors and records are ``place``'s. The executor here counts what it is given, so each test
also says which path answered."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from minicommerce import (
    InsufficientStock,
    InvalidToken,
    NewProduct,
    NotFound,
    Order,
    PlaceOrder,
    ProductChanges,
    Registration,
    ServiceUnavailable,
    Shop,
    ValidationError,
)
from minicommerce.catalog.cache import MemoryCatalogCache
from minicommerce.catalog.redis_cache import RedisCatalogCache
from minicommerce.errors import IdempotencyKeyReused
from minicommerce.orders.placement import OrderDraft, StockRow, draft_order
from minicommerce.orders.repository import NewOrder, Seen
from minicommerce.storage.async_orders import AsyncPgOrderWriter
from minicommerce.storage.engine import Timeouts, open_database
from minicommerce.storage.tables import orders
from tests.cached_shops import wait_in_sync
from tests.conftest import ADDRESS, FAST_ARGON2, SECRET, _truncate_postgres
from tests.proxy import Proxy
from tests.sessions import logged_out, sign_in

T = TypeVar("T")


class CountingExecutor(ThreadPoolExecutor):
    """The loop's default executor, naming each call it is given."""

    def __init__(self) -> None:
        super().__init__(max_workers=4)
        self.calls: list[str] = []

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        target = getattr(fn, "func", fn)
        self.calls.append(getattr(target, "__name__", repr(target)))
        return super().submit(fn, *args, **kwargs)


def on_loop(make: Callable[[], Awaitable[T]]) -> tuple[T, list[str]]:
    """What ``make()`` answers on a new event loop, and what it ran in threads."""
    executor = CountingExecutor()

    async def main() -> T:
        asyncio.get_running_loop().set_default_executor(executor)
        return await make()

    try:
        return asyncio.run(main()), executor.calls
    finally:
        executor.shutdown()


def request(*lines: tuple[int, int]) -> PlaceOrder:
    items = [{"product_id": p, "quantity": q} for p, q in lines] if lines else None
    return PlaceOrder.parse({"shipping_address": ADDRESS, "items": items})


def user(shop: Shop) -> int:
    email = f"u{uuid.uuid4().hex[:12]}@example.com"
    return shop.accounts.register(Registration(email=email, password="x" * 8)).id


def order_count(shop: Shop) -> int:
    with shop.database.writer.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(orders)).scalar_one())


@pytest.fixture
def pg(postgres_database_url: str) -> Iterator[Shop]:
    _truncate_postgres(postgres_database_url)
    with Shop.open(
        postgres_database_url, secret_key=SECRET, argon2=FAST_ARGON2, migrate=False
    ) as shop:
        yield shop


def one_mug(*, product_id: int, user_id: int) -> tuple[NewOrder, OrderDraft, Seen]:
    """One mug (1.00, 5 in stock) for the user, as a writer is given it."""
    row = StockRow(id=product_id, sku=None, name="Mug", price=Decimal("1.00"), stock_quantity=5)
    draft = draft_order({product_id: 1}, [row])
    assert isinstance(draft, OrderDraft)
    new = NewOrder(user_id, {product_id: 1}, dict(ADDRESS), "USD", datetime.now(UTC))
    return new, draft, Seen({product_id: 1}, [row])


def warm(shop: Shop, product_id: int) -> int:
    """A customer whose first order warmed placement up (in a thread, as the first is)."""
    buyer = user(shop)
    _, calls = on_loop(lambda: shop.orders.place_async(buyer, request((product_id, 1))))
    assert calls == ["place"]
    return buyer


def test_a_remembered_order_is_placed_on_the_loop(pg: Shop) -> None:
    mug = pg.catalog.create(NewProduct(name="Mug", price="9.50", stock_quantity=10)).id
    buyer = warm(pg, mug)
    (order, created), calls = on_loop(lambda: pg.orders.place_async(buyer, request((mug, 2))))
    assert calls == []  # no thread at all
    assert created
    assert order == pg.orders.get(buyer, order.id)
    assert order.total_amount == Decimal("19.00")
    assert pg.catalog.get(mug).stock_quantity == 7


def test_without_postgresql_it_is_place_in_a_thread(shop: Shop) -> None:
    mug = shop.catalog.create(NewProduct(name="Mug", price="9.50", stock_quantity=10)).id
    buyer = user(shop)
    for _ in range(2):
        (order, created), calls = on_loop(lambda: shop.orders.place_async(buyer, request((mug, 1))))
        assert created
        assert order == shop.orders.get(buyer, order.id)
        if shop.database.backend == "sqlite":
            assert calls == ["place"]
    assert shop.catalog.get(mug).stock_quantity == 8


def test_refusals_are_places_and_record_nothing(pg: Shop) -> None:
    mug = pg.catalog.create(NewProduct(name="Mug", price="9.50", stock_quantity=3)).id
    buyer = warm(pg, mug)
    before = order_count(pg)
    with pytest.raises(InsufficientStock) as short:
        on_loop(lambda: pg.orders.place_async(buyer, request((mug, 5))))
    assert short.value.items[0].available == 2  # the fresh figure, not a remembered one
    with pytest.raises(NotFound):
        on_loop(lambda: pg.orders.place_async(buyer, request((mug + 1000, 1))))
    with pytest.raises(ValidationError):
        on_loop(lambda: pg.orders.place_async(buyer, request((mug, 1)), "k" * 256))
    assert order_count(pg) == before
    assert pg.catalog.get(mug).stock_quantity == 2


def test_a_price_changed_since_it_was_remembered_is_charged_new(pg: Shop) -> None:
    mug = pg.catalog.create(NewProduct(name="Mug", price="9.50", stock_quantity=10)).id
    buyer = warm(pg, mug)
    pg.catalog.update(mug, ProductChanges(price="12.00"))
    (order, _), calls = on_loop(lambda: pg.orders.place_async(buyer, request((mug, 1))))
    # The write found the remembered row stale and recorded nothing: place started over.
    assert calls == ["place"]
    assert order.total_amount == Decimal("12.00")
    (again, _), calls = on_loop(lambda: pg.orders.place_async(buyer, request((mug, 1))))
    assert calls == []  # the fresh row is remembered now
    assert again.total_amount == Decimal("12.00")


def test_an_idempotent_replay_answers_the_first_order(pg: Shop) -> None:
    mug = pg.catalog.create(NewProduct(name="Mug", price="9.50", stock_quantity=10)).id
    buyer = warm(pg, mug)
    (first, created), calls = on_loop(
        lambda: pg.orders.place_async(buyer, request((mug, 2)), "key-1")
    )
    assert created
    assert calls == []
    (replay, created), calls = on_loop(
        lambda: pg.orders.place_async(buyer, request((mug, 2)), "key-1")
    )
    assert (replay, created) == (first, False)
    assert calls == ["place"]  # the key was taken: place looked its answer up
    with pytest.raises(IdempotencyKeyReused):
        on_loop(lambda: pg.orders.place_async(buyer, request((mug, 1)), "key-1"))
    assert pg.catalog.get(mug).stock_quantity == 7


def test_an_ended_session_places_nothing(pg: Shop) -> None:
    mug = pg.catalog.create(NewProduct(name="Mug", price="9.50", stock_quantity=10)).id
    warm(pg, mug)
    customer = sign_in(pg)
    _, calls = on_loop(
        lambda: pg.orders.place_async(customer.id, request((mug, 1)), session=customer.session)
    )
    assert calls == []
    ended = logged_out(pg, customer)
    before = order_count(pg)
    with pytest.raises(InvalidToken):
        on_loop(lambda: pg.orders.place_async(customer.id, request((mug, 1)), session=ended))
    assert order_count(pg) == before
    # And a refusal for an ended session is the session's error, as place answers it.
    with pytest.raises(InvalidToken):
        on_loop(lambda: pg.orders.place_async(customer.id, request((mug, 99)), session=ended))


def test_forty_buyers_on_one_loop_ten_in_stock(pg: Shop) -> None:
    mug = pg.catalog.create(NewProduct(name="Mug", price="9.50", stock_quantity=11)).id
    warm(pg, mug)
    buyers = [user(pg) for _ in range(40)]

    async def everyone() -> list[object]:
        return await asyncio.gather(
            *(pg.orders.place_async(b, request((mug, 1))) for b in buyers),
            return_exceptions=True,
        )

    answers, _ = on_loop(everyone)
    placed = [a for a in answers if isinstance(a, tuple)]
    refused = [a for a in answers if isinstance(a, InsufficientStock)]
    assert (len(placed), len(refused)) == (10, 30)
    assert pg.catalog.get(mug).stock_quantity == 0


def test_the_loop_holds_at_most_its_bound_of_connections(postgres_database_url: str) -> None:
    _truncate_postgres(postgres_database_url)
    with Shop.open(
        postgres_database_url,
        secret_key=SECRET,
        argon2=FAST_ARGON2,
        migrate=False,
        placement_concurrency=2,
    ) as shop:
        mug = shop.catalog.create(NewProduct(name="Mug", price="1.00", stock_quantity=100)).id
        buyer = warm(shop, mug)
        writer = shop.orders._async_writer
        assert isinstance(writer, AsyncPgOrderWriter)
        seen: list[int] = []

        async def many() -> None:
            async def one() -> None:
                await shop.orders.place_async(buyer, request((mug, 1)))
                seen.append(writer.connections())

            await asyncio.gather(*(one() for _ in range(20)))

        _, calls = on_loop(many)
        assert calls == []
        assert max(seen) == 2
        assert shop.catalog.get(mug).stock_quantity == 79


def test_a_connection_the_server_ended_while_idle_is_replaced_not_an_error(pg: Shop) -> None:
    """After a database restart the loop's idle connections are dead: the next placement
    gets a new one rather than a 503."""
    mug = pg.catalog.create(NewProduct(name="Mug", price="1.00", stock_quantity=5)).id
    buyer = warm(pg, mug)

    async def across_a_restart() -> list[Order]:
        placed = [(await pg.orders.place_async(buyer, request((mug, 1))))[0]]
        writer = pg.orders._async_writer
        assert isinstance(writer, AsyncPgOrderWriter)
        assert writer.connections() == 1
        (idle,) = writer._pools[asyncio.get_running_loop()].idle
        with pg.database.writer.connect() as conn:
            pid = idle.connection.pgconn.backend_pid
            conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await asyncio.sleep(0.5)  # the loop reads the server's goodbye as it comes
        placed.append((await pg.orders.place_async(buyer, request((mug, 1))))[0])
        return placed

    placed, calls = on_loop(across_a_restart)
    assert calls == []  # both on the loop
    assert [o.id for o in placed] == sorted({o.id for o in placed})
    assert pg.catalog.get(mug).stock_quantity == 2


def test_the_catalog_cache_hears_of_the_stock_taken(postgres_database_url: str) -> None:
    _truncate_postgres(postgres_database_url)
    cache = MemoryCatalogCache()
    with Shop.open(
        postgres_database_url,
        secret_key=SECRET,
        argon2=FAST_ARGON2,
        migrate=False,
        catalog_cache=cache,
    ) as shop:
        mug = shop.catalog.create(NewProduct(name="Mug", price="1.00", stock_quantity=5)).id
        buyer = warm(shop, mug)
        assert shop.catalog.get(mug).stock_quantity == 4  # now cached
        _, calls = on_loop(lambda: shop.orders.place_async(buyer, request((mug, 4))))
        assert calls == ["changed"]  # only the invalidation, in a thread
        assert shop.catalog.get(mug).stock_quantity == 0


def test_with_the_redis_cache_the_whole_order_is_on_the_loop(
    postgres_database_url: str, redis_url: str
) -> None:
    """The shared cache is told on the loop too (``changed_async``): no thread at all, and
    another instance's cache is current once the order is answered."""
    _truncate_postgres(postgres_database_url)
    caches = RedisCatalogCache(redis_url, lease=30), RedisCatalogCache(redis_url, lease=30)
    with (
        Shop.open(postgres_database_url, secret_key=SECRET, argon2=FAST_ARGON2, migrate=False,
                  catalog_cache=caches[0]) as shop,
        Shop.open(postgres_database_url, secret_key=SECRET, argon2=FAST_ARGON2, migrate=False,
                  catalog_cache=caches[1]) as other,
    ):  # fmt: skip
        wait_in_sync(*caches)
        mug = shop.catalog.create(NewProduct(name="Mug", price="1.00", stock_quantity=5)).id
        buyer = warm(shop, mug)
        assert other.catalog.get(mug).stock_quantity == 4  # cached there now
        started = time.monotonic()
        _, calls = on_loop(lambda: shop.orders.place_async(buyer, request((mug, 3))))
        assert calls == []  # no thread: the statement and the invalidation on the loop
        assert time.monotonic() - started < 10  # acknowledged, not the 30 s lease
        assert other.catalog.get(mug).stock_quantity == 1


def test_an_unreachable_database_is_service_unavailable() -> None:
    database = open_database(
        "postgresql://postgres@127.0.0.1:1/nowhere", timeouts=Timeouts(connect=1, pool=1)
    )
    writer = AsyncPgOrderWriter(database, size=1)
    new, draft, seen = one_mug(product_id=1, user_id=1)
    try:
        for _ in range(2):  # the failed connection gave its slot back
            with pytest.raises(ServiceUnavailable):
                on_loop(lambda: writer.add(new, draft, seen))
    finally:
        writer.close()
        database.dispose()


def test_a_caller_waits_for_a_connection_at_most_the_pool_timeout(pg: Shop) -> None:
    mug = pg.catalog.create(NewProduct(name="Mug", price="1.00", stock_quantity=5))
    new, draft, seen = one_mug(product_id=mug.id, user_id=user(pg))
    database = open_database(pg.database.url, timeouts=Timeouts(pool=0.3))
    writer = AsyncPgOrderWriter(database, size=1)

    async def two_while_the_row_is_locked() -> tuple[object, object]:
        with pg.database.writer.connect() as conn:
            conn.execute(
                sa.text("SELECT 1 FROM products WHERE id = :id FOR UPDATE"), {"id": mug.id}
            )
            first = asyncio.create_task(writer.add(new, draft, seen))
            await asyncio.sleep(0.1)  # the first holds the only connection, on the lock
            second = await asyncio.gather(writer.add(new, draft, seen), return_exceptions=True)
            conn.rollback()
        return await first, second[0]

    try:
        (first, second), _ = on_loop(two_while_the_row_is_locked)
    finally:
        writer.close()
        database.dispose()
    assert isinstance(second, ServiceUnavailable)
    assert isinstance(first, Order)
    assert pg.catalog.get(mug.id).stock_quantity == 4


def test_a_stalled_database_is_service_unavailable_within_the_deadline(
    postgres_database_url: str,
) -> None:
    """No answer (the connection still up, as when the server stopped answering): the wait
    is bounded like a read's, the connection dropped, and the next placement works."""
    _truncate_postgres(postgres_database_url)
    target = urlsplit(postgres_database_url)
    with Proxy(target.hostname or "127.0.0.1", target.port or 5432) as proxy:
        url = postgres_database_url.replace(target.netloc, f"postgres@{proxy.url_netloc}")
        timeouts = Timeouts(connect=1, statement=0.5, pool=1)
        cache = MemoryCatalogCache(60)
        with Shop.open(
            url,
            secret_key=SECRET,
            argon2=FAST_ARGON2,
            migrate=False,
            timeouts=timeouts,
            catalog_cache=cache,
        ) as shop:
            mug = shop.catalog.create(NewProduct(name="Mug", price="1.00", stock_quantity=5)).id
            buyer = warm(shop, mug)

            async def then_stalled() -> float:
                # On one loop: the stalled placement uses the connection the first opened.
                await shop.orders.place_async(buyer, request((mug, 1)))
                assert shop.catalog.get(mug).stock_quantity == 3  # cached now
                proxy.stall()
                started = time.monotonic()
                with pytest.raises(ServiceUnavailable):
                    await shop.orders.place_async(buyer, request((mug, 1)))
                return time.monotonic() - started

            waited, _ = on_loop(then_stalled)
            assert timeouts.longest_read <= waited < timeouts.longest_read + 1
            # Whether it was recorded is not known: the cache dropped what it may change.
            assert cache.peek_product(mug) is None
            proxy.forward()
            # The stalled statement may still reach the database and commit; whether it
            # did or not, the cache shows what the database holds.
            time.sleep(0.5)
            with shop.database.reader.connect() as conn:
                held = conn.execute(
                    sa.text("SELECT stock_quantity FROM products WHERE id = :id"), {"id": mug}
                ).scalar_one()
            assert shop.catalog.get(mug).stock_quantity == held
            (_, created), calls = on_loop(lambda: shop.orders.place_async(buyer, request((mug, 1))))
            assert created
            assert calls == ["changed"]
