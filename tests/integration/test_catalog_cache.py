"""The catalog cache against real components: two "instances" (two shops on one database
and one Redis), every kind of write seen by the other's very next read; cached answers
equal uncached ones under random writes (hypothesis); Redis refused and stalled."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.client import PubSub

from minicommerce import (
    ImageChanges,
    NewProduct,
    ProductChanges,
    ProductQuery,
    ProductSort,
    Registration,
    Shop,
)
from minicommerce.catalog.cache import CatalogChange, MemoryCatalogCache
from minicommerce.catalog.redis_cache import RedisCatalogCache
from minicommerce.errors import InsufficientStock, InvalidTransition, NotFound
from minicommerce.orders.models import OrderLineInput, PlaceOrder, ShippingAddress
from tests.cached_shops import open_shop, wait_in_sync
from tests.images import photo
from tests.proxy import Proxy

ADDRESS = ShippingAddress(
    full_name="A B", line1="1 Road", city="Town", postal_code="1000", country="DE"
)
QUERIES = (
    ProductQuery(),
    ProductQuery(in_stock=True),
    ProductQuery(in_stock=False),
    ProductQuery(sort=ProductSort.PRICE_ASC, limit=2),
    ProductQuery(q="tea"),
    ProductQuery(min_price=Decimal("2.00")),
)


@contextmanager
def cached_pair(
    database_url: str, media_dir: Path, a_cache: RedisCatalogCache, b_cache: RedisCatalogCache
) -> Iterator[tuple[Shop, Shop, Shop]]:
    """Instances A and B over these caches (of one Redis), once both are in sync, and the
    truth (no cache)."""
    with (
        open_shop(database_url, media_dir, a_cache) as a,
        open_shop(database_url, media_dir, b_cache) as b,
        open_shop(database_url, media_dir) as truth,
    ):
        wait_in_sync(a_cache, b_cache)
        yield a, b, truth


@pytest.fixture
def instances(
    database_url: str, redis_url: str, media_dir: Path
) -> Iterator[tuple[Shop, Shop, Shop]]:
    """Instances A and B, cached through the same Redis, and the truth (no cache)."""
    a_cache, b_cache = RedisCatalogCache(redis_url), RedisCatalogCache(redis_url)
    with cached_pair(database_url, media_dir, a_cache, b_cache) as (a, b, truth):
        yield a, b, truth


def same(shop: Shop, truth: Shop, product_id: int | None = None) -> None:
    if product_id is not None:
        try:
            expected = truth.catalog.get(product_id)
        except NotFound:
            with pytest.raises(NotFound):
                shop.catalog.get(product_id)
        else:
            assert shop.catalog.get(product_id) == expected
    for query in QUERIES:
        assert shop.catalog.list(query) == truth.catalog.list(query), query


def test_a_write_on_one_instance_is_seen_by_the_next_read_on_the_other(
    instances: tuple[Shop, Shop, Shop],
) -> None:
    a, b, truth = instances
    user = a.accounts.register(Registration(email="c@example.com", password="x" * 8)).id
    tea = a.catalog.create(NewProduct(name="green tea", price=Decimal("3.00"), stock_quantity=50))
    image = a.catalog.add_image(tea.id, photo(64, 48), "a cup")

    def order(product_id: int, quantity: int) -> int:
        line = OrderLineInput(product_id=product_id, quantity=quantity)
        placed, _ = a.orders.place(user, PlaceOrder(shipping_address=ADDRESS, items=[line]))
        return placed.id

    for round_ in range(5):
        price = ProductChanges(price=Decimal(f"{round_ + 1}.50"))
        new_mug = NewProduct(name=f"mug {round_}", price=Decimal("9.00"), stock_quantity=1)
        alt = ImageChanges(alt=f"cup {round_}")
        writes: list[tuple[str, Callable[[], object]]] = [
            ("price edit", partial(a.catalog.update, tea.id, price)),
            ("create", partial(a.catalog.create, new_mug)),
            ("image change", partial(a.catalog.update_image, tea.id, image.id, alt)),
            ("stock edit", partial(a.catalog.update, tea.id, ProductChanges(stock_quantity=10))),
            ("order", partial(order, tea.id, 1)),
            ("in_stock flip by an order", partial(order, tea.id, 9)),
            ("in_stock flip by a stock edit",
             partial(a.catalog.update, tea.id, ProductChanges(stock_quantity=2))),
            ("cancel", lambda: a.orders.cancel(user, order(tea.id, 2))),
        ]  # fmt: skip
        for name, write in writes:
            same(b, truth, tea.id)  # B has it cached...
            write()
            try:
                same(b, truth, tea.id)  # ...and its very next read sees the write
            except AssertionError as exc:
                raise AssertionError(f"round {round_}, after {name}: {exc}") from exc
        mug = a.catalog.create(NewProduct(name=f"cup {round_}", price=Decimal("1.00"),
                                          stock_quantity=1))  # fmt: skip
        same(b, truth, mug.id)
        a.catalog.delete(mug.id)
        same(b, truth, mug.id)  # archived: gone from B at once
    a.catalog.remove_image(tea.id, image.id)
    same(b, truth, tea.id)
    hits = b.catalog_cache.stats()
    assert hits.memory_hits > 0
    assert hits.errors == 0


# --- cached == uncached, whatever the writes (hypothesis) -----------------------------

NAMES = ("tea", "green tea", "mug", "Tea cup", "pot")
PRICES = ("0.99", "1.00", "2.00", "2.50", "10.00")

write_ops = st.one_of(
    st.tuples(st.just("create"), st.sampled_from(NAMES), st.sampled_from(PRICES),
              st.integers(0, 3)),
    st.tuples(st.just("price"), st.integers(0, 9), st.sampled_from(PRICES)),
    st.tuples(st.just("name"), st.integers(0, 9), st.sampled_from(NAMES)),
    st.tuples(st.just("stock"), st.integers(0, 9), st.integers(0, 3)),
    st.tuples(st.just("delete"), st.integers(0, 9)),
    st.tuples(st.just("order"), st.integers(0, 9), st.integers(1, 2)),
    st.tuples(st.just("cancel"), st.integers(0, 9)),
)  # fmt: skip
queries = st.builds(
    ProductQuery,
    limit=st.integers(1, 4),
    q=st.none() | st.sampled_from(("tea", "cup", "o")),
    min_price=st.none() | st.sampled_from(PRICES),
    max_price=st.none() | st.sampled_from(PRICES),
    in_stock=st.none() | st.booleans(),
    sort=st.sampled_from(ProductSort),
)
steps = st.lists(st.one_of(write_ops, queries), min_size=5, max_size=25)


class World:
    """What the random writes work on: products made so far, orders placed."""

    def __init__(self, writer: Shop) -> None:
        self.writer = writer
        self.user = writer.accounts.register(
            Registration(email=f"h{uuid.uuid4().hex}@example.com", password="x" * 8)
        ).id
        self.products: list[int] = []
        self.orders: list[int] = []

    def pick(self, n: int) -> int | None:
        return self.products[n % len(self.products)] if self.products else None

    def write(self, op: tuple[object, ...]) -> None:
        catalog = self.writer.catalog
        kind = op[0]
        if kind == "create":
            _, name, price, stock = op
            made = catalog.create(
                NewProduct(name=str(name), price=Decimal(str(price)), stock_quantity=int(stock))  # type: ignore[call-overload]
            )
            self.products.append(made.id)
            return
        target = self.pick(int(op[1]))  # type: ignore[call-overload]
        try:
            if kind == "cancel":
                if self.orders:
                    self.writer.orders.cancel(self.user, self.orders[int(op[1]) % len(self.orders)])  # type: ignore[call-overload]
            elif target is None:
                return
            elif kind == "price":
                catalog.update(target, ProductChanges(price=Decimal(str(op[2]))))
            elif kind == "name":
                catalog.update(target, ProductChanges(name=str(op[2])))
            elif kind == "stock":
                catalog.update(target, ProductChanges(stock_quantity=int(op[2])))  # type: ignore[call-overload]
            elif kind == "delete":
                catalog.delete(target)
            elif kind == "order":
                line = OrderLineInput(product_id=target, quantity=int(op[2]))  # type: ignore[call-overload]
                placed, _ = self.writer.orders.place(
                    self.user, PlaceOrder(shipping_address=ADDRESS, items=[line])
                )
                self.orders.append(placed.id)
        except (NotFound, InsufficientStock, InvalidTransition):
            pass


def check_pages(readers: list[Shop], truth: Shop, query: ProductQuery) -> None:
    """Every page of ``query``, following the cursors, and every product shown."""
    for _ in range(20):
        expected = truth.catalog.list(query)
        for reader in readers:
            assert reader.catalog.list(query) == expected, query
            for item in expected.items:
                assert reader.catalog.get(item.id) == item
        if expected.next_cursor is None:
            return
        query = query.model_copy(update={"cursor": expected.next_cursor})


def run_steps(world: World, readers: list[Shop], truth: Shop, ops: list[object]) -> None:
    for op in ops:
        if isinstance(op, ProductQuery):
            check_pages(readers, truth, op)
        else:
            assert isinstance(op, tuple)
            world.write(op)
    for product_id in world.products:
        for reader in readers:
            try:
                expected = truth.catalog.get(product_id)
            except NotFound:
                with pytest.raises(NotFound):
                    reader.catalog.get(product_id)
            else:
                assert reader.catalog.get(product_id) == expected


PROPERTY = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@PROPERTY
@given(ops=steps)
def test_in_process_cache_answers_as_the_database_does(
    database_url: str, media_dir: Path, ops: list[object]
) -> None:
    with (
        open_shop(database_url, media_dir, MemoryCatalogCache(300)) as cached,
        open_shop(database_url, media_dir) as truth,
    ):
        run_steps(World(cached), [cached], truth, ops)
        cached.catalog_cache.close()


@PROPERTY
@given(ops=steps)
def test_redis_cache_answers_as_the_database_does_on_every_instance(
    database_url: str, redis_url: str, media_dir: Path, ops: list[object]
) -> None:
    a_cache, b_cache = RedisCatalogCache(redis_url), RedisCatalogCache(redis_url)
    with cached_pair(database_url, media_dir, a_cache, b_cache) as (a, b, truth):
        run_steps(World(a), [a, b], truth, ops)


# --- Redis refused, stalled, and back -------------------------------------------------


def through(proxy: Proxy, url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=proxy.url_netloc))


@contextmanager
def a_behind_a_proxy(
    database_url: str, redis_url: str, media_dir: Path
) -> Iterator[tuple[Proxy, RedisCatalogCache, Shop, Shop, Shop]]:
    """Instances A (its Redis through a proxy that tests may break, short timeouts) and B,
    the proxy, A's cache, and the truth."""
    target = urlsplit(redis_url)
    with Proxy(target.hostname or "127.0.0.1", target.port or 6379) as proxy:
        a_cache = RedisCatalogCache(through(proxy, redis_url), timeout=0.05)
        b_cache = RedisCatalogCache(redis_url)
        with cached_pair(database_url, media_dir, a_cache, b_cache) as (a, b, truth):
            yield proxy, a_cache, a, b, truth


