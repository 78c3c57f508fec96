"""The Litestar application: one adapter over a :class:`minicommerce.Shop`."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request, Response, Router
from litestar.config.cors import CORSConfig
from litestar.datastructures import ResponseHeader, State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.routes import HTTPRoute

import minicommerce
from minicommerce import Shop
from minicommerce.catalog.cache import NoCatalogCache
from minicommerce_server.bodies import json_body_check
from minicommerce_server.edge import EdgeMiddleware
from minicommerce_server.observability import Metrics, configure_logging
from minicommerce_server.offload import HandlerThreads, Offload
from minicommerce_server.openapi import render_plugins
from minicommerce_server.pages import STATIC_DIR, content_security_policy, static_site
from minicommerce_server.problems import EXCEPTION_HANDLERS
from minicommerce_server.proxies import TrustedProxies
from minicommerce_server.replay import CatalogReplay
from minicommerce_server.routes.admin_users import AdminUserController
from minicommerce_server.routes.auth import AuthController
from minicommerce_server.routes.cart import CartController
from minicommerce_server.routes.catalog import ProductController
from minicommerce_server.routes.images import MULTIPART_OVERHEAD, ProductImageController
from minicommerce_server.routes.me import MeController
from minicommerce_server.routes.media import media_file
from minicommerce_server.routes.operations import OperationsController
from minicommerce_server.routes.orders import AdminOrderController, OrderController
from minicommerce_server.routes.stats import AdminStatsController
from minicommerce_server.security import provide_caller
from minicommerce_server.services import Backends
from minicommerce_server.settings import ServerSettings

API_PREFIX = "/api/v1"
MAX_BODY = 2 * 1024 * 1024  # generous for JSON, small enough that no body can hurt


def create_app(
    settings: ServerSettings | None = None,
    *,
    shop: Shop | None = None,
    backends: Backends | None = None,
    configure_logs: bool = True,
) -> Litestar:
    """Build the app. ``shop`` and ``backends`` default to what ``settings`` describe; the
    app closes what it opened itself on shutdown."""
    settings = settings or ServerSettings()
    if configure_logs:
        configure_logging(settings.log_level)
    owns_shop = shop is None
    metrics = Metrics()
    shop = shop or Shop.from_settings(settings, migrate=False)
    metrics.catalog_cache = shop.catalog_cache.stats
    timeouts = shop.database.timeouts
    offload = Offload(workers=settings.read_threads, deadline=timeouts.longest_read)
    handler_threads = HandlerThreads(workers=settings.db_pool_size)
    owns_backends = backends is None
    backends = backends or Backends.connect(
        settings.redis_url,
        timeout=settings.redis_timeout,
        on_degraded=lambda: metrics.count("ratelimit_degraded"),
    )

    async def startup() -> None:
        handler_threads.start()

    async def shutdown() -> None:
        handler_threads.stop()
        offload.close()
        if owns_shop:
            shop.close()
        if owns_backends:
            await backends.aclose()

    api = Router(
        path=API_PREFIX,
        route_handlers=[
            AuthController,
            MeController,
            ProductController,
            CartController,
            OrderController,
            AdminOrderController,
            AdminStatsController,
            AdminUserController,
        ],
    )
    # Uploads alone may be as large as the media setting allows; every other body keeps
    # the small limit.
    uploads = Router(
        path=API_PREFIX,
        route_handlers=[ProductImageController],
        request_max_body_size=settings.media_max_bytes + MULTIPART_OVERHEAD,
    )
    cors = (
        CORSConfig(
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "If-Match", "Idempotency-Key"],
            expose_headers=["ETag", "Retry-After", "X-Request-ID"],
        )
        if settings.cors_origin_list
        else None
    )
    dependencies: dict[str, Any] = {
        "shop": Provide(lambda: shop, use_cache=True, sync_to_thread=False),
        "backends": Provide(lambda: backends, use_cache=True, sync_to_thread=False),
        # On the loop: it only checks what the edge found; the session is checked in the
        # handler's own thread (security.Caller).
        "caller": Provide(provide_caller, sync_to_thread=False),
    }
    allowed: dict[str, str] = {}

    check_json_body = json_body_check()

    async def before_request(request: Request[Any, Any, Any]) -> Response[None] | None:
        """``OPTIONS`` answers every method of the path in ``Allow`` (Litestar's own answer
        lists only the methods of the handler it was made with, one of several on a path);
        routes that take a JSON body refuse any other body (415, 400)."""
        if request.method == "OPTIONS":
            allow = allowed.get(request.scope.get("path_template", ""))
            return Response(None, status_code=204, headers={"Allow": allow} if allow else None)
        await check_json_body(request)
        return None

    # Without a catalog cache there is nothing to replay: no recording either.
    replay = None if isinstance(shop.catalog_cache, NoCatalogCache) else CatalogReplay(shop.catalog)
    # Product images may come from a CDN (MINICOMMERCE_MEDIA_URL): the pages allow its origin.
    csp = content_security_policy(settings.media_url)
    storefront = static_site("/", STATIC_DIR / "storefront", csp=csp)
    dashboard = static_site("/admin", STATIC_DIR / "admin", csp=csp)
    app = Litestar(
        route_handlers=[api, uploads, OperationsController, media_file, dashboard, storefront],
        # A layer that sets its own before_request replaces this one: call
        # bodies.check_body there on a route that takes a JSON body.
        before_request=before_request,
        dependencies=dependencies,
        # Set by the edge middleware on every response; listed here for the schema.
        response_headers=[
            ResponseHeader(
                name="X-Content-Type-Options",
                value="nosniff",
                description="`nosniff`, on every response: browsers never guess another type.",
                documentation_only=True,
            )
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        cors_config=cors,
        openapi_config=OpenAPIConfig(
            title="minicommerce",
            version=minicommerce.__version__,
            description="The minicommerce HTTP API, version 1. Errors are RFC 9457 problem "
            "details (`application/problem+json`) with a stable `code`.",
            path="/schema",
            render_plugins=render_plugins(),
            components=Components(
                security_schemes={
                    "BearerToken": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")
                }
            ),
        ),
        request_max_body_size=MAX_BODY,
        on_startup=[startup],
        on_shutdown=[shutdown],
        state=State(
            {
                "metrics": metrics,
                "shop": shop,
                "offload": offload,
                "handler_threads": handler_threads,
                "replay": replay,
            }
        ),
        debug=False,
        logging_config=None,
    )
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            allowed[route.path_format] = ", ".join(sorted(route.methods))
    # Outside routing, so that 404s, 405s and 429s get a request id, a log line and a count.
    app.asgi_handler = EdgeMiddleware(
        app.asgi_handler,
        shop=shop,
        metrics=metrics,
        limiter=backends.limiter,
        anon_rate=settings.rate_limit_anon,
        user_rate=settings.rate_limit_user,
        trusted_proxies=TrustedProxies(settings.trusted_proxy_networks),
        replay=replay,
    )
    return app
