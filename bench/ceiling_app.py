"""The ceiling: a bare Litestar app that answers the benchmarked routes with fixed bytes.

It serves, as-is, bodies captured from the real server (a list page, a product, a placed
order, a cart and a cart line set), so its responses weigh exactly what the real ones
weigh, but it does no database work, no validation, no middleware and no serialisation (for
orders and cart lines it reads the request body and ignores it). What the real server
reaches as a fraction of this app's rate, on the same ASGI server and machine, is what the
benchmarks report.

Run it (bench/run.py, bench/orders.py and bench/fleet.py do) with any of the bodies::

    BENCH_CEILING_LIST=list.json BENCH_CEILING_DETAIL=detail.json \\
        BENCH_CEILING_ORDER=order.json BENCH_CEILING_CART=cart.json \\
        BENCH_CEILING_CART_LINE=line.json python bench/ceiling_app.py --port 8099 --workers 2
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from litestar import Litestar, Request, Response, get, post, put

LIST_ENV = "BENCH_CEILING_LIST"
DETAIL_ENV = "BENCH_CEILING_DETAIL"
ORDER_ENV = "BENCH_CEILING_ORDER"
CART_ENV = "BENCH_CEILING_CART"  # GET /cart
CART_LINE_ENV = "BENCH_CEILING_CART_LINE"  # PUT /cart/items/{product_id}
JSON = "application/json"


def _body(env: str) -> bytes:
    path = os.environ.get(env)
    return Path(path).read_bytes() if path else b"{}"


def create() -> Litestar:
    """The app, with the bodies named by ``BENCH_CEILING_LIST``, ``BENCH_CEILING_DETAIL``,
    ``BENCH_CEILING_ORDER``, ``BENCH_CEILING_CART`` and ``BENCH_CEILING_CART_LINE`` (each
    optional: ``{}`` without it)."""
    list_body = _body(LIST_ENV)
    detail_body = _body(DETAIL_ENV)
    order_body = _body(ORDER_ENV)
    cart_body = _body(CART_ENV)
    cart_line_body = _body(CART_LINE_ENV)

    @get("/health", sync_to_thread=False)
    async def health() -> Response[bytes]:
        return Response(b'{"status":"ok"}', media_type=JSON)

    @get("/api/v1/products", sync_to_thread=False)
    async def list_products() -> Response[bytes]:
        return Response(list_body, media_type=JSON)

    @get("/api/v1/products/{product_id:int}", sync_to_thread=False)
    async def get_product(product_id: int) -> Response[bytes]:
        return Response(detail_body, media_type=JSON, headers={"ETag": '"1"'})

    @post("/api/v1/orders", sync_to_thread=False)
    async def place_order(request: Request[Any, Any, Any]) -> Response[bytes]:
        await request.body()
        return Response(order_body, media_type=JSON, status_code=201)

    @get("/api/v1/cart", sync_to_thread=False)
    async def view_cart() -> Response[bytes]:
        return Response(cart_body, media_type=JSON)

    @put("/api/v1/cart/items/{product_id:int}", sync_to_thread=False)
    async def set_cart_line(product_id: int, request: Request[Any, Any, Any]) -> Response[bytes]:
        await request.body()
        return Response(cart_line_body, media_type=JSON)

    return Litestar(
        route_handlers=[health, list_products, get_product, place_order, view_cart, set_cart_line],
        openapi_config=None,
        logging_config=None,
        debug=False,
    )


def serve(factory: str, host: str, port: int, workers: int) -> None:
    """Serve ``module:factory`` from this folder on granian (also used by experiments.py)."""
    from granian import Granian
    from granian.constants import Interfaces

    here = Path(__file__).resolve().parent
    # The workers import the module by name: make it importable from them.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(here), os.environ.get("PYTHONPATH", "")) if p
    )
    Granian(
        factory,
        factory=True,
        address=host,
        port=port,
        workers=workers,
        interface=Interfaces.ASGI,
        log_access=False,
        working_dir=here,
    ).serve()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    serve("ceiling_app:create", args.host, args.port, args.workers)


if __name__ == "__main__":
    main()