def until_sent(cache: RedisCatalogCache) -> None:
    """Until the invalidations that Redis missed have reached it (at most 10 s)."""
    deadline = time.monotonic() + 10
    while cache._pending is not None:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def timed(fn: Callable[[], object]) -> float:
    started = time.monotonic()
    fn()
    return time.monotonic() - started


@pytest.mark.parametrize("fault", ["refuse", "stall"])
def test_redis_down_or_stalled_degrades_to_the_database_and_caching_resumes(
    database_url: str, redis_url: str, media_dir: Path, fault: str
) -> None:
    with a_behind_a_proxy(database_url, redis_url, media_dir) as (proxy, a_cache, a, b, truth):
        p = b.catalog.create(NewProduct(name="tea", price=Decimal("1.00"), stock_quantity=5))
        same(a, truth, p.id)
        getattr(proxy, fault)()
        # Reads answer from the database, without an exception, and writes succeed;
        # nothing waits longer than a few Redis timeouts (1 s is only a liveness bound).
        for n in range(5):
            assert timed(lambda: same(a, truth, p.id)) < 1
            price = ProductChanges(price=Decimal(f"{n + 2}.00"))
            assert timed(partial(b.catalog.update, p.id, price)) < 1
            assert timed(partial(a.catalog.update, p.id, ProductChanges(stock_quantity=n))) < 1
            assert timed(lambda: same(a, truth, p.id)) < 1
        assert a_cache.stats().errors > 0
        assert not a_cache.in_sync  # it serves nothing from memory meanwhile
        proxy.forward()
        wait_in_sync(a_cache)
        # A's writes made while Redis was away reached it once it answered: B is current.
        deadline = time.monotonic() + 5
        while a_cache._pending is not None:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        same(b, truth, p.id)
        same(a, truth, p.id)
        before = a_cache.stats()
        same(a, truth, p.id)
        after = a_cache.stats()
        assert after.memory_hits + after.redis_hits > before.memory_hits + before.redis_hits


