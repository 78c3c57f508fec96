"""The staff overview: sales per day, orders by status, products running out."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from minicommerce import Shop, ShopStats, User
from minicommerce.orders.models import MAX_LOW_STOCK, MAX_STATS_DAYS
from minicommerce_server.problems import problems

BEARER: list[dict[str, list[str]]] = [{"BearerToken": []}]


class AdminStatsController(Controller):
    path = "/admin/stats"
    tags = ["Admin"]
    security = BEARER

    @get(
        "/",
        sync_to_thread=True,
        summary="Sales per day, orders by status and low-stock products (staff)",
        description="`days`: one entry per UTC calendar day of the last `days` days, today "
        "included, oldest first, zero-filled; `orders` counts the orders placed that day "
        "that are not cancelled and `revenue` is the exact sum of their totals. `by_status`: "
        "the orders placed in the same window by current status, every status present. "
        "`low_stock`: live products with `stock_quantity <= low_stock` (default "
        "`MINICOMMERCE_LOW_STOCK_THRESHOLD`), lowest stock first, then by id, at most 50.",
        responses=problems(401, 403, 422, 429),
    )
    def stats(
        self,
        staff_user: NamedDependency[User],
        shop: NamedDependency[Shop],
        days: Annotated[int, QueryParameter(ge=1, le=MAX_STATS_DAYS)] = 30,
        low_stock: Annotated[int | None, QueryParameter(ge=0, le=MAX_LOW_STOCK)] = None,
    ) -> ShopStats:
        return shop.orders.stats(days, low_stock)
