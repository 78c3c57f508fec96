"""In-process costs, without HTTP: the core's catalog calls and argon2 password hashing.

``bench/run.py`` calls these; on its own::

    python bench/inprocess.py postgresql://postgres@127.0.0.1:5432/minicommerce_bench

Each catalog figure is calls per second on ONE thread, so it is what one worker's GIL
could do at best if HTTP cost nothing.
"""

from __future__ import annotations

import json
import logging
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa

from minicommerce import Argon2Parameters, ProductQuery, Shop
from minicommerce.accounts.passwords import PasswordHasher
from minicommerce.pagination import DEFAULT_LIMIT
from minicommerce.storage.tables import products


@dataclass(frozen=True, slots=True)
class Rate:
    calls: int
    seconds: float
    cpu_seconds: float  # this process, all threads

    @property
    def per_second(self) -> float:
        return self.calls / self.seconds if self.seconds else 0.0

    @property
    def us_per_call(self) -> float:
        return self.seconds / self.calls * 1e6 if self.calls else 0.0

    def as_dict(self) -> dict[str, float]:
        return {
            "calls": self.calls,
            "seconds": round(self.seconds, 3),
            "per_second": round(self.per_second, 1),
            "us_per_call": round(self.us_per_call, 1),
            "cpu_us_per_call": round(self.cpu_seconds / self.calls * 1e6, 1) if self.calls else 0,
        }


def loop(fn: Callable[[], object], seconds: float) -> Rate:
    """Call ``fn`` for about ``seconds`` (after a short warm-up); count the calls."""
    warm_until = time.perf_counter() + min(0.5, seconds / 4)
    while time.perf_counter() < warm_until:
        fn()
    calls = 0
    start, start_cpu = time.perf_counter(), time.process_time()
    deadline = start + seconds
    now = start
    while now < deadline:
        for _ in range(20):
            fn()
        calls += 20
        now = time.perf_counter()
    return Rate(calls, now - start, time.process_time() - start_cpu)


def _statements() -> tuple[sa.Select[Any], sa.Select[Any]]:
    """The list page's and a product's SELECT, as the catalog runs them, rebuilt here from
    the public table so that the bench does not lean on the repository's internals."""
    p = products.c
    select = sa.select(
        p.id, p.sku, p.name, p.description, p.price, p.stock_quantity,
        p.created_at, p.updated_at, p.version, (p.stock_quantity > 0).label("in_stock"),
    ).where(p.deleted_at.is_(None))  # fmt: skip
    return (
        select.order_by(p.id.desc()).limit(DEFAULT_LIMIT + 1),
        select.where(p.id == sa.bindparam("product_id", type_=p.id.type)),
    )