def test_a_write_returns_once_every_instance_has_acknowledged(
    database_url: str, redis_url: str, media_dir: Path
) -> None:
    """Every subscriber acknowledges each change it applied, on a connection of its own:
    with a lease of 30 s, a write left unacknowledged would wait 30 s each time."""
    a_cache = RedisCatalogCache(redis_url, lease=30)
    b_cache = RedisCatalogCache(redis_url, lease=30)
    with cached_pair(database_url, media_dir, a_cache, b_cache) as (a, b, truth):
        p = a.catalog.create(NewProduct(name="tea", price=Decimal("1.00"), stock_quantity=5))
        for n in range(3):
            price = ProductChanges(price=Decimal(f"{n + 2}.00"))
            writer = (a, b)[n % 2]
            assert timed(partial(writer.catalog.update, p.id, price)) < 10
            same(a, truth, p.id)
            same(b, truth, p.id)
        assert a_cache.stats().errors == b_cache.stats().errors == 0


def test_a_change_told_on_the_loop_returns_once_every_instance_dropped_the_old(
    database_url: str, redis_url: str, media_dir: Path
) -> None:
    """``changed_async``: the script through the loop's pipelined connection, and the
    acknowledgements awaited there. With a lease of 30 s, a wait that missed them would
    take 30 s."""
    a_cache = RedisCatalogCache(redis_url, lease=30)
    b_cache = RedisCatalogCache(redis_url, lease=30)
    with cached_pair(database_url, media_dir, a_cache, b_cache) as (a, b, truth):
        p = a.catalog.create(NewProduct(name="tea", price=Decimal("1.00"), stock_quantity=5))
        for n in range(3):
            same(b, truth, p.id)  # B holds it now
            truth.catalog.update(p.id, ProductChanges(price=Decimal(f"{n + 2}.00")))
            assert b.catalog.get(p.id).price == Decimal(f"{n + 1}.00")  # still the old
            told = partial(asyncio.run, a_cache.changed_async(CatalogChange.of([p.id], lists=True)))
            assert timed(told) < 10
            same(b, truth, p.id)
            same(a, truth, p.id)
        assert a_cache.stats().errors == b_cache.stats().errors == 0
        assert a_cache.stats().lease_expiries == 0


