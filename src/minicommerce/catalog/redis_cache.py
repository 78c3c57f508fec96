"""The shared catalog cache: Redis, with the in-process layer in front of it.

Keys (under ``prefix``, ``minicommerce:catalog:`` by default):

- ``v:<id>``, ``gen``, ``sgen``, ``seq``: the product versions, the list and stock
  generations and a count of invalidations: counters without expiry (INCR), bumped by
  writers after their commit (one script, which also publishes the change);
- ``p:<id>:<version>``: a product as JSON, ``l:<gen>:<sgen>:<query hash>``: a page's ids;
  both expire after the TTL. Nothing ever overwrites an entry with other content under the
  same name, so an entry is either current or unreachable.

Every read is one script call (versions, then the entries they name); a miss loads from the
database and files the result under the versions read *before* the load.

**The in-process layer, and "at once" across instances.** Each process has one subscriber
thread on the channel ``inv``; a writer's script publishes the change after bumping, and
PUBLISH answers how many subscribers got it. Each subscriber drops what the change touches
from its process's layer and then acknowledges on the writer's channel ``ack:<process>``;
the writer returns when all have, or after the *lease* (``lease`` seconds, 0.1 by default),
whichever is first. Writers of one process that come while its invalidation is out are
published together in the next one (a group commit), so under load the fleet's subscribers
read and acknowledge one message where each writer would have sent its own. A process
serves its in-process layer only under a lease: its
subscriber PINGs Redis on the subscription connection every ``lease / 4``, and a PONG read
back proves that every message published before Redis saw the PING was handled first (one
connection, in order), so the layer is known current up to the PING's send time, and may be
served until that time plus the lease. A subscriber that lags, or whose connection stalls
or dropped, stops getting PONGs and so stops serving its layer within the lease (reads then
go to Redis, still current because the versions were bumped before PUBLISH); a writer that
misses its acknowledgement waits out that lease. On (re)subscribing, the layer is cleared
before the first lease. Hence: once ``changed`` returned, no process serves the old entry.

**Failures.** Every Redis call has a timeout of tens of milliseconds (``timeout``). A
failing read goes to the database; a failing invalidation is kept and sent again first
thing when Redis answers (meanwhile this process serves nothing cached). After
``FAILURES_TO_OPEN`` failures in a row, requests stop asking Redis for ``RETRY_INTERVAL_S``;
the subscriber reconnects on its own, so caching resumes without a restart.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from minicommerce.catalog.cache import (
    DEFAULT_TTL,
    MAX_PAGES,
    MAX_PRODUCTS,
    CacheStats,
    CatalogChange,
    Fingerprint,
    LoadPage,
    LoadProduct,
    LocalLayer,
    PageEntry,
    _Counters,
    _page_products,
    copy_product,
    page_entry,
    query_key,
    render,
)
from minicommerce.catalog.models import Product, ProductImage, ProductQuery, Rendition
from minicommerce.pagination import Page
from minicommerce.redis_pipe import (
    LoopGuard,
    PipelinedRedis,
    RedisReplyError,
    close_at_shutdown,
)

if TYPE_CHECKING:
    import redis

T = TypeVar("T")

log = logging.getLogger("minicommerce.catalog.cache")

DEFAULT_LEASE_S = 0.1
DEFAULT_TIMEOUT_S = 0.05
FAILURES_TO_OPEN = 3
RETRY_INTERVAL_S = 1.0
RECONNECT_INTERVAL_S = 0.5
MAX_SINGLE_LOADS = 3
"""A cached page missing at most this many products loads just those; more, the page."""

# [version, entry]: the product's version and its entry under that version, if any.
_READ_PRODUCT = """
local v = redis.call('GET', KEYS[1]) or '0'
return {v, redis.call('GET', ARGV[1] .. v)}
"""
# [gen, sgen, seq, page, then version and entry of each id of the page].
_READ_PAGE = """
local p = ARGV[1]
local gen = redis.call('GET', p .. 'gen') or '0'
local sgen = '0'
if ARGV[3] == '1' then sgen = redis.call('GET', p .. 'sgen') or '0' end
local seq = redis.call('GET', p .. 'seq') or '0'
local page = redis.call('GET', p .. 'l:' .. gen .. ':' .. sgen .. ':' .. ARGV[2])
local out = {gen, sgen, seq, page}
if page then
  for _, id in ipairs(cjson.decode(page)[1]) do
    local v = redis.call('GET', p .. 'v:' .. id) or '0'
    out[#out + 1] = v
    out[#out + 1] = redis.call('GET', p .. 'p:' .. id .. ':' .. v)
  end
end
return out
"""
# File a page loaded after ``seq`` was read, and its products only if no invalidation
# happened since: their versions were not read before the load (their ids were unknown).
_STORE_PAGE = """
local p = ARGV[1]
redis.call('SET', p .. 'l:' .. ARGV[4], ARGV[5], 'EX', ARGV[3])
if (redis.call('GET', p .. 'seq') or '0') == ARGV[2] then
  for i = 6, #ARGV, 2 do
    local v = redis.call('GET', p .. 'v:' .. ARGV[i]) or '0'
    redis.call('SET', p .. 'p:' .. ARGV[i] .. ':' .. v, ARGV[i + 1], 'EX', ARGV[3])
  end
end
return 1
"""
# Bump, then publish: a subscriber that hears the change reads the new versions.
_INVALIDATE = """
local p = ARGV[1]
for i = 5, #ARGV do redis.call('INCR', p .. 'v:' .. ARGV[i]) end
if ARGV[3] == '1' then redis.call('INCR', p .. 'gen') end
if ARGV[4] == '1' then redis.call('INCR', p .. 'sgen') end
redis.call('INCR', p .. 'seq')
return redis.call('PUBLISH', p .. 'inv', ARGV[2])
"""


def encode_product(product: Product) -> str:
    """A product as compact JSON (exact: prices as text, times in ISO 8601)."""
    return json.dumps(
        [
            product.id,
            product.sku,
            product.name,
            product.description,
            str(product.price),
            product.currency,
            product.stock_quantity,
            product.created_at.isoformat(),
            product.updated_at.isoformat(),
            product.version,
            product.in_stock,
            [
                [
                    i.id,
                    i.alt,
                    i.width,
                    i.height,
                    i.url,
                    [[r.width, r.height, r.format, r.url] for r in i.renditions],
                ]
                for i in product.images
            ],
        ],
        separators=(",", ":"),
        ensure_ascii=False,
    )


def decode_product(data: bytes | str) -> Product:
    (pid, sku, name, description, price, currency, stock, created, updated, version,
     in_stock, images) = json.loads(data)  # fmt: skip
    return Product(
        pid,
        sku,
        name,
        description,
        Decimal(price),
        currency,
        stock,
        datetime.fromisoformat(created),
        datetime.fromisoformat(updated),
        version,
        in_stock,
        [
            ProductImage(iid, alt, w, h, url, [Rendition(*r) for r in renditions])
            for iid, alt, w, h, url, renditions in images
        ],
    )


def _page_json(entry: PageEntry) -> str:
    return json.dumps([[str(i) for i in entry.ids], entry.shown, entry.next_cursor])


def _page_of(data: bytes) -> PageEntry:
    ids, shown, cursor = json.loads(data)
    return PageEntry(tuple(int(i) for i in ids), shown, cursor)


def _query_hash(query: ProductQuery) -> str:
    text = json.dumps([str(part) if part is not None else None for part in query_key(query)])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class _Acks:
    """The acknowledgements this process's writers wait for, by message id: a thread's
    writer waits on an event, a loop's on a future that the subscriber thread settles
    through the loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, tuple[set[str], threading.Event, list[int]]] = {}
        self._futures: dict[str, asyncio.Future[bool]] = {}

    def open(self, message: str) -> None:
        with self._lock:
            self._waiting[message] = (set(), threading.Event(), [-1])

    def expect(self, message: str, receivers: int) -> threading.Event:
        with self._lock:
            acked, event, needed = self._waiting[message]
            needed[0] = receivers
            if len(acked) >= receivers:
                event.set()
            return event

    def expect_on_loop(self, message: str, receivers: int) -> asyncio.Future[bool]:
        """A future of the running loop, ``True`` once ``receivers`` have acknowledged."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        with self._lock:
            acked, event, needed = self._waiting[message]
            needed[0] = receivers
            if len(acked) >= receivers:
                event.set()
                future.set_result(True)
            else:
                self._futures[message] = future
        return future

    def record(self, message: str, subscriber: str) -> None:
        with self._lock:
            found = self._waiting.get(message)
            if found is None:
                return
            acked, event, needed = found
            acked.add(subscriber)
            if needed[0] >= 0 and len(acked) >= needed[0]:
                event.set()
                future = self._futures.pop(message, None)
                if future is not None:
                    future.get_loop().call_soon_threadsafe(_settle, future, True)

    def close(self, message: str) -> None:
        with self._lock:
            self._waiting.pop(message, None)
            self._futures.pop(message, None)


def _settle(future: asyncio.Future[bool], acknowledged: bool) -> None:
    if not future.done():  # else settled already: acknowledged, or the lease ran out
        future.set_result(acknowledged)


class _Round:
    """The changes of writers that are published together, and how that went."""

    __slots__ = ("change", "ok", "sent")

    def __init__(self, change: CatalogChange) -> None:
        self.change = change
        self.ok = False
        self.sent = threading.Event()


class RedisCatalogCache:
    """The catalog cache shared through Redis at ``url``, with an in-process layer used
    under a lease (module docstring). ``timeout`` bounds every Redis call of a request."""

    def __init__(
        self,
        url: str,
        ttl: float = DEFAULT_TTL,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        lease: float = DEFAULT_LEASE_S,
        prefix: str = "minicommerce:catalog:",
        max_products: int = MAX_PRODUCTS,
        max_pages: int = MAX_PAGES,
        on_error: Callable[[], None] = lambda: None,
    ) -> None:
        from redis import ConnectionPool, Redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self._url = url
        self.ttl = ttl
        self._ttl_s = max(1, int(ttl))
        self.lease = lease
        self._timeout = timeout
        self._prefix = prefix
        self._channel = prefix + "inv"
        self.process_id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._ack_channel = f"{prefix}ack:{self.process_id}"
        self._messages = itertools.count(1)
        # No retries inside redis-py: a failure falls through to the database at once.
        self._pool = ConnectionPool.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            # RESP2: the subscriber reads its subscription's replies itself, in order.
            protocol=2,
        )
        self._redis: redis.Redis = Redis(connection_pool=self._pool)
        self._read_product = self._redis.register_script(_READ_PRODUCT)
        self._read_page = self._redis.register_script(_READ_PAGE)
        self._store_page = self._redis.register_script(_STORE_PAGE)
        self._invalidate = self._redis.register_script(_INVALIDATE)
        self.local = LocalLayer(ttl, max_products=max_products, max_pages=max_pages)
        self._counters = _Counters()
        self._on_error = on_error
        self._acks = _Acks()
        self._failures = 0
        self._closed_until = 0.0  # while in the future, requests do not ask Redis
        self._warned = False
        self._state = threading.Lock()
        self._pending: CatalogChange | None = None  # invalidations Redis has not had yet
        self._rounds = threading.Condition()
        self._open_round: _Round | None = None  # writers join it until it is published
        self._sending = False
        self._lease_until = 0.0
        self._stop = threading.Event()
        # A loop's pipelined connection, closed as the loop shuts down or by close().
        self._pipes: dict[asyncio.AbstractEventLoop, LoopGuard] = {}
        self._subscriber = threading.Thread(
            target=self._subscribe_forever, name="mc-catalog-cache", daemon=True
        )
        self._subscriber.start()

    # --- reads ---------------------------------------------------------------------------

    def _local_valid(self) -> bool:
        # While an invalidation has not reached Redis, this process trusts no cache.
        return time.monotonic() < self._lease_until and self._pending is None

    def peek_product(self, product_id: int) -> Product | None:
        found = self._trusted(lambda: self.local.product(product_id), count=True)
        return None if found is None else copy_product(found)

    def peek_page(self, query: ProductQuery) -> Page[Product] | None:
        return self._trusted(lambda: self.local.page(query), count=True)

    def fingerprint_product(self, product_id: int, *, served: bool) -> Fingerprint | None:
        return self._trusted(lambda: self.local.product_fingerprint(product_id), count=served)

    def fingerprint_page(self, query: ProductQuery, *, served: bool) -> Fingerprint | None:
        return self._trusted(lambda: self.local.page_fingerprint(query), count=served)

    def _trusted(self, look: Callable[[], T | None], *, count: bool) -> T | None:
        """What the in-process layer answers, if it may be served before and after the
        look (``count``: as a memory hit)."""
        if self._local_valid():
            found = look()
            if found is not None and self._local_valid():
                if count:
                    self._counters.add("memory_hits")
                return found
        return None

    def product(self, product_id: int, load: LoadProduct) -> Product | None:
        found = self.peek_product(product_id)
        if found is not None:
            return found
        stamp = self.local.stamp_product(product_id)
        version: bytes | None = None
        if self._redis_usable():
            try:
                version, data = self._read_product(
                    keys=[f"{self._prefix}v:{product_id}"],
                    args=[f"{self._prefix}p:{product_id}:"],
                )
                product = None if data is None else decode_product(data)
                self._succeeded()
            except Exception as exc:  # any failure of Redis (or an entry not ours): the DB
                self._failed(exc)
            else:
                if product is not None:
                    self._counters.add("redis_hits")
                    self.local.put_product(product, stamp)
                    return copy_product(product)
        self._counters.add("misses")
        loaded = load(product_id) if version is None else self._load_one(product_id, version, load)
        if loaded is not None:
            self.local.put_product(copy_product(loaded), stamp)
        return loaded

    def page(
        self, query: ProductQuery, load: LoadPage, load_product: LoadProduct | None = None
    ) -> Page[Product]:
        found = self.peek_page(query)
        if found is not None:
            return found
        stamps = self.local.stamp_page()
        qhash = _query_hash(query)
        seen: list[Any] | None = None
        if self._redis_usable():
            try:
                seen = self._read_page(
                    args=[self._prefix, qhash, "1" if query.in_stock is False else "0"]
                )
                self._succeeded()
            except Exception as exc:  # any failure of Redis: the database answers
                self._failed(exc)
        if seen is not None and seen[3] is not None:
            try:
                entry = _page_of(seen[3])
                products = [None if e is None else decode_product(e) for e in seen[5::2]]
            except Exception as exc:  # an entry that is not ours: the database answers
                self._failed(exc)
                entry, products = PageEntry((), 0, None), [None]
            missing = [i for i, product in enumerate(products) if product is None]
            if load_product is not None and 0 < len(missing) <= MAX_SINGLE_LOADS:
                # Their versions were read before these loads: file them under those.
                versions = seen[4::2]
                for i in missing:
                    products[i] = self._load_one(entry.ids[i], versions[i], load_product)
            rendered = render(entry, products, query)
            if rendered is not None:
                self._counters.add("redis_hits")
                self.local.put_page(query, entry, [p for p in products if p], stamps)
                return rendered
        self._counters.add("misses")
        loaded = load(query)
        entry = page_entry(loaded)
        shown = _page_products(loaded)
        self.local.put_page(query, entry, [copy_product(p) for p in shown], stamps)
        if seen is not None:
            gen, sgen, seq = (part.decode() for part in seen[:3])
            args: list[str] = [
                self._prefix,
                seq,
                str(self._ttl_s),
                f"{gen}:{sgen}:{qhash}",
                _page_json(entry),
            ]
            for product in shown:
                args += [str(product.id), encode_product(product)]
            self._call(lambda: self._store_page(args=args))
        return Page(items=loaded.items, next_cursor=loaded.next_cursor)

    def _load_one(self, product_id: int, version: bytes, load: LoadProduct) -> Product | None:
        """Load a product from the database and file it in Redis under ``version``."""
        loaded = load(product_id)
        if loaded is not None:
            self._call(
                lambda: self._redis.set(
                    f"{self._prefix}p:{product_id}:{version.decode()}",
                    encode_product(loaded),
                    ex=self._ttl_s,
                )
            )
        return loaded

    # --- writes --------------------------------------------------------------------------

    def changed(self, change: CatalogChange) -> None:
        change = self._applied(change)
        if time.monotonic() < self._closed_until or not self._publish_together(change):
            self._keep(change)

    async def changed_async(self, change: CatalogChange) -> None:
        """:meth:`changed` for a caller on an event loop, on the loop, with no thread: the
        script through the loop's pipelined connection (``redis_pipe.py``), and the
        acknowledgements awaited (the subscriber thread settles the wait through the
        loop). The same promise: once it returned, no process serves the old entries.
        Callers of one loop are told together by ``catalog/loop_changes.py``."""
        change = self._applied(change)
        try:
            published = time.monotonic() >= self._closed_until and await self._publish_async(change)
        except asyncio.CancelledError:  # it may not have reached Redis: kept, to be sure
            self._keep(change)
            raise
        if not published:
            self._keep(change)

    def _applied(self, change: CatalogChange) -> CatalogChange:
        """Apply ``change`` to this process's layer; what to publish: it, and the
        invalidations that Redis missed before it."""
        self.local.apply(change.products, change.lists, change.stock_taken)
        with self._state:
            if self._pending is not None:  # Redis missed earlier ones: send them too
                change = self._pending.merged(change)
                self._pending = None
        return change

    def _keep(self, change: CatalogChange) -> None:
        """Redis did not take ``change``: kept, and sent again first thing it answers."""
        with self._state:
            self._pending = change if self._pending is None else self._pending.merged(change)

    def _waited(self, started: float, acknowledged: bool) -> None:
        self._counters.add_all(
            invalidations=1,
            invalidation_wait_seconds=time.monotonic() - started,
            lease_expiries=0 if acknowledged else 1,
        )

    async def _publish_async(self, change: CatalogChange) -> bool:
        message = f"{self.process_id} {next(self._messages)}"
        args = self._invalidation_args(message, change)
        self._acks.open(message)
        try:
            try:
                receivers = int(await self._invalidate_on_loop(args))
            except Exception as exc:  # Redis missed it: kept, and sent again later
                self._failed(exc, force=True)
                return False
            self._succeeded()
            if receivers:
                started = time.monotonic()
                answered = self._acks.expect_on_loop(message, receivers)
                # One timer, not asyncio.timeout's machinery: the lease settles it too.
                lapse = answered.get_loop().call_later(self.lease, _settle, answered, False)
                try:
                    self._waited(started, await answered)
                finally:
                    lapse.cancel()
            return True
        finally:
            self._acks.close(message)

    async def _invalidate_on_loop(self, args: list[str]) -> int | str:
        loop = asyncio.get_running_loop()
        guard = self._pipes.get(loop)
        if guard is None:
            for ended in [other for other in self._pipes if other.is_closed()]:
                self._pipes.pop(ended).close()
            # Timed on the loop, a round trip includes the loop's own lag: on a saturated
            # machine that passed the 50 ms timeout (and opened the breaker for a second)
            # in 4 of 8 loaded runs; bounded by the lease (0.1 s), in none of 3.
            pipe = PipelinedRedis(self._url, timeout=max(self._timeout, self.lease))
            guard = self._pipes[loop] = await close_at_shutdown(pipe)
        pipe = guard.pipe
        try:
            return await pipe.call("EVALSHA", self._invalidate.sha, 0, *args)
        except RedisReplyError as exc:
            if not exc.noscript:  # pragma: no cover - the script is ours and loaded
                raise
            return await pipe.call("EVAL", _INVALIDATE, 0, *args)  # loads it too

    def _invalidation_args(self, message: str, change: CatalogChange) -> list[str]:
        return [
            self._prefix,
            message + " " + _change_text(change),
            "1" if change.lists else "0",
            "1" if change.stock_taken else "0",
            *(str(i) for i in sorted(change.products)),
        ]

    def _publish_together(self, change: CatalogChange) -> bool:
        """Publish ``change`` with those of the writers that call meanwhile, and wait for
        the acknowledgements: whether Redis took it.

        While one invalidation is out, the changes of the writers that come meanwhile are
        merged into the next one, which the first of them publishes once the one out has
        returned (a group commit). Each writer still returns only after a message holding
        its change, published after it called, was acknowledged; under load the fleet's
        subscribers then read one message where they read several."""
        with self._rounds:
            joined = self._open_round
            if joined is not None:
                joined.change = joined.change.merged(change)
            else:
                mine = self._open_round = _Round(change)
                while self._sending:
                    self._rounds.wait()
                self._sending = True
                self._open_round = None  # those who come from now on make the next round
        if joined is not None:
            joined.sent.wait()
            return joined.ok
        try:
            mine.ok = self._publish(mine.change, wait=True)
        finally:
            with self._rounds:
                self._sending = False
                self._rounds.notify()
            mine.sent.set()
        return mine.ok

    def _publish(self, change: CatalogChange, *, wait: bool) -> bool:
        message = f"{self.process_id} {next(self._messages)}"
        args = self._invalidation_args(message, change)
        self._acks.open(message)
        try:
            try:
                receivers = int(self._invalidate(args=args))
            except Exception as exc:  # Redis missed it: kept, and sent again later
                self._failed(exc, force=True)
                return False
            self._succeeded()
            if wait and receivers:
                # Every subscriber that got it has dropped the old entries, or the lease
                # of any that did not has run out: it serves nothing from its own layer.
                started = time.monotonic()
                self._waited(started, self._acks.expect(message, receivers).wait(self.lease))
            return True
        finally:
            self._acks.close(message)

    # --- failures ------------------------------------------------------------------------

    def _redis_usable(self) -> bool:
        return time.monotonic() >= self._closed_until and self._pending is None

    def _call(self, fn: Callable[[], object]) -> None:
        if not self._redis_usable():
            return
        try:
            fn()
            self._succeeded()
        except Exception as exc:  # a write to the cache is only an optimisation
            self._failed(exc)

    def _succeeded(self) -> None:
        if self._failures:
            self._failures = 0
            if self._warned:
                self._warned = False
                log.warning("catalog cache: Redis answers again; caching resumes")

    def _failed(self, exc: Exception, *, force: bool = False) -> None:
        self._counters.add("errors")
        self._on_error()
        self._failures += 1
        if self._failures >= FAILURES_TO_OPEN or force:
            self._closed_until = time.monotonic() + RETRY_INTERVAL_S
            if not self._warned:
                self._warned = True
                log.warning(
                    "catalog cache: Redis failed (%s: %s); reading the database until it "
                    "answers (retried every %g s)",
                    type(exc).__name__,
                    exc,
                    RETRY_INTERVAL_S,
                )

    # --- the subscriber ------------------------------------------------------------------

    def _subscribe_forever(self) -> None:
        while not self._stop.is_set():
            try:
                self._subscribe()
            except Exception as exc:  # the connection failed: drop the lease, reconnect
                self._lease_until = 0.0
                log.debug("catalog cache subscriber: %s", exc)
            self._lease_until = 0.0
            self._stop.wait(RECONNECT_INTERVAL_S)

    def _subscribe(self) -> None:
        connection: Any = self._pool.make_connection()  # redis-py leaves it untyped
        # A subscribed connection can only listen: the acknowledgements go on one of
        # their own, as bare commands (through a redis-py pipeline they cost twice the
        # CPU, on the thread every writer of the fleet waits for).
        acks: Any = self._pool.make_connection()
        acks.register_connect_callback(self._without_replies)
        try:
            connection.connect()
            connection.send_command("SUBSCRIBE", self._channel, self._ack_channel)
            for _ in range(2):
                connection.read_response()
            # Messages published before this subscription are lost to it: start afresh.
            self.local.clear()
            self._send_pending()
            self._listen(connection, acks)
        finally:
            connection.disconnect()
            acks.disconnect()

    def _send_pending(self) -> None:
        """Send the invalidations that Redis missed; raise if it misses them again."""
        with self._state:
            pending = self._pending
        if pending is None:
            return
        if not self._publish(pending, wait=False):
            raise ConnectionError("could not send the pending invalidations")
        with self._state:
            if self._pending is pending:  # else a write took it over meanwhile
                self._pending = None

    def _listen(self, connection: Any, ack_connection: Any) -> None:
        interval = self.lease / 4
        pings: dict[str, float] = {}
        tokens = itertools.count()
        next_ping = 0.0
        acks: dict[str, list[str]] = {}
        while not self._stop.is_set():
            now = time.monotonic()
            if self._pending is not None:
                self._send_pending()
            if now >= next_ping:
                token = str(next(tokens))
                pings[token] = now
                connection.send_command("PING", token)
                next_ping = now + interval
                if min(pings.values()) < now - max(1.0, 10 * self.lease):
                    raise ConnectionError("Redis stopped answering the subscription's PINGs")
            if not connection.can_read(timeout=max(0.0, next_ping - time.monotonic())):
                continue
            while True:
                reply = connection.read_response()
                kind = reply[0]
                if kind == b"pong":
                    sent = pings.pop(reply[1].decode(), None)
                    for older in [t for t, at in pings.items() if sent is not None and at < sent]:
                        pings.pop(older)
                    if sent is not None:
                        self._lease_until = sent + self.lease
                elif kind == b"message" and reply[1] == self._channel.encode():
                    writer, message = self._heard(reply[2].decode())
                    if writer == self.process_id:  # our own writer: no round trip
                        self._acks.record(message, self.process_id)
                    else:
                        acks.setdefault(writer, []).append(message)
                elif kind == b"message":
                    subscriber, message = reply[2].decode().split(" ", 1)
                    self._acks.record(message, subscriber)
                if not connection.can_read(timeout=0):
                    break
            if acks:
                self._acknowledge(ack_connection, acks)
                acks = {}

    def _heard(self, text: str) -> tuple[str, str]:
        writer, number, lists, stock, ids = text.split(" ")
        products = [int(i) for i in ids.split(",")] if ids else []
        self.local.apply(products, lists == "1", stock == "1")
        return writer, f"{writer} {number}"

    def _without_replies(self, connection: Any) -> None:
        # On (re)connecting the acknowledgements' connection: PUBLISH answers how many got
        # the message, which an acknowledgement has no use for; without replies nothing is
        # read back, one receive (and a wait for the GIL) less per batch.
        connection.send_command("CLIENT", "REPLY", "OFF")

    def _acknowledge(self, connection: Any, acks: dict[str, list[str]]) -> None:
        commands = [
            ("PUBLISH", f"{self._prefix}ack:{writer}", f"{self.process_id} {message}")
            for writer, messages in acks.items()
            for message in messages
        ]
        try:
            connection.send_packed_command(connection.pack_commands(commands))
        except Exception as exc:  # the writers wait out the lease instead
            log.debug("catalog cache: could not acknowledge: %s", exc)
            connection.disconnect()  # the next send reconnects

    # --- the rest ------------------------------------------------------------------------

    def stats(self) -> CacheStats:
        return self._counters.snapshot()

    @property
    def in_sync(self) -> bool:
        """Whether the in-process layer may be served now (this process holds a lease)."""
        return self._local_valid()

    def close(self) -> None:
        self._stop.set()
        self._subscriber.join(2)
        running = _running_loop()
        for loop, guard in self._pipes.items():
            if loop.is_running() and loop is not running:  # another thread's: its loop's
                loop.call_soon_threadsafe(guard.close)
            else:
                guard.close()
        self._pipes.clear()
        self._lease_until = 0.0
        self.local.clear()
        self._pool.disconnect()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _change_text(change: CatalogChange) -> str:
    ids = ",".join(str(i) for i in sorted(change.products))
    return f"{int(change.lists)} {int(change.stock_taken)} {ids}"
