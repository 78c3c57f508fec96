"""Placing orders (all or nothing, idempotent, never overselling), reading and cancelling."""

from __future__ import annotations

import asyncio
import functools
import itertools
import threading
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from minicommerce.accounts.auth import SESSION_ENDED, signed_in
from minicommerce.accounts.models import SessionCheck, SignedOut
from minicommerce.catalog.cache import CatalogCache, CatalogChange, NoCatalogCache
from minicommerce.catalog.loop_changes import LoopChanges
from minicommerce.clock import Clock, utcnow
from minicommerce.errors import (
    CommerceError,
    EmptyCartError,
    IdempotencyKeyReused,
    InsufficientStock,
    InvalidToken,
    InvalidTransition,
    NotFound,
    ServiceUnavailable,
    ValidationError,
)
from minicommerce.ids import is_valid_id
from minicommerce.money import CENT
from minicommerce.orders.models import (
    LOW_STOCK_LIMIT,
    MAX_LOW_STOCK,
    MAX_ORDER_TOTAL,
    MAX_STATS_DAYS,
    TRANSITIONS,
    AdminOrder,
    Customer,
    DaySales,
    Order,
    OrderItem,
    OrderStatus,
    PlaceOrder,
    ShopStats,
    StatusChange,
)
from minicommerce.orders.placement import OrderDraft, draft_order, merge_lines
from minicommerce.orders.repository import (
    Answered,
    AsyncOrderWriter,
    NewOrder,
    OrderRepository,
    Seen,
)
from minicommerce.orders.rowcache import ROW_CACHE_SIZE, RowCache
from minicommerce.pagination import Page, decode_id_cursor, page_by_id
from minicommerce.slots import FairSlots
from minicommerce.text import CONTROL_MESSAGE, has_control
from minicommerce.uow import UnitOfWork, UnitOfWorkFactory

_RESOURCE = "Order"
MAX_KEY = 255
DEFAULT_KEY_TTL = 86_400
"""Idempotency keys are kept at least this long (seconds): the 24 h that API.md promises."""
MAX_ATTEMPTS = 20
"""Placements that lose to a concurrent change start again from the read, this often."""
DEFAULT_PLACEMENT_CONCURRENCY = 8
"""Placements of one service in the database at once, at most (``placement_concurrency``)."""


