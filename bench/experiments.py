"""Variants of the server app, to measure ideas without editing ``src/``.

``bench/run.py --experiments`` serves each variant on granian (2 workers) and loads it
like the real server. A variant is a comma-separated list of flags (``BENCH_VARIANT``):

- ``real``: exactly ``minicommerce_server.app.create_app()``, what ``minicommerce serve``
  runs (the reference of the comparison);
- ``inline``: the two catalog GET handlers run in the event loop (``sync_to_thread=False``)
  instead of being handed to a thread of the executor for every request;
- ``nomw``: without the app's two custom ASGI layers (RequestMiddleware: request id,
  metrics, access log; CallerMiddleware: bearer token, rate limit);
- ``threads=N``: Litestar's sync handlers use an executor of N threads (default: the
  event loop's default executor, min(32, cores + 4) threads);
- ``switch=S``: ``sys.setswitchinterval(S)`` (the GIL hand-over interval, 0.005 s by default);
- ``log=LEVEL``: ``MINICOMMERCE_LOG_LEVEL=LEVEL`` (``INFO`` turns the access log on; bench/run.py
  then sends the server's output to /dev/null).

Every variant but ``real`` rebuilds the app the way ``create_app`` does (same settings,
shop, dependencies, exception handlers, middlewares, route functions) with the one change.
"""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from litestar import Controller, Litestar, Router, get
from litestar.concurrency import set_asyncio_executor
from litestar.di import Provide
from litestar.middleware import DefineMiddleware

from minicommerce import Settings, Shop
from minicommerce_server.app import API_PREFIX, MAX_BODY, create_app  # type: ignore[import-untyped, unused-ignore]
from minicommerce_server.observability import Metrics, RequestMiddleware, configure_logging  # type: ignore[import-untyped, unused-ignore]
from minicommerce_server.problems import EXCEPTION_HANDLERS  # type: ignore[import-untyped, unused-ignore]
from minicommerce_server.routes.catalog import ProductController  # type: ignore[import-untyped, unused-ignore]
from minicommerce_server.routes.operations import OperationsController  # type: ignore[import-untyped, unused-ignore]
from minicommerce_server.security import CallerMiddleware  # type: ignore[import-untyped, unused-ignore]
from minicommerce_server.services import Backends  # type: ignore[import-untyped, unused-ignore]

VARIANT_ENV = "BENCH_VARIANT"


def parse(variant: str) -> dict[str, str]:
    flags: dict[str, str] = {}
    for part in variant.split(","):
        name, _, value = part.strip().partition("=")
        if name:
            flags[name] = value
    return flags


def create() -> Litestar:
    flags = parse(os.environ.get(VARIANT_ENV, "real"))
    if "log" in flags:
        os.environ["MINICOMMERCE_LOG_LEVEL"] = flags["log"]
    if "switch" in flags:
        sys.setswitchinterval(float(flags["switch"]))
    if "threads" in flags:
        set_asyncio_executor(ThreadPoolExecutor(int(flags["threads"]), "bench-sync"))
    if "real" in flags:
        app: Litestar = create_app()
        return app
    return build(flags)


def build(flags: dict[str, str]) -> Litestar:
    settings = Settings()
    configure_logging(settings.log_level)
    shop = Shop.from_settings(settings, migrate=False)
    backends = Backends.connect(settings.redis_url)
    metrics = Metrics()
    in_thread = "inline" not in flags

    class Catalog(Controller):
        path = "/products"
        list_products = get("/", sync_to_thread=in_thread)(ProductController.list_products.fn)
        get_product = get("/{product_id:int}", sync_to_thread=in_thread)(
            ProductController.get_product.fn
        )

    middleware = []
    if "nomw" not in flags:
        middleware = [
            DefineMiddleware(
                CallerMiddleware,
                shop=shop,
                limiter=backends.limiter,
                anon_rate=settings.rate_limit_anon,
                user_rate=settings.rate_limit_user,
                trust_forwarded_for=settings.trust_forwarded_for,
            ),
        ]
    dependencies: dict[str, Any] = {
        "shop": Provide(lambda: shop, use_cache=True, sync_to_thread=False),
        "backends": Provide(lambda: backends, use_cache=True, sync_to_thread=False),
        "metrics": Provide(lambda: metrics, use_cache=True, sync_to_thread=False),
    }

    def shutdown() -> None:
        shop.close()
        backends.close()

    app = Litestar(
        route_handlers=[Router(path=API_PREFIX, route_handlers=[Catalog]), OperationsController],
        dependencies=dependencies,
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type, unused-ignore]
        middleware=middleware,
        request_max_body_size=MAX_BODY,
        on_shutdown=[shutdown],
        debug=False,
        logging_config=None,
    )
    if "nomw" not in flags:
        # As create_app does: outside routing (request id, metrics, access log).
        app.asgi_handler = RequestMiddleware(app.asgi_handler, metrics=metrics)
    return app


def main() -> None:
    from granian import Granian
    from granian.constants import Interfaces

    parser = argparse.ArgumentParser(description="Serve one variant of the app on granian.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8098)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--variant", default=os.environ.get(VARIANT_ENV, "real"))
    args = parser.parse_args()
    here = Path(__file__).resolve().parent
    os.environ[VARIANT_ENV] = args.variant
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(here), os.environ.get("PYTHONPATH", "")) if p
    )
    Granian(
        "experiments:create",
        factory=True,
        address=args.host,
        port=args.port,
        workers=args.workers,
        interface=Interfaces.ASGI,
        log_access=False,
        working_dir=here,
    ).serve()


if __name__ == "__main__":
    main()
