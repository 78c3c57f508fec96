"""Orders: what was bought, at which prices, shipped where, and where it stands."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, StrictInt, StringConstraints

from minicommerce.carts.models import MAX_CART_LINES, MAX_LINE_QUANTITY
from minicommerce.catalog.models import LowStockProduct
from minicommerce.commands import WHOLE_NUMBER, Command, Part
from minicommerce.text import Text

MAX_ORDER_LINES = MAX_CART_LINES
MAX_ORDER_TOTAL = Decimal("9999999999.99")
"""The largest order total (and line total) storage holds: ``NUMERIC(12, 2)``."""


class OrderStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


# The state machine: pending -> paid -> shipped -> delivered; pending or paid -> cancelled.
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset({OrderStatus.PAID, OrderStatus.CANCELLED}),
    OrderStatus.PAID: frozenset({OrderStatus.SHIPPED, OrderStatus.CANCELLED}),
    OrderStatus.SHIPPED: frozenset({OrderStatus.DELIVERED}),
    OrderStatus.DELIVERED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
}

Text200 = Annotated[Text, StringConstraints(min_length=1, max_length=200)]
Optional200 = Annotated[Text, StringConstraints(max_length=200)]


class ShippingAddress(Part):
    full_name: Text200
    line1: Text200
    line2: Optional200 | None = None
    city: Text200
    region: Optional200 | None = None
    postal_code: Text200
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
    """ISO 3166-1 alpha-2, upper case (``"DE"``)."""
    phone: Optional200 | None = None


class OrderLineInput(Part):
    product_id: Annotated[StrictInt, Field(ge=1), WHOLE_NUMBER]
    quantity: Annotated[StrictInt, Field(ge=1, le=MAX_LINE_QUANTITY), WHOLE_NUMBER]


class PlaceOrder(Command):
    """Check out: explicit ``items``, or the caller's cart when ``items`` is omitted."""

    shipping_address: ShippingAddress
    items: (
        Annotated[list[OrderLineInput], Field(min_length=1, max_length=MAX_ORDER_LINES)] | None
    ) = None

    def fingerprint(self) -> str:
        """A stable hash of the request, to tell a retry from a different request."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(slots=True)
class OrderItem:
    product_id: int
    sku: str | None
    name: str
    quantity: int
    unit_price: Decimal
    line_total: Decimal


@dataclass(slots=True)
class Order:
    """A placed order. Lines and address are copies: later catalog changes never alter it."""

    id: int
    status: OrderStatus
    items: list[OrderItem]
    total_amount: Decimal
    currency: str
    shipping_address: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(slots=True)
class Customer:
    """Who placed an order, as staff see it."""

    id: int
    email: str
    first_name: str
    last_name: str


@dataclass(slots=True)
class AdminOrder(Order):
    """An order with its customer, for staff."""

    user: Customer


class StatusChange(Command):
    """Staff move an order along ``pending -> paid -> shipped -> delivered`` or cancel it."""

    status: OrderStatus


def line_json(item: OrderItem) -> dict[str, object]:
    """An order line as JSON, money as exact strings (kept answers, placement's write)."""
    return {
        "product_id": item.product_id,
        "sku": item.sku,
        "name": item.name,
        "quantity": item.quantity,
        "unit_price": str(item.unit_price),
        "line_total": str(item.line_total),
    }


def answer_of(order: Order) -> str:
    """The order as answered, for an idempotent replay: JSON of every field but the id
    (kept beside it), money as exact strings."""
    return json.dumps(
        {
            "status": order.status.value,
            "items": [line_json(item) for item in order.items],
            "total_amount": str(order.total_amount),
            "currency": order.currency,
            "shipping_address": order.shipping_address,
            "created_at": order.created_at.isoformat(),
            "updated_at": order.updated_at.isoformat(),
        },
        separators=(",", ":"),
    )


def order_from_answer(order_id: int, answer: str) -> Order:
    """The order that :func:`answer_of` kept."""
    data = json.loads(answer)
    return Order(
        id=order_id,
        status=OrderStatus(data["status"]),
        items=[
            OrderItem(
                product_id=item["product_id"],
                sku=item["sku"],
                name=item["name"],
                quantity=item["quantity"],
                unit_price=Decimal(item["unit_price"]),
                line_total=Decimal(item["line_total"]),
            )
            for item in data["items"]
        ],
        total_amount=Decimal(data["total_amount"]),
        currency=data["currency"],
        shipping_address=data["shipping_address"],
        created_at=datetime.fromisoformat(data["created_at"]),
        updated_at=datetime.fromisoformat(data["updated_at"]),
    )


MAX_STATS_DAYS = 90
MAX_LOW_STOCK = 100_000
LOW_STOCK_LIMIT = 50


@dataclass(slots=True)
class DaySales:
    """One UTC calendar day: orders placed that day that are not cancelled, and the exact
    sum of their totals."""

    date: dt.date
    orders: int
    revenue: Decimal


@dataclass(slots=True)
class ShopStats:
    """The staff overview: sales per day over the last ``len(days)`` days (today last),
    the orders of that window by current status, and live products low on stock."""

    currency: str
    days: list[DaySales]
    by_status: dict[str, int]
    low_stock: list[LowStockProduct]
    """Live products with ``stock_quantity <= low_stock_threshold``, lowest first, then by
    id; at most 50."""
    low_stock_threshold: int
