"""The staff overview on every backend: exact sums, UTC days, zero-filled, low stock."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from minicommerce import (
    NewProduct,
    OrderStatus,
    Product,
    ProductChanges,
    Registration,
    Shop,
    StatusChange,
    ValidationError,
)
from minicommerce.orders.models import PlaceOrder
from tests.conftest import FAST_ARGON2, SECRET

ADDRESS: dict[str, Any] = {"full_name": "Ada", "line1": "1 Road", "city": "London",
                           "postal_code": "N1", "country": "GB"}  # fmt: skip


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 30, 12, 0, tzinfo=UTC))


@pytest.fixture
def clocked_shop(database_url: str, clock: Clock) -> Iterator[Shop]:
    with Shop.open(
        database_url, secret_key=SECRET, argon2=FAST_ARGON2, migrate=False, clock=clock
    ) as shop:
        yield shop


def product(shop: Shop, price: str, stock: int = 1000, name: str = "Mug", **kw: Any) -> Product:
    return shop.catalog.create(NewProduct(name=name, price=price, stock_quantity=stock, **kw))


def buyer(shop: Shop) -> int:
    email = f"u{uuid.uuid4().hex[:10]}@example.com"
    return shop.accounts.register(Registration(email=email, password="x" * 8)).id


def order(shop: Shop, user_id: int, *lines: tuple[Product, int]) -> int:
    items = [{"product_id": p.id, "quantity": q} for p, q in lines]
    placed, _ = shop.orders.place(
        user_id, PlaceOrder.parse({"shipping_address": ADDRESS, "items": items})
    )
    return placed.id


def by_date(shop: Shop, days: int) -> dict[date, tuple[int, str]]:
    return {d.date: (d.orders, str(d.revenue)) for d in shop.orders.stats(days).days}


def test_an_empty_shop_has_every_day_zero_filled(clocked_shop: Shop) -> None:
    stats = clocked_shop.orders.stats(7)
    assert [d.date for d in stats.days] == [date(2026, 11, 24) + timedelta(n) for n in range(7)]
    assert all(d.orders == 0 and d.revenue == Decimal("0.00") for d in stats.days)
    assert str(stats.days[0].revenue) == "0.00"
    assert stats.by_status == {s.value: 0 for s in OrderStatus}
    assert list(stats.by_status) == ["pending", "paid", "shipped", "delivered", "cancelled"]
    assert stats.currency == "USD"
    assert stats.low_stock == []
    assert stats.low_stock_threshold == 5


def test_orders_and_exact_revenue_per_utc_day(clocked_shop: Shop, clock: Clock) -> None:
    shop = clocked_shop
    cheap, odd = product(shop, "0.10"), product(shop, "19.99")
    uid = buyer(shop)
    # Day boundaries are UTC: 23:59:59.999999 is still the 28th, 00:00 is the 29th.
    clock.now = datetime(2026, 11, 28, 23, 59, 59, 999_999, tzinfo=UTC)
    order(shop, uid, (cheap, 3))  # 0.30: 0.1 * 3 is not 0.3 in floats
    clock.now = datetime(2026, 11, 29, 0, 0, tzinfo=UTC)
    order(shop, uid, (odd, 3))  # 59.97
    order(shop, uid, (cheap, 1), (odd, 1))  # 20.09
    # Out of the window: 7 days ago (the window is today and the 6 days before).
    clock.now = datetime(2026, 11, 23, 23, 59, tzinfo=UTC)
    order(shop, uid, (odd, 1))
    clock.now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    days = by_date(shop, 7)
    assert days[date(2026, 11, 28)] == (1, "0.30")
    assert days[date(2026, 11, 29)] == (2, "80.06")
    assert days[date(2026, 11, 30)] == (0, "0.00")
    assert date(2026, 11, 23) not in days
    assert len(days) == 7
    assert by_date(shop, 8)[date(2026, 11, 23)] == (1, "19.99")


def test_a_day_boundary_in_another_time_zone_is_still_utc(clocked_shop: Shop, clock: Clock) -> None:
    from zoneinfo import ZoneInfo

    shop = clocked_shop
    mug = product(shop, "5.00")
    uid = buyer(shop)
    # 01:30 in Berlin on the 30th is 00:30 UTC on the 30th; 00:30 in Berlin is the 29th UTC.
    clock.now = datetime(2026, 11, 30, 0, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    order(shop, uid, (mug, 1))
    clock.now = datetime(2026, 11, 30, 1, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    order(shop, uid, (mug, 2))
    days = by_date(shop, 2)
    assert days == {date(2026, 11, 29): (1, "5.00"), date(2026, 11, 30): (1, "10.00")}


def test_cancelled_orders_count_by_status_but_not_in_revenue(
    clocked_shop: Shop, clock: Clock
) -> None:
    shop = clocked_shop
    mug = product(shop, "12.50")
    uid = buyer(shop)
    ids = [order(shop, uid, (mug, 1)) for _ in range(5)]
    shop.orders.set_status(ids[0], StatusChange(status=OrderStatus.PAID))
    shop.orders.set_status(ids[1], StatusChange(status=OrderStatus.PAID))
    shop.orders.set_status(ids[1], StatusChange(status=OrderStatus.SHIPPED))
    shop.orders.set_status(ids[2], StatusChange(status=OrderStatus.CANCELLED))
    clock.now = datetime(2026, 10, 1, tzinfo=UTC)  # an old order: outside every window
    old = order(shop, uid, (mug, 1))
    shop.orders.set_status(old, StatusChange(status=OrderStatus.CANCELLED))
    clock.now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    stats = shop.orders.stats(30)
    assert stats.by_status == {"pending": 2, "paid": 1, "shipped": 1, "delivered": 0,
                               "cancelled": 1}  # fmt: skip
    today = stats.days[-1]
    assert (today.date, today.orders, today.revenue) == (date(2026, 11, 30), 4, Decimal("50.00"))
    assert sum(d.orders for d in stats.days) == 4


def test_low_stock_lowest_first_then_id_live_only(clocked_shop: Shop) -> None:
    shop = clocked_shop
    a = product(shop, "1.00", 3, "a", sku="A-1")
    b = product(shop, "1.00", 0, "b")
    c = product(shop, "1.00", 3, "c")
    product(shop, "1.00", 6, "plenty")
    gone = product(shop, "1.00", 0, "archived")
    shop.catalog.delete(gone.id)
    edge = product(shop, "1.00", 5, "edge")
    stats = shop.orders.stats()
    assert [(p.id, p.stock_quantity) for p in stats.low_stock] == [
        (b.id, 0),
        (a.id, 3),
        (c.id, 3),
        (edge.id, 5),
    ]
    assert stats.low_stock[1].sku == "A-1"
    assert stats.low_stock[1].name == "a"
    assert [p.id for p in shop.orders.stats(low_stock=0).low_stock] == [b.id]
    assert shop.orders.stats(low_stock=3).low_stock_threshold == 3
    shop.catalog.update(b.id, ProductChanges(stock_quantity=100))
    assert b.id not in [p.id for p in shop.orders.stats().low_stock]


def test_low_stock_lists_at_most_fifty(clocked_shop: Shop) -> None:
    for n in range(52):
        product(clocked_shop, "1.00", n % 3, f"p{n}")
    low = clocked_shop.orders.stats().low_stock
    assert len(low) == 50
    assert [(p.stock_quantity, p.id) for p in low] == sorted((p.stock_quantity, p.id) for p in low)


def test_the_threshold_default_is_the_shops(database_url: str) -> None:
    with Shop.open(database_url, migrate=False, secret_key=SECRET, low_stock_threshold=0) as shop:
        product(shop, "1.00", 1)
        assert shop.orders.stats().low_stock == []
        assert shop.orders.stats().low_stock_threshold == 0


@pytest.mark.parametrize(("days", "low_stock"), [(0, 5), (91, 5), (7, -1), (7, 100_001)])
def test_out_of_range_parameters_are_refused(shop: Shop, days: int, low_stock: int) -> None:
    with pytest.raises(ValidationError):
        shop.orders.stats(days, low_stock)


def test_it_is_two_queries(clocked_shop: Shop) -> None:
    import sqlalchemy as sa

    statements: list[str] = []

    def count(_conn: object, _cur: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    sa.event.listen(clocked_shop.database.reader, "before_cursor_execute", count)
    clocked_shop.orders.stats(90)
    sa.event.remove(clocked_shop.database.reader, "before_cursor_execute", count)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 2
