"""Read replicas, against a real streaming replica: a private primary cluster (initdb) and a
replica made from it with ``pg_basebackup -R`` (``tests/pgservers.py``).

Routing is proven by pausing the replica's replay (``pg_wal_replay_pause()``): a write on
the primary is then invisible on the replica, so a read that does not see it ran on the
replica, and one that does ran on the primary.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from minicommerce import DirectoryMediaStorage, NewProduct, NotFound, Product, Registration, Shop
from minicommerce.orders.models import PlaceOrder
from minicommerce.storage.engine import open_database
from minicommerce.storage.positions import LocalPositions, RedisPositions
from minicommerce.storage.replicas import UNREACHABLE, ReplicaSet
from tests.conftest import (
    ADDRESS,
    FAST_ARGON2,
    PRIMARY_PORT,
    REPLICA_PORT,
    SECRET,
    _truncate_postgres,
)
from tests.images import photo
from tests.pgservers import PgBouncer, ReplicatedCluster, caught_up, replay_paused
from tests.proxy import Proxy

PRIMARY = f"postgresql://postgres@127.0.0.1:{PRIMARY_PORT}/shop"


@pytest.fixture
def primary_url(replicated_cluster: ReplicatedCluster) -> str:
    url = replicated_cluster.primary.url("shop")
    _truncate_postgres(url)
    return url


@pytest.fixture
def replica_url(replicated_cluster: ReplicatedCluster) -> str:
    return replicated_cluster.replica.url("shop")


@pytest.fixture
def open_shop(primary_url: str, replica_url: str) -> Iterator[Callable[..., Shop]]:
    shops: list[Shop] = []

    def make(**options: Any) -> Shop:
        options.setdefault("replica_max_lag", 60.0)
        options.setdefault("replica_probe_interval", 0.05)
        shop = Shop.open(
            primary_url,
            replica_urls=[replica_url],
            secret_key=SECRET,
            argon2=FAST_ARGON2,
            migrate=False,
            **options,
        )
        shops.append(shop)
        return shop

    yield make
    for shop in shops:
        shop.close()


@pytest.fixture
def shop(open_shop: Callable[..., Shop]) -> Shop:
    return open_shop()


def replicas(shop: Shop) -> ReplicaSet:
    assert shop.database.replicas is not None
    return shop.database.replicas


def customer(shop: Shop, staff: bool = False) -> int:
    email = f"u{uuid.uuid4().hex[:12]}@example.com"
    return shop.accounts.register(Registration(email=email, password="x" * 8), is_staff=staff).id


def mug(shop: Shop, stock: int = 10, user_id: int | None = None) -> Product:
    new = NewProduct(name="Mug", price="9.50", stock_quantity=stock)
    return shop.catalog.create(new, user_id=user_id)


def order_of(product_id: int, quantity: int = 1) -> PlaceOrder:
    return PlaceOrder.parse(
        {"shipping_address": ADDRESS, "items": [{"product_id": product_id, "quantity": quantity}]}
    )


def test_catalog_reads_go_to_the_replica_and_own_writes_are_read_on_the_primary(
    shop: Shop, replica_url: str
) -> None:
    staff, buyer = customer(shop, staff=True), customer(shop)
    old = mug(shop, stock=10)
    caught_up(shop, PRIMARY, replica_url)
    with replay_paused(replica_url):
        new = mug(shop, user_id=staff)  # staff add a product...
        order, _ = shop.orders.place(buyer, order_of(old.id, 3))  # ...and a buyer buys
        replicas(shop).probe()
        # Anonymous catalog reads run on the replica: neither write is there.
        with pytest.raises(NotFound):
            shop.catalog.get(new.id)
        assert shop.catalog.get(old.id).stock_quantity == 10
        assert [p.id for p in shop.catalog.list().items] == [old.id]
        # The staff member sees their new product, the buyer the stock they took and
        # their order: those reads ran on the primary.
        assert shop.catalog.get(new.id, user_id=staff).id == new.id
        assert shop.catalog.get(old.id, user_id=buyer).stock_quantity == 7
        assert shop.orders.get(buyer, order.id) == order
        assert [o.id for o in shop.orders.list(buyer).items] == [order.id]
        # Another customer's reads, not waiting for anybody's writes, use the replica.
        assert shop.catalog.get(old.id, user_id=customer(shop) + 1000).stock_quantity == 10
    caught_up(shop, PRIMARY, replica_url)
    assert shop.catalog.get(new.id).id == new.id  # replayed: on the replica now


def test_a_replica_lagging_past_the_bound_is_skipped(
    open_shop: Callable[..., Shop], replica_url: str
) -> None:
    shop = open_shop(replica_max_lag=2)  # room for a busy machine before the first read
    caught_up(shop, PRIMARY, replica_url)
    with replay_paused(replica_url):
        new = mug(shop)
        replicas(shop).probe()
        with pytest.raises(NotFound):  # just written: the replica is still within the bound
            shop.catalog.get(new.id)
        time.sleep(2.3)
        replicas(shop).probe()
        assert replicas(shop).state(replicas(shop).engines[0]).lag > 2
        assert replicas(shop).choose() is None
        assert shop.catalog.get(new.id).id == new.id  # from the primary
    caught_up(shop, PRIMARY, replica_url)
    assert replicas(shop).choose() is not None  # caught up: used again


def test_a_stopped_replica_is_skipped_and_used_again_after_restart(
    open_shop: Callable[..., Shop], replicated_cluster: ReplicatedCluster, replica_url: str
) -> None:
    shop = open_shop(replica_probe_interval=60)  # no probe in between: requests notice
    product = mug(shop)
    caught_up(shop, PRIMARY, replica_url)
    assert shop.catalog.get(product.id).id == product.id  # a pooled replica connection
    replicated_cluster.replica.stop("fast")
    try:
        # No probe yet: the pooled connection is dead and the replica refuses new ones;
        # the read answers from the primary, without an error.
        for _ in range(5):
            assert shop.catalog.get(product.id).id == product.id
            assert [p.id for p in shop.catalog.list().items] == [product.id]
        assert replicas(shop).choose() is None
    finally:
        replicated_cluster.replica.start()
    caught_up(shop, PRIMARY, replica_url)
    engine = replicas(shop).engines[0]
    assert replicas(shop).state(engine).up
    with replay_paused(replica_url):
        later = mug(shop)
        replicas(shop).probe()
        with pytest.raises(NotFound):  # the replica serves reads again, without a restart
            shop.catalog.get(later.id)


def test_the_prober_notices_a_stopped_replica_by_itself(
    shop: Shop, replicated_cluster: ReplicatedCluster, replica_url: str
) -> None:
    caught_up(shop, PRIMARY, replica_url)
    shop.catalog.count()  # starts the background prober
    engine = replicas(shop).engines[0]
    replicated_cluster.replica.stop("immediate")
    try:
        deadline = time.monotonic() + 10
        while replicas(shop).state(engine).up:
            assert time.monotonic() < deadline, "the prober did not notice"
            time.sleep(0.05)
    finally:
        replicated_cluster.replica.start()
    deadline = time.monotonic() + 20
    while not replicas(shop).state(engine).up:
        assert time.monotonic() < deadline, "the prober did not see it come back"
        time.sleep(0.05)


def test_a_script_adds_an_image_to_a_product_it_just_made(
    open_shop: Callable[..., Shop], replica_url: str, tmp_path: Path
) -> None:
    shop = open_shop(media=DirectoryMediaStorage(tmp_path))
    caught_up(shop, PRIMARY, replica_url)
    with replay_paused(replica_url):
        new = mug(shop)  # no user: a script
        image = shop.catalog.add_image(new.id, photo(400, 300), "A mug")
        assert image.width == 400


def test_a_replica_that_stops_answering_is_given_up_on_in_seconds(
    primary_url: str, replica_url: str
) -> None:
    with Proxy("127.0.0.1", REPLICA_PORT) as proxy:
        through = f"postgresql://postgres@{proxy.url_netloc}/shop"
        with Shop.open(
            primary_url, replica_urls=[through], replica_probe_interval=60, migrate=False,
            secret_key=SECRET,
        ) as shop:  # fmt: skip
            product = mug(shop)
            caught_up(shop, PRIMARY, replica_url)
            assert shop.catalog.get(product.id).id == product.id  # on the replica
            proxy.stall()  # connections open, nothing answers: no reset, no error
            started = time.monotonic()
            replicas(shop).probe()
            assert time.monotonic() - started < 4  # the probe's own deadline: 2 s
            assert not replicas(shop).state(replicas(shop).engines[0]).up
            started = time.monotonic()
            assert shop.catalog.get(product.id).id == product.id  # from the primary
            assert time.monotonic() - started < 1
            proxy.forward()
            deadline = time.monotonic() + 10
            while not replicas(shop).state(replicas(shop).engines[0]).up:
                assert time.monotonic() < deadline, "the replica was not used again"
                time.sleep(0.1)
                replicas(shop).probe()


def test_replicas_behind_pgbouncer(primary_url: str, replica_url: str) -> None:
    """The primary and the replica each behind a pgbouncer in transaction mode."""
    to_primary = PgBouncer(6444, PRIMARY_PORT)
    to_replica = PgBouncer(6445, REPLICA_PORT)
    try:
        with Shop.open(
            to_primary.url("shop"), pgbouncer=True, replica_urls=[to_replica.url("shop")],
            replica_max_lag=60, migrate=False, secret_key=SECRET, argon2=FAST_ARGON2,
        ) as shop:  # fmt: skip
            buyer = customer(shop)
            product = mug(shop)
            caught_up(shop, PRIMARY, replica_url)
            for _ in range(10):  # past psycopg's prepare threshold, on both
                assert shop.catalog.get(product.id).id == product.id
            with replay_paused(replica_url):
                order, _ = shop.orders.place(buyer, order_of(product.id))
                replicas(shop).probe()
                assert shop.orders.get(buyer, order.id) == order
                assert shop.catalog.get(product.id).stock_quantity == 10  # the replica's
                assert shop.catalog.get(product.id, user_id=buyer).stock_quantity == 9
    finally:
        to_replica.stop()
        to_primary.stop()


def test_an_order_placed_then_read_by_its_owner_is_always_found(
    shop: Shop, replica_url: str
) -> None:
    buyer = customer(shop)
    product = mug(shop, stock=1000)
    caught_up(shop, PRIMARY, replica_url)
    placed = []
    for _ in range(50):  # the replica streams: each read races the replay
        order, _ = shop.orders.place(buyer, order_of(product.id))
        assert shop.orders.get(buyer, order.id) == order
        assert shop.orders.list(buyer, limit=1).items == [order]
        placed.append(order.id)
    assert [o.id for o in shop.orders.list(buyer, limit=100).items] == placed[::-1]


def test_an_order_placed_on_the_event_loop_is_found_by_its_owner_too(
    shop: Shop, replica_url: str
) -> None:
    """Placement on the loop (``place_async``) records the write's position as the unit of
    work does, so the owner's reads that may lag still see the order at once."""
    from tests.integration.test_orders_async import on_loop

    buyer = customer(shop)
    product = mug(shop, stock=1000)
    shop.orders.place(buyer, order_of(product.id))  # warms placement up
    caught_up(shop, PRIMARY, replica_url)

    async def fifty() -> None:
        for _ in range(50):  # the replica streams: each read races the replay
            order, _ = await shop.orders.place_async(buyer, order_of(product.id))
            assert shop.orders.get(buyer, order.id) == order
            assert shop.orders.list(buyer, limit=1).items == [order]

    _, calls = on_loop(fifty)
    assert calls == []  # every one of them on the loop