@pytest.mark.parametrize("fault", ["refuse", "stall"])
def test_a_change_told_on_the_loop_while_redis_is_away_is_sent_once_it_answers(
    database_url: str, redis_url: str, media_dir: Path, fault: str
) -> None:
    with a_behind_a_proxy(database_url, redis_url, media_dir) as (proxy, a_cache, a, b, truth):
        p = a.catalog.create(NewProduct(name="tea", price=Decimal("1.00"), stock_quantity=5))
        same(b, truth, p.id)
        getattr(proxy, fault)()
        truth.catalog.update(p.id, ProductChanges(price=Decimal("2.00")))
        change = CatalogChange.of([p.id], lists=True)
        # No error and no long wait: the change is kept for later.
        assert timed(lambda: asyncio.run(a_cache.changed_async(change))) < 1
        assert a_cache._pending == change
        assert not a_cache.in_sync
        proxy.forward()
        until_sent(a_cache)
        same(b, truth, p.id)


def test_a_change_told_on_the_loop_and_cancelled_is_still_sent(
    database_url: str, redis_url: str, media_dir: Path
) -> None:
    """A caller cancelled while Redis stalls (its loop shutting down): whether the script
    reached Redis is not known, so the change is kept and sent again."""
    with a_behind_a_proxy(database_url, redis_url, media_dir) as (proxy, a_cache, a, b, truth):
        p = a.catalog.create(NewProduct(name="tea", price=Decimal("1.00"), stock_quantity=5))
        same(b, truth, p.id)
        proxy.stall()
        truth.catalog.update(p.id, ProductChanges(price=Decimal("2.00")))
        change = CatalogChange.of([p.id], lists=True)

        async def cancelled() -> None:
            telling = asyncio.ensure_future(a_cache.changed_async(change))
            await asyncio.sleep(0.02)
            telling.cancel()
            with pytest.raises(asyncio.CancelledError):
                await telling

        asyncio.run(cancelled())
        assert a_cache._pending == change
        proxy.forward()
        until_sent(a_cache)
        same(b, truth, p.id)


