"""The catalog cache: product detail and product list pages, invalidated by versions.

Three implementations of :class:`CatalogCache`:

- :class:`NoCatalogCache`: every read goes to the database (``catalog_cache_ttl=0``).
- :class:`MemoryCatalogCache`: one process (no Redis): a bounded LRU with a TTL.
- :class:`RedisCatalogCache` (``minicommerce.catalog.redis_cache``): shared by every
  process and instance through Redis, with the in-process layer in front of it, which is
  used only while this process provably hears every invalidation (see that module).

What is cached, and how a write reaches it (the design is in docs/architecture.md):

- a product under its id and a *product version*, bumped by every write that changes
  what the product shows (an edit, an image change, stock taken by an order or returned
  by a cancel);
- a list page as the ordered ids it holds (and the one after it, which decides whether
  there is a next page) under the normalised query and the *list generation*, bumped by
  every write that can change which products a page holds or their order (create,
  archive, edit, a cancel returning stock). Pages filtered on ``in_stock=false`` also
  carry the *stock generation*, bumped by every order (stock taken can empty a product).
  Pages are rendered from the product entries; a page filtered on ``in_stock=true`` that
  would show (or look ahead to) a product no longer in stock is a miss, so an order that
  sells a product out needs no list invalidation.

Readers take the versions *before* reading the database and file what they read under
them, so a write that commits meanwhile (and bumps after its commit) leaves them filed
under the old version, never under the new one. Writers bump *after* their commit and
before they return (``CatalogService`` and ``OrderService`` call :meth:`changed`).

Products come out as copies (a new ``Product`` with a new ``images`` list): a caller may
change what it gets without changing what the next caller gets.
"""

from __future__ import annotations

import operator
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar

from minicommerce.catalog.models import Product, ProductQuery
from minicommerce.pagination import Page

T = TypeVar("T")

DEFAULT_TTL = 300
"""Seconds an entry lives at most (``MINICOMMERCE_CATALOG_CACHE_TTL``)."""
MAX_PRODUCTS = 20_000
"""Products kept in process at most (least recently used go first)."""
MAX_PAGES = 2_000
"""List pages kept in process at most."""


@dataclass(frozen=True, slots=True)
class CatalogChange:
    """What a committed write changed: ``products`` (their detail, and any page showing
    them), whether ``lists`` can hold other products or another order now, and whether
    stock was taken (``stock_taken``: products may have sold out)."""

    products: frozenset[int] = frozenset()
    lists: bool = False
    stock_taken: bool = False

    @classmethod
    def of(
        cls, products: Iterable[int], *, lists: bool = False, stock_taken: bool = False
    ) -> CatalogChange:
        return cls(frozenset(products), lists, stock_taken)

    def merged(self, other: CatalogChange) -> CatalogChange:
        """Both changes as one."""
        return CatalogChange(
            self.products | other.products,
            self.lists or other.lists,
            self.stock_taken or other.stock_taken,
        )


@dataclass(frozen=True, slots=True)
class LoadedPage:
    """A list page as the database answered it: the products shown, the one after them
    (``lookahead``, ``None`` on the last page) and the cursor of the next page."""

    items: list[Product]
    lookahead: Product | None
    next_cursor: str | None


@dataclass(slots=True)
class CacheStats:
    """Counters since the cache was made: reads answered by the in-process layer
    (``memory_hits``), by Redis (``redis_hits``), by the database (``misses``), and Redis
    calls that failed or timed out (``errors``; the read or write went on without).

    Shared caches (Redis) also count what writes pay for "at once": invalidations
    published and waited for (``invalidations``), the time those waits took in all
    (``invalidation_wait_seconds``), and waits that ran out the lease because some
    process did not acknowledge in time (``lease_expiries``)."""

    memory_hits: int = 0
    redis_hits: int = 0
    misses: int = 0
    errors: int = 0
    invalidations: int = 0
    invalidation_wait_seconds: float = 0.0
    lease_expiries: int = 0


class Fingerprint:
    """What an answer of the in-process layer is made of: its very entries, compared by
    identity. A fingerprint taken later equals this one exactly when the layer still holds
    the same entries (none dropped, changed, expired or filed anew), so whatever was derived
    from the answer (its JSON, say) may be served again. Take the fingerprint *before*
    reading the answer: a write in between then makes the two differ, never the reverse.

    It keeps its entries alive: an identity is never taken over by a later entry.
    """

    __slots__ = ("_parts",)

    def __init__(self, parts: tuple[object, ...]) -> None:
        self._parts = parts

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Fingerprint) or len(other._parts) != len(self._parts):
            return False
        return all(map(operator.is_, self._parts, other._parts))

    def __hash__(self) -> int:
        return hash(tuple(map(id, self._parts)))


