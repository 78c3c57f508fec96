"""The catalog cache's version logic, on the in-process implementation (no Redis)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from minicommerce import NewProduct, ProductChanges, ProductQuery, Shop
from minicommerce.catalog.cache import (
    CatalogChange,
    LoadedPage,
    MemoryCatalogCache,
    NoCatalogCache,
    open_catalog_cache,
)
from minicommerce.catalog.models import Product
from minicommerce.orders.models import OrderLineInput, PlaceOrder, ShippingAddress
from tests.conftest import FAST_ARGON2, SECRET
from tests.unit.fakes import MemoryStore

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ADDRESS = ShippingAddress(
    full_name="A B", line1="1 Road", city="Town", postal_code="1000", country="DE"
)


def product(product_id: int, stock: int = 5, price: str = "1.00") -> Product:
    return Product(
        product_id, None, f"p{product_id}", "", Decimal(price), "USD", stock,
        NOW, NOW, 1, stock > 0,
    )  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Loader:
    """Counts database loads; answers what ``rows`` holds now."""

    def __init__(self, *rows: Product) -> None:
        self.rows = {row.id: row for row in rows}
        self.loads = 0

    def one(self, product_id: int) -> Product | None:
        self.loads += 1
        return self.rows.get(product_id)

    def page(self, query: ProductQuery) -> LoadedPage:
        self.loads += 1
        rows = [
            p
            for p in sorted(self.rows.values(), key=lambda p: -p.id)
            if query.in_stock is None or p.in_stock is query.in_stock
        ]
        items = rows[: query.limit]
        lookahead = rows[query.limit] if len(rows) > query.limit else None
        return LoadedPage(items, lookahead, "next" if lookahead else None)


def test_a_product_is_loaded_once_then_served_from_memory_as_a_copy() -> None:
    cache, db = MemoryCatalogCache(60), Loader(product(1))
    first = cache.product(1, db.one)
    assert first is not None
    first.name = "changed by the caller"
    again = cache.product(1, db.one)
    assert again is not None
    assert again.name == "p1"
    assert db.loads == 1
    assert cache.stats().memory_hits == 1
    assert cache.stats().misses == 1


def test_a_change_to_a_product_is_seen_by_the_next_read() -> None:
    cache, db = MemoryCatalogCache(60), Loader(product(1))
    cache.product(1, db.one)
    db.rows[1] = product(1, price="2.00")
    cache.changed(CatalogChange.of([1]))
    found = cache.product(1, db.one)
    assert found is not None
    assert found.price == Decimal("2.00")


def test_a_load_that_raced_a_write_is_served_but_not_kept() -> None:
    cache, db = MemoryCatalogCache(60), Loader(product(1))

    def racing(product_id: int) -> Product | None:
        old = db.one(product_id)
        db.rows[1] = product(1, price="9.00")  # a write commits while we read...
        cache.changed(CatalogChange.of([1]))  # ...and says so before we file the old row
        return old

    assert cache.product(1, racing) is not None
    found = cache.product(1, db.one)
    assert found is not None
    assert found.price == Decimal("9.00")


def test_a_page_that_raced_a_write_is_not_kept() -> None:
    cache, db = MemoryCatalogCache(60), Loader(product(1), product(2))

    def racing(query: ProductQuery) -> LoadedPage:
        old = db.page(query)
        db.rows[3] = product(3)
        cache.changed(CatalogChange.of([3], lists=True))
        return old

    cache.page(ProductQuery(), racing)
    assert [p.id for p in cache.page(ProductQuery(), db.page).items] == [3, 2, 1]


def test_pages_are_rendered_from_the_products_so_a_stock_change_needs_no_list_change() -> None:
    cache, db = MemoryCatalogCache(60), Loader(product(1), product(2))
    cache.page(ProductQuery(), db.page)
    db.rows[2] = product(2, stock=4)
    cache.changed(CatalogChange.of([2]))
    loads = db.loads
    page = cache.page(ProductQuery(), db.page)
    assert [p.stock_quantity for p in page.items] == [4, 5]
    assert db.loads == loads + 1  # the page reloaded once, for its missing product
    cache.page(ProductQuery(), db.page)
    assert db.loads == loads + 1


def test_a_list_change_drops_every_page() -> None:
    cache, db = MemoryCatalogCache(60), Loader(product(1))
    cache.page(ProductQuery(), db.page)
    db.rows[2] = product(2)
    cache.changed(CatalogChange.of([2], lists=True))
    assert [p.id for p in cache.page(ProductQuery(), db.page).items] == [2, 1]


def test_an_in_stock_page_showing_a_sold_out_product_is_a_miss() -> None:
    cache, db = MemoryCatalogCache(60), Loader(product(1), product(2), product(3))
    query = ProductQuery(in_stock=True, limit=1)
    page = cache.page(query, db.page)
    assert [p.id for p in page.items] == [3]
    assert page.next_cursor == "next"
    # The product after the page sells out: the page is the same, but it is the last now.
    db.rows[2] = product(2, stock=0)
    db.rows[1] = product(1, stock=0)
    cache.changed(CatalogChange.of([1, 2], stock_taken=True))
    page = cache.page(query, db.page)
    assert [p.id for p in page.items] == [3]
    assert page.next_cursor is None


def test_an_out_of_stock_page_follows_every_order() -> None:
    cache, db = MemoryCatalogCache(60), Loader(product(1), product(2))
    query = ProductQuery(in_stock=False)
    assert cache.page(query, db.page).items == []
    cache.page(ProductQuery(), db.page)
    db.rows[2] = product(2, stock=0)
    cache.changed(CatalogChange.of([2], stock_taken=True))
    assert [p.id for p in cache.page(query, db.page).items] == [2]


def test_entries_expire_after_the_ttl() -> None:
    clock = Clock()
    cache, db = MemoryCatalogCache(10, clock=clock), Loader(product(1))
    cache.product(1, db.one)
    cache.page(ProductQuery(), db.page)
    clock.now = 9.9
    cache.product(1, db.one)
    cache.page(ProductQuery(), db.page)
    assert db.loads == 2
    clock.now = 10.0
    cache.product(1, db.one)
    cache.page(ProductQuery(), db.page)
    assert db.loads == 4


def test_memory_is_bounded_least_recently_used_first() -> None:
    cache = MemoryCatalogCache(60, max_products=2, max_pages=1)
    db = Loader(product(1), product(2), product(3))
    cache.product(1, db.one)
    cache.product(2, db.one)
    cache.product(1, db.one)  # 1 is now the most recently used
    cache.product(3, db.one)  # 2 goes
    loads = db.loads
    cache.product(1, db.one)
    assert db.loads == loads
    cache.product(2, db.one)
    assert db.loads == loads + 1
    cache.page(ProductQuery(limit=1), db.page)
    cache.page(ProductQuery(limit=2), db.page)
    assert len(cache.local) <= 3


def test_not_found_is_not_cached() -> None:
    cache, db = MemoryCatalogCache(60), Loader()
    assert cache.product(1, db.one) is None
    db.rows[1] = product(1)
    assert cache.product(1, db.one) is not None


def test_settings_choose_the_cache() -> None:
    assert isinstance(open_catalog_cache(None, 0), NoCatalogCache)
    assert isinstance(open_catalog_cache("redis://127.0.0.1:1/0", 0), NoCatalogCache)
    assert isinstance(open_catalog_cache(None, 300), MemoryCatalogCache)


# --- the services tell the cache about every write ------------------------------------


@pytest.fixture
def cached() -> Iterator[tuple[Shop, Shop]]:
    """Two shops on one store: one cached in process, one that reads the store."""
    store = MemoryStore()
    with (
        Shop(uow=store, secret_key=SECRET, argon2=FAST_ARGON2,
             catalog_cache=MemoryCatalogCache(300)) as shop,
        Shop(uow=store, secret_key=SECRET, argon2=FAST_ARGON2) as truth,
    ):  # fmt: skip
        yield shop, truth


def same(shop: Shop, truth: Shop, product_id: int, *queries: ProductQuery) -> None:
    assert shop.catalog.get(product_id) == truth.catalog.get(product_id)
    for query in queries or (ProductQuery(),):
        assert shop.catalog.list(query) == truth.catalog.list(query)


def test_every_write_of_the_shop_reaches_its_cache(cached: tuple[Shop, Shop]) -> None:
    from minicommerce import Registration

    shop, truth = cached
    queries = (ProductQuery(), ProductQuery(in_stock=True), ProductQuery(in_stock=False))
    p = shop.catalog.create(NewProduct(name="a", price=Decimal("1.00"), stock_quantity=2))
    same(shop, truth, p.id, *queries)
    shop.catalog.update(p.id, ProductChanges(price=Decimal("3.00")))
    same(shop, truth, p.id, *queries)
    user = shop.accounts.register(Registration(email="c@example.com", password="x" * 8))
    order, _ = shop.orders.place(
        user.id,
        PlaceOrder(shipping_address=ADDRESS, items=[OrderLineInput(product_id=p.id, quantity=1)]),
    )
    same(shop, truth, p.id, *queries)
    shop.orders.place(
        user.id,
        PlaceOrder(shipping_address=ADDRESS, items=[OrderLineInput(product_id=p.id, quantity=1)]),
    )
    same(shop, truth, p.id, *queries)  # sold out
    shop.orders.cancel(user.id, order.id)
    same(shop, truth, p.id, *queries)  # back in stock
    shop.catalog.update(p.id, ProductChanges(stock_quantity=0))
    same(shop, truth, p.id, *queries)
    shop.catalog.delete(p.id)
    assert shop.catalog.list(ProductQuery()).items == []
    with pytest.raises(Exception, match="not found"):
        shop.catalog.get(p.id)


def test_peeking_serves_only_what_the_process_holds() -> None:
    shop_cache = MemoryCatalogCache(60)
    with Shop(uow=MemoryStore(), secret_key=SECRET, argon2=FAST_ARGON2,
              catalog_cache=shop_cache) as shop:  # fmt: skip
        p = shop.catalog.create(NewProduct(name="a", price=Decimal("1.00"), stock_quantity=2))
        assert shop.catalog.cached(p.id) is None
        assert shop.catalog.cached_list(ProductQuery()) is None
        assert shop.catalog.cached_list(ProductQuery(cursor="not a cursor")) is None
        shop.catalog.get(p.id)
        shop.catalog.list(ProductQuery())
        assert shop.catalog.cached(p.id) == shop.catalog.get(p.id)
        assert shop.catalog.cached_list(ProductQuery()) == shop.catalog.list(ProductQuery())
        assert shop.catalog.cached(0) is None
        shop.catalog.update(p.id, ProductChanges(name="b"))
        assert shop.catalog.cached(p.id) is None
        assert shop.catalog.cached_list(ProductQuery()) is None
    assert NoCatalogCache().peek_product(1) is None


def test_a_fingerprint_holds_exactly_while_the_entries_it_names_are_held() -> None:
    clock = Clock()
    cache, db = MemoryCatalogCache(10, clock=clock), Loader(product(1), product(2), product(3))
    in_stock = ProductQuery(in_stock=True)
    assert cache.fingerprint_product(1, served=False) is None
    assert cache.fingerprint_page(in_stock, served=False) is None
    cache.product(1, db.one)
    cache.page(in_stock, db.page)
    detail = cache.fingerprint_product(1, served=False)
    page = cache.fingerprint_page(in_stock, served=False)
    assert detail is not None
    assert page is not None
    assert detail == cache.fingerprint_product(1, served=False)
    assert page == cache.fingerprint_page(in_stock, served=False)
    assert page != detail
    assert hash(page) == hash(cache.fingerprint_page(in_stock, served=False))
    hits = cache.stats().memory_hits
    cache.fingerprint_page(in_stock, served=True)
    assert cache.stats().memory_hits == hits + 1  # served: counted as a hit

    # A change to one product of the page: both differ, even once filed again unchanged.
    cache.changed(CatalogChange.of([1]))
    assert cache.fingerprint_product(1, served=False) is None
    assert cache.fingerprint_page(in_stock, served=False) is None
    cache.product(1, db.one)
    assert cache.fingerprint_product(1, served=False) not in (None, detail)
    assert cache.fingerprint_page(in_stock, served=False) not in (None, page)

    # Selling out a product of an in-stock page: it cannot be rendered, so no fingerprint.
    page = cache.fingerprint_page(in_stock, served=False)
    db.rows[2] = product(2, stock=0)
    cache.changed(CatalogChange.of([2], stock_taken=True))
    cache.product(2, db.one)
    assert cache.fingerprint_page(in_stock, served=False) is None

    # Expiry ends it too.
    clock.now = 10.0
    assert cache.fingerprint_product(1, served=False) is None


def test_a_fingerprint_taken_before_a_write_never_matches_after_it() -> None:
    cache, db = MemoryCatalogCache(60), Loader(product(1))
    cache.product(1, db.one)
    before = cache.fingerprint_product(1, served=False)
    db.rows[1] = product(1, price="2.00")
    cache.changed(CatalogChange.of([1]))
    cache.product(1, db.one)
    assert cache.fingerprint_product(1, served=False) != before
    assert NoCatalogCache().fingerprint_product(1, served=True) is None
    assert NoCatalogCache().fingerprint_page(ProductQuery(), served=True) is None