def test_acknowledgements_go_on_after_their_connection_is_lost(
    database_url: str, redis_url: str, media_dir: Path
) -> None:
    """The acknowledgements' connection asks Redis for no replies (``CLIENT REPLY OFF``),
    and asks again whenever it reconnects: killed by Redis, it comes back, and writes go
    back to returning on acknowledgements rather than on the lease. An acknowledgement
    sent into the dead connection is lost, so one write may wait out its lease."""
    lease = 1.0
    a_cache = RedisCatalogCache(redis_url, lease=lease)
    b_cache = RedisCatalogCache(redis_url, lease=lease)
    admin = redis.Redis.from_url(redis_url)
    with cached_pair(database_url, media_dir, a_cache, b_cache) as (a, b, truth):
        p = a.catalog.create(NewProduct(name="tea", price=Decimal("1.00"), stock_quantity=5))
        assert timed(partial(a.catalog.update, p.id, ProductChanges(name="tea 1"))) < lease / 2
        # B's acknowledgements are the only bare PUBLISHes (writers publish from a script).
        killed = [c["id"] for c in admin.client_list() if c["cmd"] == "publish"]
        assert killed
        for client_id in killed:
            admin.client_kill_filter(_id=client_id)
        waits = [
            timed(partial(a.catalog.update, p.id, ProductChanges(name=f"tea {n}")))
            for n in range(2, 6)
        ]
        assert waits[-1] < lease / 2, waits
        same(b, truth, p.id)
        assert any(c["cmd"] == "publish" for c in admin.client_list())  # a new connection
    admin.close()


@pytest.fixture
def listener(redis_url: str) -> Iterator[tuple[str, PubSub]]:
    """A key prefix of the test's own, and a subscriber to its invalidations that never
    acknowledges: a writer waits out its lease for every invalidation."""
    prefix = f"mc-test-{uuid.uuid4().hex[:12]}:"
    client = redis.Redis.from_url(redis_url)
    pubsub = PubSub(client.connection_pool)
    pubsub.subscribe(prefix + "inv")
    assert pubsub.get_message(timeout=5) is not None  # the subscription's confirmation
    yield prefix, pubsub
    pubsub.close()
    client.close()


def heard(pubsub: PubSub, until: Callable[[list[set[int]]], bool]) -> list[set[int]]:
    """The products of each invalidation heard, until ``until`` says so (or 10 s)."""
    messages: list[set[int]] = []
    deadline = time.monotonic() + 10
    while not until(messages) and time.monotonic() < deadline:
        message = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
        if message is not None:
            ids = message["data"].decode().split(" ")[4]
            messages.append({int(i) for i in ids.split(",")})
    return messages


def write_together(cache: RedisCatalogCache, writers: int) -> list[float]:
    """``writers`` threads tell ``cache`` of a change to products 1, 2, ... at once; how
    long each call took."""
    barrier = threading.Barrier(writers)
    took = [0.0] * writers

    def write(n: int) -> None:
        barrier.wait()
        took[n] = timed(lambda: cache.changed(CatalogChange.of([n + 1], stock_taken=True)))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return took


def covers(wanted: set[int]) -> Callable[[list[set[int]]], bool]:
    return lambda messages: set().union(*messages) >= wanted


def test_writes_that_meet_go_out_as_one_invalidation(
    redis_url: str, listener: tuple[str, PubSub]
) -> None:
    """Eight writers at once: the first publishes alone and waits out its lease (the
    listener never acknowledges), the seven others meanwhile join the next invalidation,
    sent once the first returned. Each returns only after a message holding its change has
    been out for the lease."""
    prefix, pubsub = listener
    lease = 1.0
    cache = RedisCatalogCache(redis_url, lease=lease, prefix=prefix)
    try:
        wait_in_sync(cache)
        took = write_together(cache, 8)
        messages = heard(pubsub, covers(set(range(1, 9))))
    finally:
        cache.close()
    assert sorted(map(len, messages)) == [1, 7]
    assert set().union(*messages) == set(range(1, 9))
    first, *joined = sorted(took)
    assert first >= 0.95 * lease
    assert all(t >= 1.9 * lease for t in joined)  # the first's lease, then their own


def test_writes_that_meet_while_redis_stalls_are_all_sent_once_it_answers(
    redis_url: str, listener: tuple[str, PubSub]
) -> None:
    """A group's invalidation that Redis misses is kept for every writer in it, and sent
    as soon as Redis answers again: no write's invalidation is lost."""
    prefix, pubsub = listener
    target = urlsplit(redis_url)
    with Proxy(target.hostname or "127.0.0.1", target.port or 6379) as proxy:
        cache = RedisCatalogCache(through(proxy, redis_url), prefix=prefix)
        try:
            wait_in_sync(cache)
            proxy.stall()
            assert max(write_together(cache, 8)) < 1  # a few timeouts, no more
            assert cache._pending is not None
            assert cache._pending.products == set(range(1, 9))
            proxy.forward()
            messages = heard(pubsub, covers(set(range(1, 9))))
        finally:
            cache.close()
    assert set().union(*messages) >= set(range(1, 9))