def catalog_rates(shop: Shop, ids: tuple[int, int], seconds: float) -> dict[str, dict[str, float]]:
    """Calls per second of the core's catalog reads, and of the bare SQL beneath them.

    - ``list`` / ``get``: ``shop.catalog.list(ProductQuery(limit=20))`` / ``shop.catalog.get(id)``
    - ``list_query``: building and validating the ProductQuery alone
    - ``checkout``: taking a reader connection from the pool and giving it back
    - ``sql_list`` / ``sql_get``: the same SELECT, prebuilt, through SQLAlchemy Core on a
      held connection (no unit of work, no Product objects)
    - ``driver_list`` / ``driver_get``: the same SQL text straight through psycopg
    """
    rng = random.Random(1)
    lo, hi = ids
    rates: dict[str, Rate] = {}
    rates["list"] = loop(lambda: shop.catalog.list(ProductQuery(limit=20)), seconds)
    rates["get"] = loop(lambda: shop.catalog.get(rng.randint(lo, hi)), seconds)
    rates["list_query"] = loop(lambda: ProductQuery(limit=20), seconds / 2)

    def checkout() -> None:
        with shop.database.reader.connect():
            pass

    rates["checkout"] = loop(checkout, seconds / 2)
    list_stmt, get_stmt = _statements()
    with shop.database.reader.connect() as conn:
        rates["sql_list"] = loop(lambda: conn.execute(list_stmt).all(), seconds)
        rates["sql_get"] = loop(
            lambda: conn.execute(get_stmt, {"product_id": rng.randint(lo, hi)}).first(), seconds
        )
        dialect = shop.database.reader.dialect
        list_sql = str(list_stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        get_compiled = get_stmt.compile(dialect=dialect)
        get_sql, get_params = str(get_compiled), dict(get_compiled.params)
        raw: Any = conn.connection.dbapi_connection
        cursor = raw.cursor()
        rates["driver_list"] = loop(lambda: cursor.execute(list_sql).fetchall(), seconds)
        rates["driver_get"] = loop(
            lambda: cursor.execute(
                get_sql, {**get_params, "product_id": rng.randint(lo, hi)}
            ).fetchone(),
            seconds,
        )
        cursor.close()
    return {name: rate.as_dict() for name, rate in rates.items()}


def access_log_cost(seconds: float) -> dict[str, float]:
    """CPU per access-log line, as the server writes it: the app's logging configuration
    (``configure_logging("INFO")``: JSON lines) and ``edge.log_request``, to /dev/null.
    The logger's handlers and level are restored afterwards."""
    from minicommerce_server.edge import access_log, log_request
    from minicommerce_server.observability import configure_logging

    root = logging.getLogger("minicommerce")
    saved = (root.handlers[:], root.level, root.propagate)
    saved_access = (access_log.handlers[:], access_log.propagate)
    configure_logging("INFO")
    handler = access_log.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    with open(os.devnull, "w") as sink:
        handler.setStream(sink)
        rate = loop(
            lambda: log_request(
                "6bb9300a18c14ece82fe3b1f61b58957",
                "GET",
                "/api/v1/products",
                "/api/v1/products",
                200,
                0.01234,
                None,
            ),
            seconds,
        )
    root.handlers[:], root.level, root.propagate = saved
    access_log.handlers[:], access_log.propagate = saved_access
    return rate.as_dict()


def argon2_timings(params: Argon2Parameters, rounds: int = 10) -> dict[str, Any]:
    """Median (and spread) of ``rounds`` hashes and verifications with ``params``."""
    hasher = PasswordHasher(params)
    password = "correct horse battery staple"
    hashes: list[float] = []
    cpu: list[float] = []
    encoded = hasher.hash(password)  # warm-up
    for _ in range(rounds):
        start, start_cpu = time.perf_counter(), time.process_time()
        encoded = hasher.hash(password)
        hashes.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    verifies: list[float] = []
    for _ in range(rounds):
        start = time.perf_counter()
        hasher.verify(encoded, password)
        verifies.append(time.perf_counter() - start)
    return {
        "parameters": asdict(params),
        "rounds": rounds,
        "hash_ms_median": round(statistics.median(hashes) * 1000, 2),
        "hash_ms_min": round(min(hashes) * 1000, 2),
        "hash_ms_max": round(max(hashes) * 1000, 2),
        # CPU time of all threads: above the wall time when libargon2 runs lanes in threads
        "hash_cpu_ms_median": round(statistics.median(cpu) * 1000, 2),
        "verify_ms_median": round(statistics.median(verifies) * 1000, 2),
        "encoded_prefix": encoded.rsplit("$", 2)[0],
    }


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        sys.stderr.write(f"usage: {argv[0]} DATABASE_URL [SECONDS]\n")
        return 2
    seconds = float(argv[2]) if len(argv) > 2 else 3.0
    with Shop.open(argv[1], migrate=False, secret_key="x" * 32) as shop:
        with shop.database.reader.connect() as conn:
            lo, hi = conn.execute(
                sa.select(sa.func.min(products.c.id), sa.func.max(products.c.id))
            ).one()
        result = {
            "catalog": catalog_rates(shop, (int(lo), int(hi)), seconds),
            "argon2": argon2_timings(Argon2Parameters()),
        }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