class OrderService:
    """Orders of signed-in users.

    Placement is one unit of work: look the idempotency key (if any) up, read the wanted
    lines and their live products (``OrderRepository.read``), let ``orders.placement``
    turn them into a draft or a refusal, and record the draft (``OrderRepository.add``),
    which storage does atomically, or not at all when what was read has changed since
    (then again from the read) or the key was taken meanwhile (then its answer). A refusal
    or any failure records nothing, and no key.

    Where storage's ``add`` checks the rows it is given (``OrderRepository.checks_seen``),
    explicit lines are first drafted from the products this service remembers (up to
    ``row_cache`` of them, ``orders.rowcache``: the newest live ones, read once before the
    first placement, and those of its reads since), and the key is claimed by ``add``
    itself: one round trip when nothing changed. A changed row costs a retry from a fresh
    read, and refusals are only ever made of fresh rows. ``row_cache=0`` turns this off.

    With a key, every ``purge_every``-th placement of this service also forgets up to
    ``purge_batch`` keys older than ``key_ttl`` seconds, in a unit of work of its own.

    At most ``placement_concurrency`` placements of this service are in the database at
    once (``None``: no bound); the others wait here, in the order they came
    (``FairSlots``). Buyers of one product queue on its row lock in the database, where
    each one more waiting costs the database CPU and stretches the tail: in the
    hot-product bench (64 buyers of one product, 2 processes of 20 threads) a bound of 8
    cut the p99 from 235-325 to 116-131 ms. Waiting for the catalog cache's
    acknowledgements (below) is outside the bound.

    Stock taken or returned is told to the catalog ``cache`` after the commit, before the
    call returns; placement itself never reads the catalog cache (prices and stock are the
    database's, or remembered rows that ``add`` checks against it).

    :meth:`place_async` is placement for callers on an event loop. With an
    ``async_writer`` (``AsyncOrderWriter``: PostgreSQL's, ``storage/async_orders.py``) the
    common case runs on the loop, with no thread: explicit lines whose products are all
    remembered, drafted into an order, recorded by the writer's one statement. Anything
    else (a refusal to make, a changed row, a key already taken, the cart, no writer) is
    :meth:`place` itself in the loop's default executor, from the start: the fast path
    records nothing unless it answers, so the rules above hold whichever path answers.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        currency: str,
        clock: Clock = utcnow,
        *,
        key_ttl: int = DEFAULT_KEY_TTL,
        purge_every: int = 1000,
        purge_batch: int = 1000,
        low_stock_threshold: int = 5,
        row_cache: int = ROW_CACHE_SIZE,
        catalog_cache: CatalogCache | None = None,
        placement_concurrency: int | None = DEFAULT_PLACEMENT_CONCURRENCY,
        async_writer: AsyncOrderWriter | None = None,
    ) -> None:
        if placement_concurrency is not None and placement_concurrency < 1:
            raise ValueError("placement_concurrency must be at least 1 (or None: no bound)")
        self._uow = uow
        self._slots: AbstractContextManager[object] = (
            nullcontext() if placement_concurrency is None else FairSlots(placement_concurrency)
        )
        self._catalog_cache: CatalogCache = catalog_cache or NoCatalogCache()
        self._currency = currency
        self._clock = clock
        self._key_ttl = timedelta(seconds=key_ttl)
        self._purge_every = purge_every
        self._purge_batch = purge_batch
        self._placements = itertools.count(1)
        self.low_stock_threshold = low_stock_threshold
        self._rows = RowCache(row_cache)
        self._warm = False
        self._warming = threading.Lock()
        self._async_writer = async_writer
        self._loop_changes = LoopChanges(self._catalog_cache)

    def place(
        self,
        user_id: int,
        request: PlaceOrder,
        idempotency_key: str | None = None,
        *,
        session: SessionCheck | None = None,
    ) -> tuple[Order, bool]:
        """Place an order; returns it and whether it was created now (``False``: a replay
        of an earlier request with the same idempotency key, the order as answered then).

        With ``session`` (the caller's, ``AuthService.session_of``), nothing is answered
        unless it is live: :class:`InvalidToken` comes before any other error, and an
        order is recorded only while it is live. Where storage checks it in the statement
        that records the order (``OrderRepository.checks_session``), the session costs no
        query of its own; the paths that answer otherwise read it first."""
        if session is not None and session.user_id != user_id:
            raise ValueError("the session is not the user's")
        try:
            new = self._new_order(user_id, request, idempotency_key, session)
        except CommerceError:
            if session is not None:  # a signed-out caller learns nothing of its input
                with self._uow(write=False) as uow:
                    signed_in(uow, session)
            raise
        if next(self._placements) % self._purge_every == 0:
            self.purge_idempotency_keys(self._purge_batch)
        placed: Order | None = None
        with self._slots, self._uow(write=True, user_id=user_id) as uow:
            orders = uow.orders
            key, fingerprint = new.idempotency_key, new.fingerprint
            # Only the answers that ``add`` does not give need the session read here.
            unchecked = session if session is not None and orders.checks_session else None
            if session is not None and unchecked is None:
                signed_in(uow, session)
            # Where ``add`` checks what it is given (PostgreSQL), the first attempt drafts
            # from remembered rows when it can, and the key is looked up only once an
            # attempt failed (``add`` claims it, or says it is taken): one round trip when
            # nothing changed. Elsewhere the key comes first and every draft is of a read.
            checks = orders.checks_seen
            if checks and not self._warm:
                self._warm_up(orders)
            remembered = self._remembered(new.lines) if checks else None
            for attempt in range(MAX_ATTEMPTS):
                if key is not None and fingerprint is not None and (attempt or not checks):
                    answered = orders.answered(user_id, key)
                    if answered is not None:
                        if unchecked is not None:
                            signed_in(uow, unchecked)
                        return self._replay(uow, user_id, fingerprint, answered), False
                if remembered is not None:
                    seen, remembered, fresh = remembered, None, False
                else:
                    seen, fresh = orders.read(user_id, new.lines), True
                    if checks:
                        self._rows.remember(seen.wanted, seen.rows)
                drafted = draft_order(seen.wanted, seen.rows, from_cart=new.lines is None)
                if not isinstance(drafted, OrderDraft):
                    # A refusal stands when made of fresh rows after the key was looked up.
                    if fresh and (key is None or attempt or not checks):
                        if unchecked is not None:
                            signed_in(uow, unchecked)
                        break
                    continue
                added = orders.add(new, drafted, seen)
                if isinstance(added, Order):
                    uow.commit()
                    placed = added
                    break
                if isinstance(added, SignedOut):
                    raise InvalidToken(SESSION_ENDED)
            else:  # pragma: no cover - each attempt loses only to a concurrent change
                raise RuntimeError(f"placement lost {MAX_ATTEMPTS} races in a row")
        if placed is not None:
            # Stock was taken: the products changed, and some may have sold out.
            self._catalog_cache.changed(_stock_taken(placed.items))
            return placed, True
        assert not isinstance(drafted, OrderDraft)
        if drafted.missing:
            raise NotFound("Product", min(drafted.missing))
        if drafted.short:
            raise InsufficientStock(drafted.short)
        if drafted.total is not None:
            raise ValidationError.single(
                "items", f"the order total {drafted.total} is above the maximum {MAX_ORDER_TOTAL}"
            )
        raise EmptyCartError()

    async def place_async(
        self,
        user_id: int,
        request: PlaceOrder,
        idempotency_key: str | None = None,
        *,
        session: SessionCheck | None = None,
    ) -> tuple[Order, bool]:
        """:meth:`place` for a caller on an event loop: the same answers and errors, on the
        loop where it can be, else in the loop's default executor (class docstring)."""
        loop = asyncio.get_running_loop()
        in_thread = functools.partial(
            self.place, user_id, request, idempotency_key, session=session
        )
        writer = self._async_writer
        if writer is None or not self._warm:  # the first placement warms up, in a thread
            return await loop.run_in_executor(None, in_thread)
        if session is not None and session.user_id != user_id:
            raise ValueError("the session is not the user's")
        try:
            new = self._new_order(user_id, request, idempotency_key, session)
        except CommerceError:  # answered as place answers it (the session first)
            return await loop.run_in_executor(None, in_thread)
        seen = self._remembered(new.lines)
        drafted = None if seen is None else draft_order(seen.wanted, seen.rows)
        if seen is None or not isinstance(drafted, OrderDraft):
            return await loop.run_in_executor(None, in_thread)
        try:
            added = await writer.add(new, drafted, seen)
        except (ServiceUnavailable, asyncio.CancelledError):
            # The statement may have committed before the database went away (or the caller
            # did): the cache drops what it may have changed, a version bump, harmless if
            # nothing was.
            await self._told(drafted)
            raise
        if isinstance(added, SignedOut):
            raise InvalidToken(SESSION_ENDED)
        if not isinstance(added, Order):  # nothing recorded: placement from the start
            return await loop.run_in_executor(None, in_thread)
        await self._told(drafted)
        if next(self._placements) % self._purge_every == 0:
            await loop.run_in_executor(None, self.purge_idempotency_keys, self._purge_batch)
        return added, True

    async def _told(self, drafted: OrderDraft) -> None:
        """Stock was taken from the draft's products, as in place: told to the catalog
        cache with the loop's other placements (``catalog/loop_changes.py``)."""
        if not isinstance(self._catalog_cache, NoCatalogCache):
            await self._loop_changes.changed(_stock_taken(drafted.items))

    def close(self) -> None:
        """Close the async writer's connections, if any."""
        if self._async_writer is not None:
            self._async_writer.close()

    def _new_order(
        self,
        user_id: int,
        request: PlaceOrder,
        idempotency_key: str | None,
        session: SessionCheck | None,
    ) -> NewOrder:
        if idempotency_key is not None:
            if not 0 < len(idempotency_key) <= MAX_KEY:
                raise ValidationError.single(
                    "Idempotency-Key", f"must be 1 to {MAX_KEY} characters"
                )
            if has_control(idempotency_key):
                raise ValidationError.single("Idempotency-Key", CONTROL_MESSAGE)
        return NewOrder(
            user_id=user_id,
            lines=_lines(request),
            shipping_address=request.shipping_address.model_dump(mode="json"),
            currency=self._currency,
            now=self._clock(),
            idempotency_key=idempotency_key,
            fingerprint=request.fingerprint() if idempotency_key is not None else None,
            session=session,
        )

    @staticmethod
    def _replay(uow: UnitOfWork, user_id: int, fingerprint: str, answered: Answered) -> Order:
        if answered.fingerprint != fingerprint:
            raise IdempotencyKeyReused()
        if answered.answer is not None:
            return answered.answer
        order = uow.orders.get(answered.order_id, user_id)  # a key kept before 0006
        if order is None:  # pragma: no cover - the key goes with its order
            raise NotFound(_RESOURCE, answered.order_id)
        return order

    def _warm_up(self, orders: OrderRepository) -> None:
        """Remember the newest live products before the first placement: one read, and
        a process's first orders need no read of their own."""
        with self._warming:
            if not self._warm and self._rows.size:
                self._rows.remember({}, reversed(orders.live_rows(self._rows.size)))
                self._warm = True

    def _remembered(self, lines: Mapping[int, int] | None) -> Seen | None:
        """Explicit lines whose products are all remembered, as if just read."""
        if not lines:
            return None
        rows = self._rows.rows_for(lines)
        return None if rows is None else Seen(dict(lines), rows)

    def purge_idempotency_keys(self, limit: int | None = None) -> int:
        """Forget idempotency keys older than the retention (``key_ttl``): up to ``limit``
        of them, or all when ``None``, in batches. Returns how many."""
        before = self._clock() - self._key_ttl
        purged = 0
        while limit is None or purged < limit:
            batch = self._purge_batch if limit is None else min(self._purge_batch, limit - purged)
            with self._uow(write=True) as uow:
                done = uow.orders.purge_keys(before, batch)
                uow.commit()
            purged += done
            if done < batch:
                break
        return purged

    def get(self, user_id: int, order_id: int) -> Order:
        """One of the user's orders; another user's order is not found. Order history may
        be read on a replica, but one that has the user's own last order and cancel."""
        with self._uow(write=False, may_lag=True, user_id=user_id) as uow:
            order = uow.orders.get(order_id, user_id) if is_valid_id(order_id) else None
        if order is None:
            raise NotFound(_RESOURCE, order_id)
        return order

    def list(self, user_id: int, limit: int = 20, cursor: str | None = None) -> Page[Order]:
        """The user's orders, newest first."""
        after = decode_id_cursor(cursor, "orders")
        with self._uow(write=False, may_lag=True, user_id=user_id) as uow:
            rows = uow.orders.list_for_user(user_id, after, limit + 1)
        return page_by_id(rows, limit, "orders", lambda order: order.id)

    def cancel(self, user_id: int, order_id: int) -> Order:
        """A customer cancels their own order while it is pending; the stock returns."""
        return self._move(order_id, user_id, OrderStatus.CANCELLED, {OrderStatus.PENDING})

    # --- staff ---------------------------------------------------------------------------

    def list_all(
        self,
        *,
        status: OrderStatus | None = None,
        user_id: int | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> Page[AdminOrder]:
        """Every order, newest first, with its customer; filtered by status and by user."""
        after = decode_id_cursor(cursor, "admin-orders")
        with self._uow(write=False) as uow:
            rows = uow.orders.list_all(status, user_id, after, limit + 1)
        orders = [_admin(order, customer) for order, customer in rows]
        return page_by_id(orders, limit, "admin-orders", lambda order: order.id)

    def stats(self, days: int = 30, low_stock: int | None = None) -> ShopStats:
        """The staff overview: per UTC day of the last ``days`` days (today included,
        oldest first, every day present) the orders placed that are not cancelled and the
        exact sum of their totals; the window's orders by current status; and the live
        products with at most ``low_stock`` in stock (default: the shop's threshold).
        Two queries: the orders over their ``created_at`` index, the products by a scan
        (an index on stock would cost every order, see migration 0008)."""
        if not 1 <= days <= MAX_STATS_DAYS:
            raise ValidationError.single("days", f"must be between 1 and {MAX_STATS_DAYS}")
        threshold = self.low_stock_threshold if low_stock is None else low_stock
        if not 0 <= threshold <= MAX_LOW_STOCK:
            raise ValidationError.single("low_stock", f"must be between 0 and {MAX_LOW_STOCK}")
        today = self._clock().astimezone(UTC).date()
        first = today - timedelta(days=days - 1)
        start = datetime(first.year, first.month, first.day, tzinfo=UTC)
        end = datetime(today.year, today.month, today.day, tzinfo=UTC) + timedelta(days=1)
        with self._uow(write=False) as uow:
            totals = uow.orders.daily_totals(start, end)
            short = uow.products.low_stock(threshold, LOW_STOCK_LIMIT)
        zero = Decimal("0.00")
        sales = {first + timedelta(days=n): DaySales(first + timedelta(days=n), 0, zero)
                 for n in range(days)}  # fmt: skip
        by_status = dict.fromkeys((status.value for status in OrderStatus), 0)
        for total in totals:
            by_status[total.status.value] += total.orders
            day = sales.get(total.day)
            if day is not None and total.status is not OrderStatus.CANCELLED:
                day.orders += total.orders
                day.revenue = (day.revenue + (total.total or zero)).quantize(CENT)
        return ShopStats(
            currency=self._currency,
            days=list(sales.values()),
            by_status=by_status,
            low_stock=short,
            low_stock_threshold=threshold,
        )

    def admin_get(self, order_id: int) -> AdminOrder:
        with self._uow(write=False) as uow:
            order = uow.orders.get(order_id, None) if is_valid_id(order_id) else None
            customer = uow.orders.customer_of(order_id) if order is not None else None
        if order is None or customer is None:
            raise NotFound(_RESOURCE, order_id)
        return _admin(order, customer)

    def set_status(self, order_id: int, change: StatusChange) -> AdminOrder:
        """Staff move an order along the state machine; cancelling returns the stock."""
        self._move(order_id, None, change.status)
        return self.admin_get(order_id)

    def _move(
        self,
        order_id: int,
        user_id: int | None,
        to: OrderStatus,
        allowed: set[OrderStatus] | None = None,
    ) -> Order:
        with self._uow(write=True, user_id=user_id) as uow:
            order = uow.orders.get(order_id, user_id) if is_valid_id(order_id) else None
            if order is None:
                raise NotFound(_RESOURCE, order_id)
            sources = {s for s, targets in TRANSITIONS.items() if to in targets}
            if allowed is not None:
                sources &= allowed
            if order.status not in sources or not uow.orders.move(
                order_id, user_id, sources, to, self._clock()
            ):
                raise InvalidTransition(order.status.value, to.value)
            if to is OrderStatus.CANCELLED:
                uow.orders.return_stock(order.items)
            moved = uow.orders.get(order_id, user_id)
            uow.commit()
        if to is OrderStatus.CANCELLED:
            # Stock returned can bring a sold-out product back into in_stock lists.
            self._catalog_cache.changed(
                CatalogChange.of((item.product_id for item in order.items), lists=True)
            )
        assert moved is not None
        return moved


def _stock_taken(items: Iterable[OrderItem]) -> CatalogChange:
    """What placing these lines changed: their products' stock (they may have sold out)."""
    return CatalogChange.of((item.product_id for item in items), stock_taken=True)


def _lines(request: PlaceOrder) -> dict[int, int] | None:
    """Quantities by product, lines for the same product added up; ``None``: the cart."""
    if request.items is None:
        return None
    for line in request.items:
        if not is_valid_id(line.product_id):
            raise NotFound("Product", line.product_id)
    return merge_lines((line.product_id, line.quantity) for line in request.items)


def _admin(order: Order, customer: Customer) -> AdminOrder:
    return AdminOrder(
        id=order.id,
        status=order.status,
        items=order.items,
        total_amount=order.total_amount,
        currency=order.currency,
        shipping_address=order.shipping_address,
        created_at=order.created_at,
        updated_at=order.updated_at,
        user=customer,
    )
