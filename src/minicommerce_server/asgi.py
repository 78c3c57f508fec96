"""ASGI entry point for other servers, and the one ``minicommerce serve`` gives each worker.

granian --interface asgi --factory minicommerce_server.asgi:create
"""

from __future__ import annotations

import gc

from litestar import Litestar

from minicommerce_server.app import create_app

GC_THRESHOLDS = (20_000, 50, 100)
"""Allocations between young collections, and collections between older ones (CPython's
defaults: 700, 10, 10)."""


def create() -> Litestar:
    """The app that ``MINICOMMERCE_*`` settings describe (the schema must be up to date),
    in a worker process whose garbage collector is set for serving (:func:`settle_heap`)."""
    app = create_app()
    settle_heap()
    return app


def settle_heap() -> None:
    """Freeze what start-up made and collect the young generation less often.

    A worker holds some hundred thousand long-lived objects (routes, schemas, SQLAlchemy's
    metadata and caches) that every full collection walked again, in pauses of 17-64 ms
    seen under load; requests waiting behind one made the tail. Frozen objects are never
    walked again, and with young collections 28x rarer the older generations fill more
    slowly. Measured on the order bench (docs/benchmarks.md). For the serving process only:
    the library leaves the collector alone, and so does ``create_app``, which tests and
    embedders call."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
