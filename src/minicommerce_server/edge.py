"""The one middleware around the whole app, before routing.

For every HTTP request it: gives it an id (``X-Request-ID``, echoed back) and its answer
``X-Content-Type-Options: nosniff``; reads the bearer token (signature and claims only, no
database); applies the rate limit, per user when the token is valid, else per client
address; then counts, times and logs the request in one line. Bodies, query strings and
headers are never logged.

It runs outside Litestar's routing so that 404s, 405s and 429s get all of this too, and as
one layer because every layer costs on each request of the hottest routes.
"""

from __future__ import annotations

import logging
import os
import re
import time
from datetime import UTC, datetime

import msgspec
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from minicommerce import RateLimited, Shop
from minicommerce.errors import InvalidToken
from minicommerce.ratelimit import Rate
from minicommerce_server.observability import Metrics
from minicommerce_server.problems import PROBLEM_MEDIA_TYPE, TYPE_PREFIX, Problem
from minicommerce_server.proxies import TrustedProxies
from minicommerce_server.ratelimit import AsyncRateLimiter
from minicommerce_server.replay import CatalogReplay

access_log = logging.getLogger("minicommerce.access")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# On every answer, 404s, 429s and 500s included: no browser may sniff a problem or an
# error page into HTML or script.
NOSNIFF = (b"x-content-type-options", b"nosniff")
API_PREFIX = "/api/"


class EdgeMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        shop: Shop,
        metrics: Metrics,
        limiter: AsyncRateLimiter,
        anon_rate: Rate | None,
        user_rate: Rate | None,
        trusted_proxies: TrustedProxies | None = None,
        replay: CatalogReplay | None = None,
    ) -> None:
        self.app = app
        self._replay = replay
        self._shop = shop
        self._metrics = metrics
        self._limiter = limiter
        self._anon = anon_rate
        self._user = user_rate
        self._proxies = trusted_proxies or TrustedProxies()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        headers = dict(scope["headers"])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.fullmatch(incoming) else os.urandom(16).hex()
        extra_headers = [(b"x-request-id", request_id.encode()), NOSNIFF]
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        user_id = self._identify(headers.get(b"authorization"), state)
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), *extra_headers]
            await send(message)

        try:
            retry_after = await self._limited(scope, user_id)
            if retry_after is not None:
                await _too_many_requests(send_with_id, retry_after)
            else:
                await self._answer(scope, receive, send_with_id, b"origin" in headers)
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("path_template") or _route_template(scope)
            self._metrics.observe(scope["method"], route, status, elapsed)
            if access_log.isEnabledFor(logging.INFO):
                log_request(
                    request_id, scope["method"], scope["path"], route, status, elapsed, user_id
                )

    async def _answer(self, scope: Scope, receive: Receive, send: Send, cross_origin: bool) -> None:
        """The app's answer, or a catalog answer kept from it (see replay.py). A request with
        an ``Origin`` gets CORS headers made for that origin: never kept, never replayed."""
        replay = self._replay
        key = replay.key(scope) if replay is not None and not cross_origin else None
        if replay is None or key is None:
            await self.app(scope, receive, send)
            return
        kept = replay.answer(key)
        if kept is not None:
            scope["path_template"] = kept.route
            await kept.send(send)
            return
        recording = replay.recording(scope, key)

        async def send_recorded(message: Message) -> None:
            recording.see(message)
            await send(message)

        await self.app(scope, receive, send_recorded)

    def _identify(self, authorization: bytes | None, state: dict[str, object]) -> int | None:
        """The user id of a valid access token; a bad token is kept for protected routes
        to report (see :func:`~minicommerce_server.security.provide_caller`)."""
        user_id: int | None = None
        if authorization is not None:
            scheme, _, token = authorization.decode("latin-1").partition(" ")
            token = token.strip()
            if scheme.lower() != "bearer" or not token:
                state["auth_error"] = InvalidToken("Use 'Authorization: Bearer <access_token>'.")
            else:
                try:
                    user_id = self._shop.auth.verify_access_token(token).user_id
                    state["access_token"] = token
                except InvalidToken as exc:
                    state["auth_error"] = exc
        state["user_id"] = user_id
        return user_id

    async def _limited(self, scope: Scope, user_id: int | None) -> int | None:
        """Seconds to wait when over the limit, else ``None``. Only the API is limited."""
        if not scope["path"].startswith(API_PREFIX):
            return None
        if user_id is not None:
            key, rate = f"user:{user_id}", self._user
        else:
            key, rate = f"addr:{self._client(scope)}", self._anon
        if rate is None:
            return None
        decision = await self._limiter.hit(key, rate)
        return None if decision.allowed else decision.retry_after

    def _client(self, scope: Scope) -> str:
        client = scope.get("client")
        peer = client[0] if client else None
        if not self._proxies:
            return peer or "unknown"
        # Every X-Forwarded-For line, in order: a proxy may add its own line.
        forwarded = [
            value.decode("latin-1")
            for name, value in scope["headers"]
            if name == b"x-forwarded-for"
        ]
        return self._proxies.client(peer, forwarded)


def log_request(
    request_id: str,
    method: str,
    path: str,
    route: str,
    status: int,
    seconds: float,
    user_id: int | None,
) -> None:
    """One JSON line per request. It is encoded here, in one msgspec call, rather than by
    the JSON log formatter: at a line per request, the generic formatter cost a tenth of
    the hottest routes' throughput (docs/benchmarks.md)."""
    fields = {
        "request_id": request_id,
        "method": method,
        "path": path,
        "route": route,
        "status": status,
        "duration_ms": round(seconds * 1000, 2),
        "user_id": user_id,
    }
    head = {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds")[:-6] + "Z",
        "level": "info",
        "logger": "minicommerce.access",
        "message": "request",
    }
    # The fields also ride on the record, for handlers of an embedding app's own.
    access_log.info(_encode_line(head | fields).decode(), extra=fields)


_encode_line = msgspec.json.Encoder().encode


def _route_template(scope: Scope) -> str:
    """The route of a request that never reached routing (refused before it), for metrics
    and the log; raw paths would give metrics unbounded cardinality."""
    try:
        router = scope["app"].asgi_router
        return str(router.handle_routing(path=scope["path"], method=scope.get("method"))[4])
    except Exception:  # no such route, or a method it does not have
        return "unmatched"


async def _too_many_requests(send: Send, retry_after: int) -> None:
    error = RateLimited(retry_after)
    body = msgspec.json.encode(
        Problem(
            type=TYPE_PREFIX + error.code,
            title=error.title,
            status=429,
            detail=error.message,
            code=error.code,
            retry_after=error.retry_after,
        )
    )
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(error.retry_after).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})