def test_read_your_writes_holds_across_instances_through_redis(
    open_shop: Callable[..., Shop], replica_url: str, redis_url: str
) -> None:
    def shared() -> RedisPositions:
        return RedisPositions.from_url(redis_url, ttl=61)

    first, second = open_shop(positions=shared()), open_shop(positions=shared())
    alone = open_shop(positions=LocalPositions(61))
    buyer = customer(first)
    product = mug(first)
    caught_up(first, PRIMARY, replica_url)
    for shop in (second, alone):
        replicas(shop).probe()
    with replay_paused(replica_url):
        order, _ = first.orders.place(buyer, order_of(product.id))
        for shop in (second, alone):
            replicas(shop).probe()
        assert second.orders.get(buyer, order.id) == order  # another instance: found
        with pytest.raises(NotFound):  # without the shared positions it would not be
            alone.orders.get(buyer, order.id)


def test_while_redis_fails_a_users_reads_go_to_the_primary() -> None:
    positions = RedisPositions.from_url("redis://127.0.0.1:6449/0", ttl=6)  # nothing there
    started = time.monotonic()
    positions.remember(1, 123)
    assert positions.position(1) == UNREACHABLE
    assert positions.position(2) == UNREACHABLE  # paused: not asked again
    assert time.monotonic() - started < 1
    positions.close()