LoadProduct = Callable[[int], Product | None]
LoadPage = Callable[[ProductQuery], LoadedPage]


class CatalogCache(Protocol):
    """Reads through the cache and hears about writes. Thread-safe; a failure of the
    cache never fails a read or a write."""

    def product(self, product_id: int, load: LoadProduct) -> Product | None:
        """The product (``None``: not in the catalog), from the cache or ``load``."""
        ...

    def page(
        self, query: ProductQuery, load: LoadPage, load_product: LoadProduct | None = None
    ) -> Page[Product]:
        """The page ``query`` asks for, from the cache or ``load`` (a cached page missing
        a product or two may load just those with ``load_product``)."""
        ...

    def peek_product(self, product_id: int) -> Product | None:
        """The product if this process holds it and may serve it, without any I/O or wait
        (an event loop may call it); ``None``: ask :meth:`product`."""
        ...

    def peek_page(self, query: ProductQuery) -> Page[Product] | None:
        """The page if this process holds it and may serve it, without any I/O or wait;
        ``None``: ask :meth:`page`."""
        ...

    def fingerprint_product(self, product_id: int, *, served: bool) -> Fingerprint | None:
        """What :meth:`peek_product` would answer from, with no copy, no I/O and no wait;
        ``None`` when it would answer ``None``. ``served``: the caller answers from what it
        derived earlier from an equal fingerprint (counted as a memory hit)."""
        ...

    def fingerprint_page(self, query: ProductQuery, *, served: bool) -> Fingerprint | None:
        """What :meth:`peek_page` would answer from (see :meth:`fingerprint_product`)."""
        ...

    def changed(self, change: CatalogChange) -> None:
        """A write committed ``change``: after this returns, no read anywhere serves what
        was there before it (called after the commit, before the write returns)."""
        ...

    def stats(self) -> CacheStats: ...

    def close(self) -> None: ...


class NoCatalogCache:
    """No cache: every read is the database's."""

    def product(self, product_id: int, load: LoadProduct) -> Product | None:
        return load(product_id)

    def page(
        self, query: ProductQuery, load: LoadPage, load_product: LoadProduct | None = None
    ) -> Page[Product]:
        loaded = load(query)
        return Page(items=loaded.items, next_cursor=loaded.next_cursor)

    def peek_product(self, product_id: int) -> Product | None:
        return None

    def peek_page(self, query: ProductQuery) -> Page[Product] | None:
        return None

    def fingerprint_product(self, product_id: int, *, served: bool) -> Fingerprint | None:
        return None

    def fingerprint_page(self, query: ProductQuery, *, served: bool) -> Fingerprint | None:
        return None

    def changed(self, change: CatalogChange) -> None:
        return None

    def stats(self) -> CacheStats:
        return CacheStats()

    def close(self) -> None:
        return None


def copy_product(product: Product) -> Product:
    """A product that shares nothing mutable with ``product`` but its images."""
    return Product(
        product.id,
        product.sku,
        product.name,
        product.description,
        product.price,
        product.currency,
        product.stock_quantity,
        product.created_at,
        product.updated_at,
        product.version,
        product.in_stock,
        list(product.images),
    )


def query_key(query: ProductQuery) -> tuple[Any, ...]:
    """Every input of a list query: two queries with the same key ask for the same page."""
    return (
        query.limit,
        query.cursor,
        query.q,
        query.min_price,
        query.max_price,
        query.in_stock,
        query.sort.value,
    )


@dataclass(slots=True)
class PageEntry:
    """A cached page: the ids shown, then the lookahead's if any, and the next cursor."""

    ids: tuple[int, ...]
    shown: int
    next_cursor: str | None


def page_entry(loaded: LoadedPage) -> PageEntry:
    ids = [p.id for p in loaded.items]
    if loaded.lookahead is not None:
        ids.append(loaded.lookahead.id)
    return PageEntry(tuple(ids), len(loaded.items), loaded.next_cursor)


def render(
    entry: PageEntry, products: Sequence[Product | None], query: ProductQuery
) -> Page[Product] | None:
    """The page from its entry and the current products (``None`` for one not cached);
    ``None`` when it cannot be rendered: a product is missing, or an ``in_stock=true``
    page would show or look ahead to a product sold out since."""
    if not servable(products, query):
        return None
    items = [copy_product(product) for product in products[: entry.shown] if product is not None]
    return Page(items=items, next_cursor=entry.next_cursor)


def servable(products: Sequence[Product | None], query: ProductQuery) -> bool:
    """Whether a cached page can be rendered from these products (see :func:`render`)."""
    if query.in_stock is True:
        return all(product is not None and product.in_stock for product in products)
    return all(product is not None for product in products)


