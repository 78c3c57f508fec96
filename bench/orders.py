"""Order placement: over HTTP (granian, 2 workers, PostgreSQL) and in process.

    python bench/orders.py [--duration 10] [--connections 64]

It re-creates the database ``minicommerce_bench_orders``, seeds 10,000 products with ample
stock and 200 customers, mints their access tokens with the server's secret (logins would
only measure argon2), then loads POST /api/v1/orders with wrk: one line, a random product
(spread) and one product for everyone (hot, the contention case). In process it places
orders in a loop on one thread, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from minicommerce import Argon2Parameters, PlaceOrder, Shop
from minicommerce.accounts.tokens import AccessTokenCodec
from minicommerce.storage.tables import products, users

HERE = Path(__file__).resolve().parent
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
DB = "minicommerce_bench_orders"
URL = f"postgresql://postgres@127.0.0.1:5432/{DB}"
SECRET = "bench-secret-" + "s" * 40
ADDRESS = {
    "full_name": "Bench",
    "line1": "1 Loop St",
    "city": "Localhost",
    "postal_code": "12345",
    "country": "DE",
}


def reset(url: str) -> None:
    admin = sa.create_engine(ADMIN_URL.replace("postgresql://", "postgresql+psycopg://"),
                             isolation_level="AUTOCOMMIT")  # fmt: skip
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{DB}"')
    admin.dispose()


def seed(shop: Shop, n_products: int, n_users: int) -> list[int]:
    now = datetime.now(UTC)
    rows = [
        {"sku": f"B-{i}", "name": f"Bench product {i}", "description": "", "version": 1,
         "price": Decimal(random.randint(100, 99_999)) / 100, "stock_quantity": 1_000_000,
         "created_at": now, "updated_at": now}
        for i in range(n_products)
    ]  # fmt: skip
    people = [
        {"email": f"bench{i}@example.com", "password_hash": "!", "first_name": "", "last_name": "",
         "is_staff": False, "is_active": True, "created_at": now}
        for i in range(n_users)
    ]  # fmt: skip
    with shop.database.writer.begin() as conn:
        conn.execute(sa.insert(products), rows)
        conn.execute(sa.insert(users), people)
        ids = list(conn.execute(sa.select(users.c.id)).scalars())
    with shop.database.writer.connect() as conn:
        # Planner statistics, as autovacuum would have them on a live shop; without them
        # a freshly loaded table looks empty and plans go wrong.
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    return ids


def id_range(shop: Shop) -> tuple[int, int]:
    with shop.database.reader.connect() as conn:
        low, high = conn.execute(
            sa.select(sa.func.min(products.c.id), sa.func.max(products.c.id))
        ).one()
    return int(low), int(high)


def wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - local URL
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer")


def wrk(port: int, env: dict[str, str], duration: int, connections: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency",
         "-s", str(HERE / "lua" / "orders.lua"), f"http://127.0.0.1:{port}"],
        env={**os.environ, **env}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    match = re.search(r"BENCH_JSON (\{.*\})", out.stdout)
    if not match:
        raise SystemExit(out.stdout + out.stderr)
    data = json.loads(match.group(1))
    errors = sum(data["errors"].values())
    return {
        "orders_per_s": data["requests"] / (data["duration_us"] / 1e6),
        "p50_ms": data["latency_us"]["p50"] / 1000,
        "p99_ms": data["latency_us"]["p99"] / 1000,
        "errors": errors,
    }


def in_process(url: str, ids: tuple[int, int], user_id: int, seconds: float) -> float:
    with Shop.open(url, secret_key=SECRET, argon2=Argon2Parameters(1, 1024, 1)) as shop:
        count, deadline = 0, time.monotonic() + seconds
        while time.monotonic() < deadline:
            line = {"product_id": random.randint(*ids), "quantity": 1}
            shop.orders.place(user_id, PlaceOrder.parse({"shipping_address": ADDRESS,
                                                         "items": [line]}))  # fmt: skip
            count += 1
    return count / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    reset(URL)
    with Shop.open(URL, secret_key=SECRET) as shop:
        user_ids = seed(shop, 10_000, 200)
        ids = id_range(shop)
    codec = AccessTokenCodec(SECRET, ttl=3600)
    tokens = Path(tempfile.mkstemp(suffix=".tokens")[1])
    tokens.write_text("\n".join(codec.issue(u, datetime.now(UTC)) for u in user_ids) + "\n")
    env = {**os.environ, "MINICOMMERCE_DATABASE_URL": URL, "MINICOMMERCE_SECRET_KEY": SECRET,
           "MINICOMMERCE_RATE_LIMIT_ANON": "0", "MINICOMMERCE_RATE_LIMIT_USER": "0",
           "MINICOMMERCE_LOG_LEVEL": "WARNING", "MINICOMMERCE_DB_POOL_SIZE": "20"}  # fmt: skip
    port = random.randint(20_000, 40_000)
    server = subprocess.Popen(
        [sys.executable, "-m", "minicommerce_server.cli", "serve", "--port", str(port),
         "--workers", "2", "--no-demo-data"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    results: dict[str, dict[str, float]] = {}
    try:
        wait_for(f"http://127.0.0.1:{port}/health")
        spread = {"BENCH_TOKENS": str(tokens), "BENCH_ID_MIN": str(ids[0]),
                  "BENCH_ID_MAX": str(ids[1])}  # fmt: skip
        hot = {**spread, "BENCH_ID_MAX": str(ids[0])}
        wrk(port, spread, 3, args.connections)  # warm-up
        results["spread"] = wrk(port, spread, args.duration, args.connections)
        results["hot"] = wrk(port, hot, args.duration, args.connections)
    finally:
        server.terminate()
        server.wait(30)
        tokens.unlink()
    for name, r in results.items():
        print(f"HTTP {name:7} {r['orders_per_s']:8,.0f} orders/s  p50 {r['p50_ms']:6.1f} ms  "
              f"p99 {r['p99_ms']:6.1f} ms  errors {r['errors']:.0f}")  # fmt: skip
    pg = in_process(URL, ids, user_ids[0], 5)
    with tempfile.TemporaryDirectory() as tmp:
        lite = f"sqlite:///{tmp}/orders.db"
        with Shop.open(lite, secret_key=SECRET) as shop:
            lite_users = seed(shop, 1_000, 1)
            lite_ids = id_range(shop)
        sq = in_process(lite, lite_ids, lite_users[0], 5)
    print(f"in process, one thread: PostgreSQL {pg:,.0f} orders/s, SQLite {sq:,.0f} orders/s")


if __name__ == "__main__":
    main()
