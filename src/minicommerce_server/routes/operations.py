"""Operations: liveness, readiness, metrics (outside the API prefix, not rate limited)."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Controller, MediaType, Request, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec

from minicommerce import Shop
from minicommerce_server.observability import metrics_of
from minicommerce_server.offload import offload_of
from minicommerce_server.services import Backends

log = logging.getLogger("minicommerce.server")


class OperationsController(Controller):
    tags = ["Operations"]
    include_in_schema = True

    @get("/health", sync_to_thread=False, summary="Liveness: 200 while the process is up")
    def health(self) -> dict[str, str]:
        return {"status": "ok"}

    @get(
        "/ready",
        summary="Readiness: 200 when the database (and Redis, if configured) answer",
        responses={
            503: ResponseSpec(
                data_container=dict[str, str],
                description="A backing service does not answer; the body says which.",
                generate_examples=False,
            )
        },
    )
    async def ready(
        self,
        request: Request[Any, Any, Any],
        shop: NamedDependency[Shop],
        backends: NamedDependency[Backends],
    ) -> Response[dict[str, str]]:
        # Both checks block, so they run in the offload pool, whose deadline also bounds
        # a check that a stalled database or Redis would otherwise hold forever.
        offload = offload_of(request)
        checks: dict[str, str] = {}
        try:
            await offload.run(shop.ping)
            checks["database"] = "ok"
        except Exception as exc:  # any failure means not ready
            log.warning("readiness: database check failed: %s", type(exc).__name__)
            checks["database"] = "unavailable"
        if backends.redis is not None:
            try:
                redis_ok = await offload.run(backends.redis_answers)
            except Exception:  # the deadline passed
                redis_ok = False
            checks["redis"] = "ok" if redis_ok else "unavailable"
        ok = all(v == "ok" for v in checks.values())
        return Response(
            {"status": "ok" if ok else "unavailable", **checks}, status_code=200 if ok else 503
        )

    @get(
        "/metrics",
        sync_to_thread=False,
        media_type=MediaType.TEXT,
        summary="Prometheus metrics (text format 0.0.4)",
    )
    def metrics(self, request: Request[Any, Any, Any]) -> Response[str]:
        return Response(metrics_of(request).render(), media_type="text/plain; version=0.0.4")