@dataclass(slots=True)
class _Stamp:
    """What a reader saw of the local layer before it loaded from below: an entry may be
    filed only if nothing it depends on changed meanwhile."""

    epoch: int
    mark: int


class LocalLayer:
    """The in-process layer: products by id and pages by (list generation, stock
    generation, query), bounded (LRU) and with a TTL.

    It learns about writes through :meth:`apply` (directly, or from Redis pub/sub), which
    drops the products' entries and moves the local generations on. Loads are filed only if
    their stamp still holds (:meth:`stamp_product`, :meth:`stamp_page`), so a load that
    raced a write is served once and never kept.
    """

    def __init__(
        self,
        ttl: float,
        *,
        max_products: int = MAX_PRODUCTS,
        max_pages: int = MAX_PAGES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self._max_products = max_products
        self._max_pages = max_pages
        self._clock = clock
        self._lock = threading.Lock()
        self._products: OrderedDict[int, tuple[Product, float]] = OrderedDict()
        self._pages: OrderedDict[tuple[Any, ...], tuple[PageEntry, float]] = OrderedDict()
        self._marks: dict[int, int] = {}  # changes heard per product since the last clear
        self._epoch = 0  # bumped by clear(): every stamp taken before fails
        self._heard = 0  # changes heard since the last clear
        self._gen = 0
        self._sgen = 0

    # --- reads ---------------------------------------------------------------------------

    def product(self, product_id: int) -> Product | None:
        now = self._clock()
        with self._lock:
            found = self._products.get(product_id)
            if found is None:
                return None
            if found[1] <= now:
                del self._products[product_id]
                return None
            self._products.move_to_end(product_id)
            return found[0]

    def page_key(self, key: tuple[Any, ...], in_stock: bool | None) -> tuple[Any, ...]:
        return (self._gen, self._sgen if in_stock is False else 0, *key)

    def page(self, query: ProductQuery) -> Page[Product] | None:
        found = self._page_parts(query)
        return None if found is None else render(found[0], found[1], query)

    def page_fingerprint(self, query: ProductQuery) -> Fingerprint | None:
        found = self._page_parts(query)
        if found is None or not servable(found[1], query):
            return None
        return Fingerprint((found[0], *found[1]))

    def product_fingerprint(self, product_id: int) -> Fingerprint | None:
        found = self.product(product_id)
        return None if found is None else Fingerprint((found,))

    def _page_parts(self, query: ProductQuery) -> tuple[PageEntry, list[Product | None]] | None:
        now = self._clock()
        with self._lock:
            key = self.page_key(query_key(query), query.in_stock)
            found = self._pages.get(key)
            if found is None:
                return None
            if found[1] <= now:
                del self._pages[key]
                return None
            self._pages.move_to_end(key)
            entry = found[0]
            return entry, [self._live(product_id, now) for product_id in entry.ids]

    def _live(self, product_id: int, now: float) -> Product | None:
        found = self._products.get(product_id)
        return found[0] if found is not None and found[1] > now else None

    # --- filing loads --------------------------------------------------------------------

    def stamp_product(self, product_id: int) -> _Stamp:
        with self._lock:
            return _Stamp(self._epoch, self._marks.get(product_id, 0))

    def stamp_page(self) -> tuple[_Stamp, int, int]:
        with self._lock:
            return _Stamp(self._epoch, self._heard), self._gen, self._sgen

    def put_product(self, product: Product, stamp: _Stamp) -> None:
        with self._lock:
            if stamp.epoch != self._epoch or stamp.mark != self._marks.get(product.id, 0):
                return
            self._file_product(product, self._clock() + self.ttl)

    def put_page(
        self,
        query: ProductQuery,
        entry: PageEntry,
        products: Sequence[Product],
        stamps: tuple[_Stamp, int, int],
    ) -> None:
        """File a page and its products, loaded after ``stamps`` were taken: the products
        only if no write at all was heard since (their ids were not known before the load),
        the page if its generations still hold."""
        stamp, gen, sgen = stamps
        with self._lock:
            if stamp.epoch != self._epoch:
                return
            expires = self._clock() + self.ttl
            if stamp.mark == self._heard:
                for product in products:
                    self._file_product(product, expires)
            if gen != self._gen or (query.in_stock is False and sgen != self._sgen):
                return
            key = (gen, sgen if query.in_stock is False else 0, *query_key(query))
            self._pages[key] = (entry, expires)
            self._pages.move_to_end(key)
            while len(self._pages) > self._max_pages:
                self._pages.popitem(last=False)

    def _file_product(self, product: Product, expires: float) -> None:
        self._products[product.id] = (product, expires)
        self._products.move_to_end(product.id)
        while len(self._products) > self._max_products:
            self._products.popitem(last=False)

    # --- invalidation --------------------------------------------------------------------

    def apply(self, products: Collection[int], lists: bool, stock_taken: bool) -> None:
        with self._lock:
            self._heard += 1
            for product_id in products:
                self._products.pop(product_id, None)
                self._marks[product_id] = self._marks.get(product_id, 0) + 1
            if lists:
                self._gen += 1
                self._pages.clear()
            if stock_taken:
                self._sgen += 1
            if len(self._marks) > 4 * self._max_products:
                self._clear()

    def clear(self) -> None:
        """Forget everything, and refuse every load begun before (a resynchronisation)."""
        with self._lock:
            self._clear()

    def _clear(self) -> None:
        self._products.clear()
        self._pages.clear()
        self._marks.clear()
        self._heard = 0
        self._epoch += 1

    def __len__(self) -> int:
        return len(self._products) + len(self._pages)


@dataclass(slots=True)
class _Counters:
    lock: threading.Lock = field(default_factory=threading.Lock)
    stats: CacheStats = field(default_factory=CacheStats)

    def add(self, name: str, n: int = 1) -> None:
        with self.lock:
            setattr(self.stats, name, getattr(self.stats, name) + n)

    def add_all(self, **amounts: float) -> None:
        """Several counters moved together, under one acquisition of the lock."""
        with self.lock:
            for name, n in amounts.items():
                setattr(self.stats, name, getattr(self.stats, name) + n)

    def snapshot(self) -> CacheStats:
        with self.lock:
            return replace(self.stats)


class MemoryCatalogCache:
    """The in-process cache, for one process: the default without Redis.

    With several processes on one database and no Redis, each would keep its own copy and
    not hear the others' writes: use :class:`RedisCatalogCache` there (the server turns
    this one off when it runs several workers without Redis).
    """

    def __init__(
        self,
        ttl: float = DEFAULT_TTL,
        *,
        max_products: int = MAX_PRODUCTS,
        max_pages: int = MAX_PAGES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.local = LocalLayer(ttl, max_products=max_products, max_pages=max_pages, clock=clock)
        self._counters = _Counters()

    def peek_product(self, product_id: int) -> Product | None:
        found = self._hit(self.local.product(product_id), count=True)
        return None if found is None else copy_product(found)

    def peek_page(self, query: ProductQuery) -> Page[Product] | None:
        return self._hit(self.local.page(query), count=True)

    def fingerprint_product(self, product_id: int, *, served: bool) -> Fingerprint | None:
        return self._hit(self.local.product_fingerprint(product_id), count=served)

    def fingerprint_page(self, query: ProductQuery, *, served: bool) -> Fingerprint | None:
        return self._hit(self.local.page_fingerprint(query), count=served)

    def _hit(self, found: T | None, *, count: bool) -> T | None:
        if found is not None and count:
            self._counters.add("memory_hits")
        return found

    def product(self, product_id: int, load: LoadProduct) -> Product | None:
        found = self.peek_product(product_id)
        if found is not None:
            return found
        self._counters.add("misses")
        stamp = self.local.stamp_product(product_id)
        loaded = load(product_id)
        if loaded is not None:
            self.local.put_product(copy_product(loaded), stamp)
        return loaded

    def page(
        self, query: ProductQuery, load: LoadPage, load_product: LoadProduct | None = None
    ) -> Page[Product]:
        found = self.peek_page(query)
        if found is not None:
            return found
        self._counters.add("misses")
        stamps = self.local.stamp_page()
        loaded = load(query)
        products = [copy_product(p) for p in _page_products(loaded)]
        self.local.put_page(query, page_entry(loaded), products, stamps)
        return Page(items=loaded.items, next_cursor=loaded.next_cursor)

    def changed(self, change: CatalogChange) -> None:
        self.local.apply(change.products, change.lists, change.stock_taken)

    def stats(self) -> CacheStats:
        return self._counters.snapshot()

    def close(self) -> None:
        self.local.clear()


def _page_products(loaded: LoadedPage) -> list[Product]:
    if loaded.lookahead is None:
        return list(loaded.items)
    return [*loaded.items, loaded.lookahead]


def open_catalog_cache(
    redis_url: str | None,
    ttl: float,
    *,
    timeout: float = 0.05,
    on_error: Callable[[], None] = lambda: None,
) -> CatalogCache:
    """The cache that settings describe: none (``ttl`` 0), shared through Redis (with an
    in-process layer in front), or in process only (no Redis)."""
    if ttl <= 0:
        return NoCatalogCache()
    if redis_url is None:
        return MemoryCatalogCache(ttl)
    from minicommerce.drivers import require_redis

    require_redis()
    from minicommerce.catalog.redis_cache import RedisCatalogCache

    return RedisCatalogCache(redis_url, ttl, timeout=timeout, on_error=on_error)