def test_an_instance_whose_subscription_stalls_stops_serving_its_memory(
    database_url: str, redis_url: str, media_dir: Path
) -> None:
    """B's connection to Redis stalls: PUBLISH still counts B, which cannot acknowledge;
    A waits out B's lease, and B, without PONGs, serves nothing from its memory."""
    target = urlsplit(redis_url)
    with Proxy(target.hostname or "127.0.0.1", target.port or 6379) as proxy:
        a_cache = RedisCatalogCache(redis_url)
        b_cache = RedisCatalogCache(through(proxy, redis_url))
        with cached_pair(database_url, media_dir, a_cache, b_cache) as (a, b, truth):
            p = a.catalog.create(NewProduct(name="tea", price=Decimal("1.00"), stock_quantity=5))
            same(b, truth, p.id)
            same(b, truth, p.id)
            proxy.stall()
            expiries = a_cache.stats().lease_expiries
            waited = timed(lambda: a.catalog.update(p.id, ProductChanges(price=Decimal("2.00"))))
            assert waited >= a_cache.lease  # no acknowledgement from B: the lease ran out
            assert a_cache.stats().lease_expiries == expiries + 1
            same(b, truth, p.id)
            assert not b_cache.in_sync
            proxy.forward()
            wait_in_sync(b_cache)
            same(b, truth, p.id)


def test_a_writer_counts_its_invalidations_and_how_long_they_waited(
    database_url: str, redis_url: str, media_dir: Path
) -> None:
    """What "at once" costs the writes shows in the stats (and so on /metrics)."""
    a_cache, b_cache = RedisCatalogCache(redis_url), RedisCatalogCache(redis_url)
    with cached_pair(database_url, media_dir, a_cache, b_cache) as (a, b, truth):
        before = a_cache.stats()
        p = a.catalog.create(NewProduct(name="tea", price=Decimal("1.00"), stock_quantity=5))
        waited = timed(lambda: a.catalog.update(p.id, ProductChanges(price=Decimal("2.00"))))
        after = a_cache.stats()
        assert after.invalidations == before.invalidations + 2
        spent = after.invalidation_wait_seconds - before.invalidation_wait_seconds
        assert 0 < spent < waited + a_cache.lease
        assert after.lease_expiries == before.lease_expiries  # both acknowledged in time
        assert b_cache.stats().invalidations == 0  # B only heard them
        same(b, truth, p.id)


def test_an_entry_that_is_not_ours_is_a_miss_not_an_error(
    sqlite_url: str, redis_url: str, media_dir: Path
) -> None:
    import redis

    cache = RedisCatalogCache(redis_url)
    with open_shop(sqlite_url, media_dir, cache) as shop, open_shop(sqlite_url, media_dir) as truth:
        p = shop.catalog.create(NewProduct(name="tea", price=Decimal("1.00"), stock_quantity=5))
        same(shop, truth, p.id)
        client = redis.Redis.from_url(redis_url)
        keys = client.keys("minicommerce:catalog:p:*") + client.keys("minicommerce:catalog:l:*")
        assert keys
        for key in keys:
            client.set(key, b"not json")
        client.close()
        cache.local.clear()
        same(shop, truth, p.id)
        assert cache.stats().errors >= 2


def test_a_cached_page_missing_a_product_loads_only_that_product(
    database_url: str, redis_url: str, media_dir: Path
) -> None:
    import redis

    cache = RedisCatalogCache(redis_url)
    with (
        open_shop(database_url, media_dir, cache) as shop,
        open_shop(database_url, media_dir) as truth,
    ):
        made = [
            shop.catalog.create(NewProduct(name=f"p{n}", price=Decimal("1.00"), stock_quantity=5))
            for n in range(3)
        ]
        same(shop, truth)
        client = redis.Redis.from_url(redis_url)
        (key,) = client.keys(f"minicommerce:catalog:p:{made[1].id}:*")
        client.delete(key)
        cache.local.clear()
        before = cache.stats()
        assert shop.catalog.list(ProductQuery()) == truth.catalog.list(ProductQuery())
        assert cache.stats().redis_hits == before.redis_hits + 1  # the page, not reloaded
        assert client.exists(key)  # the product was filed again, under the version read
        client.close()
