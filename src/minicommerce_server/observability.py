"""Prometheus metrics and JSON log lines."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from litestar import Request

from minicommerce.catalog.cache import CacheStats

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """Counters and latency histograms by method, route and status, for ``/metrics``.

    Each worker process counts its own requests; a scrape shows the worker that answered.
    Kept in the app's state and read with :func:`metrics_of`, not injected: a second
    dependency next to ``shop`` makes Litestar resolve the two in an anyio task group,
    about 12% of an order request's CPU.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self._sums: dict[tuple[str, str], float] = defaultdict(float)
        self._buckets: dict[tuple[str, str], list[int]] = {}
        self.counters: dict[str, int] = defaultdict(int)
        # The shop's catalog cache counts its own hits, misses and Redis errors.
        self.catalog_cache: Callable[[], CacheStats] = CacheStats

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self._requests[(method, route, status)] += 1
            key = (method, route)
            self._sums[key] += seconds
            counts = self._buckets.setdefault(key, [0] * (len(BUCKETS) + 1))
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    counts[i] += 1
                    break
            else:
                counts[-1] += 1

    def count(self, name: str) -> None:
        with self._lock:
            self.counters[name] += 1

    def render(self) -> str:
        lines = [
            "# HELP minicommerce_http_requests_total HTTP requests by method, route and status.",
            "# TYPE minicommerce_http_requests_total counter",
        ]
        with self._lock:
            for (method, route, status), n in sorted(self._requests.items()):
                lines.append(
                    f'minicommerce_http_requests_total{{method="{method}",route="{route}",'
                    f'status="{status}"}} {n}'
                )
            lines += [
                "# HELP minicommerce_http_request_duration_seconds Request latency.",
                "# TYPE minicommerce_http_request_duration_seconds histogram",
            ]
            for (method, route), counts in sorted(self._buckets.items()):
                labels = f'method="{method}",route="{route}"'
                cumulative = 0
                for bound, n in zip((*BUCKETS, float("inf")), counts, strict=True):
                    cumulative += n
                    le = "+Inf" if bound == float("inf") else repr(bound)
                    lines.append(
                        f'minicommerce_http_request_duration_seconds_bucket{{{labels},le="{le}"}} '
                        f"{cumulative}"
                    )
                lines.append(
                    f"minicommerce_http_request_duration_seconds_sum{{{labels}}} "
                    f"{self._sums[(method, route)]:.6f}"
                )
                lines.append(
                    f"minicommerce_http_request_duration_seconds_count{{{labels}}} {cumulative}"
                )
            lines += [
                "# HELP minicommerce_orders_placed_total Orders placed through this process.",
                "# TYPE minicommerce_orders_placed_total counter",
                f"minicommerce_orders_placed_total {self.counters['orders_placed']}",
                "# HELP minicommerce_ratelimit_degraded_total Requests rate-limited per "
                "process because Redis failed or was too slow.",
                "# TYPE minicommerce_ratelimit_degraded_total counter",
                f"minicommerce_ratelimit_degraded_total {self.counters['ratelimit_degraded']}",
            ]
        cache = self.catalog_cache()
        lines += [
            "# HELP minicommerce_catalog_cache_hits_total Catalog reads answered by the cache, "
            "by layer (memory: this process; redis: shared).",
            "# TYPE minicommerce_catalog_cache_hits_total counter",
            f'minicommerce_catalog_cache_hits_total{{layer="memory"}} {cache.memory_hits}',
            f'minicommerce_catalog_cache_hits_total{{layer="redis"}} {cache.redis_hits}',
            "# HELP minicommerce_catalog_cache_misses_total Catalog reads the database answered.",
            "# TYPE minicommerce_catalog_cache_misses_total counter",
            f"minicommerce_catalog_cache_misses_total {cache.misses}",
            "# HELP minicommerce_catalog_cache_errors_total Redis calls of the catalog cache "
            "that failed or timed out (the read or write went on without the cache).",
            "# TYPE minicommerce_catalog_cache_errors_total counter",
            f"minicommerce_catalog_cache_errors_total {cache.errors}",
            "# HELP minicommerce_catalog_invalidations_total Catalog invalidations this "
            "process published and waited for (shared cache only).",
            "# TYPE minicommerce_catalog_invalidations_total counter",
            f"minicommerce_catalog_invalidations_total {cache.invalidations}",
            "# HELP minicommerce_catalog_invalidation_wait_seconds_total Time writes waited "
            "for every process to acknowledge their invalidations.",
            "# TYPE minicommerce_catalog_invalidation_wait_seconds_total counter",
            "minicommerce_catalog_invalidation_wait_seconds_total "
            f"{cache.invalidation_wait_seconds:.6f}",
            "# HELP minicommerce_catalog_lease_expiries_total Invalidations that waited out "
            "the lease: some process did not acknowledge in time.",
            "# TYPE minicommerce_catalog_lease_expiries_total counter",
            f"minicommerce_catalog_lease_expiries_total {cache.lease_expiries}",
        ]
        return "\n".join(lines) + "\n"


_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _RESERVED})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on stderr for minicommerce's loggers. The access log's lines arrive
    already encoded (see ``edge.log_request``), so its handler writes them as they are."""
    formatter = JsonFormatter()
    formatter.converter = time.gmtime
    handler = logging.StreamHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger("minicommerce")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
    access_handler = logging.StreamHandler()
    access_handler.setFormatter(logging.Formatter("%(message)s"))
    access = logging.getLogger("minicommerce.access")
    access.handlers[:] = [access_handler]
    access.propagate = False
    logging.getLogger("alembic").setLevel(logging.WARNING)


def metrics_of(request: Request[Any, Any, Any]) -> Metrics:
    metrics = request.app.state["metrics"]
    assert isinstance(metrics, Metrics)
    return metrics
