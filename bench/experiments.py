"""Variants of the server app, to measure ideas without editing ``src/``.

``bench/run.py --experiments`` serves each variant on granian (2 workers) and loads it
like the real server. A variant is a comma-separated list of flags (``BENCH_VARIANT``):

- ``real``: exactly ``minicommerce_server.app.create_app()``, what ``minicommerce serve``
  runs (the reference of the comparison);
- ``threads=N``: Litestar's sync handlers use an executor of N threads (default: the
  event loop's default executor, min(32, cores + 4) threads);
- ``switch=S``: ``sys.setswitchinterval(S)`` (the GIL hand-over interval, 0.005 s by default);
- ``log=LEVEL``: ``MINICOMMERCE_LOG_LEVEL=LEVEL`` (``INFO`` turns the access log on; bench/run.py
  then sends the server's output to /dev/null).

Earlier variants (catalog reads on the event loop, one merged middleware) were measured
here, won, and are now what ``real`` runs (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ThreadPoolExecutor

from litestar import Litestar
from litestar.concurrency import set_asyncio_executor

from minicommerce_server.app import create_app

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
    unknown = set(flags) - {"real", "log", "switch", "threads"}
    if unknown:
        raise SystemExit(f"unknown experiment flags: {sorted(unknown)}")
    if "log" in flags:
        os.environ["MINICOMMERCE_LOG_LEVEL"] = flags["log"]
    if "switch" in flags:
        sys.setswitchinterval(float(flags["switch"]))
    if "threads" in flags:
        set_asyncio_executor(ThreadPoolExecutor(int(flags["threads"]), "bench-sync"))
    app: Litestar = create_app()
    return app


def main() -> None:
    from ceiling_app import serve

    parser = argparse.ArgumentParser(description="Serve one variant of the app on granian.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8098)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--variant", default=os.environ.get(VARIANT_ENV, "real"))
    args = parser.parse_args()
    os.environ[VARIANT_ENV] = args.variant
    serve("experiments:create", args.host, args.port, args.workers)


if __name__ == "__main__":
    main()