def test_replicas_need_postgresql(tmp_path: Any) -> None:
    from minicommerce.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        open_database(f"sqlite:///{tmp_path}/x.db", replica_urls=["postgresql://h/db"])


def test_settings_switch_the_replicas_on(
    primary_url: str, replica_url: str, redis_url: str
) -> None:
    from minicommerce import Settings

    settings = Settings(
        database_url=primary_url,
        database_replica_urls=replica_url,
        replica_max_lag=30,
        redis_url=redis_url,
        secret_key=SECRET,
        catalog_cache_ttl=0,  # with the cache on, catalog reads are the primary's (below)
    )
    with Shop.from_settings(settings, migrate=False) as shop:
        assert replicas(shop).max_lag == 30
        caught_up(shop, PRIMARY, replica_url)
        buyer = customer(shop)
        product = mug(shop)
        caught_up(shop, PRIMARY, replica_url)
        with replay_paused(replica_url):
            order, _ = shop.orders.place(buyer, order_of(product.id))
            replicas(shop).probe()
            assert shop.orders.get(buyer, order.id) == order
            assert shop.catalog.get(product.id).stock_quantity == 10  # the replica's
        position = RedisPositions.from_url(redis_url, ttl=31)
        assert position.position(buyer) > 0  # kept in Redis, for every instance
        position.close()


