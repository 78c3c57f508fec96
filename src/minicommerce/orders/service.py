"""Placing orders (all or nothing, idempotent, never overselling), reading and cancelling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from minicommerce.clock import Clock, utcnow
from minicommerce.errors import (
    EmptyCartError,
    IdempotencyKeyReused,
    InsufficientStock,
    InvalidTransition,
    NotFound,
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
    OrderStatus,
    PlaceOrder,
    ShopStats,
    StatusChange,
)
from minicommerce.orders.repository import KeyTaken, NewOrder
from minicommerce.pagination import Page, decode_id_cursor, page_by_id
from minicommerce.uow import UnitOfWorkFactory

_RESOURCE = "Order"
MAX_KEY = 255


class OrderService:
    """Orders of signed-in users.

    Placement is one transaction (see ``OrderRepository.place``): lines for the same
    product are added up; every product's stock is taken all or nothing and never below
    zero, in ascending id order so that concurrent multi-line orders cannot deadlock;
    prices, names and SKUs are copied from the catalog; the cart is emptied when it was
    used; the idempotency key is recorded with the order. Anything failing rolls all of it
    back.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        currency: str,
        clock: Clock = utcnow,
        *,
        low_stock_threshold: int = 5,
    ) -> None:
        self._uow = uow
        self._currency = currency
        self._clock = clock
        self.low_stock_threshold = low_stock_threshold

    def place(
        self, user_id: int, request: PlaceOrder, idempotency_key: str | None = None
    ) -> tuple[Order, bool]:
        """Place an order; returns it and whether it was created now (``False``: a replay
        of an earlier request with the same idempotency key)."""
        if idempotency_key is not None and not 0 < len(idempotency_key) <= MAX_KEY:
            raise ValidationError.single("Idempotency-Key", f"must be 1 to {MAX_KEY} characters")
        new = NewOrder(
            user_id=user_id,
            lines=_lines(request),
            shipping_address=request.shipping_address.model_dump(mode="json"),
            currency=self._currency,
            now=self._clock(),
            idempotency_key=idempotency_key,
            fingerprint=request.fingerprint() if idempotency_key is not None else None,
        )
        with self._uow(write=True) as uow:
            placed = uow.orders.place(new)
            if isinstance(placed, Order):
                uow.commit()
                return placed, True
            if isinstance(placed, KeyTaken):
                if placed.fingerprint != new.fingerprint:
                    raise IdempotencyKeyReused()
                order = uow.orders.get(placed.order_id, user_id)
                if order is None:  # pragma: no cover - the key lives on the order itself
                    raise NotFound(_RESOURCE, placed.order_id)
                return order, False
        if placed.missing:
            raise NotFound("Product", min(placed.missing))
        if placed.short:
            raise InsufficientStock(placed.short)
        if placed.total is not None:
            raise ValidationError.single(
                "items", f"the order total {placed.total} is above the maximum {MAX_ORDER_TOTAL}"
            )
        raise EmptyCartError()

    def get(self, user_id: int, order_id: int) -> Order:
        """One of the user's orders; another user's order is not found."""
        with self._uow(write=False) as uow:
            order = uow.orders.get(order_id, user_id) if is_valid_id(order_id) else None
        if order is None:
            raise NotFound(_RESOURCE, order_id)
        return order

    def list(self, user_id: int, limit: int = 20, cursor: str | None = None) -> Page[Order]:
        """The user's orders, newest first."""
        after = decode_id_cursor(cursor, "orders")
        with self._uow(write=False) as uow:
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
        Two indexed queries."""
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
        with self._uow(write=True) as uow:
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
        assert moved is not None
        return moved


def _lines(request: PlaceOrder) -> dict[int, int] | None:
    """Quantities by product, lines for the same product added up; ``None``: the cart."""
    if request.items is None:
        return None
    wanted: dict[int, int] = {}
    for line in request.items:
        if not is_valid_id(line.product_id):
            raise NotFound("Product", line.product_id)
        wanted[line.product_id] = wanted.get(line.product_id, 0) + line.quantity
    return wanted


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
