"""GET /admin/stats: the staff overview."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from minicommerce import OrderStatus, Shop, StatusChange
from minicommerce.orders.models import PlaceOrder
from tests.server.conftest import Account, Client
from tests.server.helpers import API, MONEY, assert_problem, assert_validation, make_product

STATS = f"{API}/admin/stats"
ADDRESS: dict[str, Any] = {"full_name": "Ada", "line1": "1 Road", "city": "London",
                           "postal_code": "N1", "country": "GB"}  # fmt: skip


def test_the_shape_for_staff(
    client: Client, staff: Account, customer: Account, sqlite_shop: Shop
) -> None:
    mug = make_product(sqlite_shop, "Enamel mug", "19.99", stock=8, sku="MUG-1")
    make_product(sqlite_shop, "Plenty", "1.00", stock=50)
    items = [{"product_id": mug.id, "quantity": 3}]
    for _ in range(2):
        sqlite_shop.orders.place(
            customer.id, PlaceOrder.parse({"shipping_address": ADDRESS, "items": items})
        )
    first = sqlite_shop.orders.list(customer.id).items[-1]
    sqlite_shop.orders.set_status(first.id, StatusChange(status=OrderStatus.CANCELLED))
    response = client.get(STATS, params={"days": 7}, headers=staff.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"currency", "days", "by_status", "low_stock", "low_stock_threshold"}
    assert body["currency"] == "USD"
    today = datetime.now(UTC).date()
    assert [d["date"] for d in body["days"]] == [
        (today - timedelta(days=6 - n)).isoformat() for n in range(7)
    ]
    assert body["days"][-1] == {"date": today.isoformat(), "orders": 1, "revenue": "59.97"}
    assert all(d == {"date": d["date"], "orders": 0, "revenue": "0.00"} for d in body["days"][:-1])
    assert all(MONEY.fullmatch(d["revenue"]) for d in body["days"])
    assert body["by_status"] == {"pending": 1, "paid": 0, "shipped": 0, "delivered": 0,
                                 "cancelled": 1}  # fmt: skip
    # Cancelling returned the stock: 8 - 3 - 3 + 3 = 5, at the threshold.
    assert body["low_stock"] == [
        {"id": mug.id, "sku": "MUG-1", "name": "Enamel mug", "stock_quantity": 5}
    ]
    assert body["low_stock_threshold"] == 5


def test_defaults_and_the_threshold_parameter(
    client: Client, staff: Account, sqlite_shop: Shop
) -> None:
    product = make_product(sqlite_shop, stock=40)
    body = client.get(STATS, headers=staff.headers).json()
    assert len(body["days"]) == 30
    assert body["low_stock"] == []
    body = client.get(STATS, params={"low_stock": 40}, headers=staff.headers).json()
    assert [p["id"] for p in body["low_stock"]] == [product.id]
    assert body["low_stock_threshold"] == 40


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"days": 0}, "days"),
        ({"days": 91}, "days"),
        ({"days": "week"}, "days"),
        ({"low_stock": -1}, "low_stock"),
        ({"low_stock": 100_001}, "low_stock"),
    ],
)
def test_out_of_range_is_422(
    client: Client, staff: Account, params: dict[str, Any], field: str
) -> None:
    assert_validation(client.get(STATS, params=params, headers=staff.headers), field)


def test_staff_only(client: Client, customer: Account) -> None:
    assert_problem(client.get(STATS), 401, "unauthenticated")
    assert_problem(client.get(STATS, headers=customer.headers), 403, "permission_denied")


def test_the_largest_window_is_accepted(client: Client, staff: Account) -> None:
    assert len(client.get(STATS, params={"days": 90}, headers=staff.headers).json()["days"]) == 90