def test_the_catalog_cache_is_filled_from_the_primary(
    primary_url: str, replica_url: str, redis_url: str
) -> None:
    """A product read from a lagging replica and filed under the version of the write it
    has not replayed yet would be served as current until it expired: what the cache keeps
    is read on the primary."""
    from minicommerce import Settings

    settings = Settings(
        database_url=primary_url,
        database_replica_urls=replica_url,
        replica_max_lag=30,
        redis_url=redis_url,
        secret_key=SECRET,
    )
    with Shop.from_settings(settings, migrate=False) as shop:
        buyer = customer(shop)
        product = mug(shop)
        caught_up(shop, PRIMARY, replica_url)
        assert shop.catalog.get(product.id).stock_quantity == 10
        with replay_paused(replica_url):
            shop.orders.place(buyer, order_of(product.id))
            replicas(shop).probe()
            assert shop.catalog.get(product.id).stock_quantity == 9
            page = shop.catalog.list()
            assert [p.stock_quantity for p in page.items if p.id == product.id] == [9]


def test_redis_keeps_the_later_position_and_forgets_it_after_the_ttl(redis_url: str) -> None:
    one = RedisPositions.from_url(redis_url, ttl=0.3)
    other = RedisPositions.from_url(redis_url, ttl=0.3)
    one.remember(7, 500)
    other.remember(7, 300)  # an earlier write, recorded later by another instance
    assert (one.position(7), other.position(7)) == (500, 500)
    assert one.position(8) == 0
    time.sleep(0.4)
    assert one.position(7) == 0  # past the lag bound: any replica in use has it
    one.close()
    other.close()


def test_local_positions_keep_the_later_one_and_expire() -> None:
    positions = LocalPositions(ttl=0.2, max_size=2)
    positions.remember(1, 500)
    positions.remember(1, 300)
    assert positions.position(1) == 500
    positions.remember(2, 1)
    positions.remember(3, 1)  # bounded: the oldest user goes
    assert (positions.position(1), positions.position(3)) == (0, 1)
    time.sleep(0.3)
    assert positions.position(3) == 0
