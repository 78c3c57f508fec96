"""The per-request cost of authentication: ``shop.auth.authenticate(token)`` in process.

Every authenticated request verifies its access token (cached after the first time) and
loads the user with its session's state in one query. This measures that call, one thread,
on SQLite and PostgreSQL: calls per second and CPU per call of this process (PostgreSQL's
own share is not included). ``python bench/auth_check.py [--database-url URL] [--seconds 3]``.
The PostgreSQL database named is dropped and re-created.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from minicommerce import Argon2Parameters, Credentials, Registration, Shop

SECRET = "bench-secret-" + "x" * 40
FAST = Argon2Parameters(time_cost=1, memory_cost=1024, parallelism=1)
PASSWORD = "bench password"  # a throwaway account in a throwaway database


def measure(shop: Shop, seconds: float) -> tuple[float, float, float]:
    """Calls per second, and the median and least CPU per call (µs) over blocks of 200
    calls: on a busy machine the least is the steadiest figure."""
    shop.accounts.register(Registration(email="bench@example.com", password=PASSWORD))
    token = shop.auth.login(Credentials(email="bench@example.com", password=PASSWORD)).access_token
    for _ in range(500):  # warm up: pool, compiled statements, token cache
        shop.auth.authenticate(token)
    blocks: list[float] = []
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        cpu = time.process_time()
        for _ in range(200):
            shop.auth.authenticate(token)
        blocks.append((time.process_time() - cpu) / 200 * 1e6)
    rate = len(blocks) * 200 / (time.perf_counter() - start)
    return rate, statistics.median(blocks), min(blocks)


def report(backend: str, rate: float, median: float, least: float) -> None:
    cpu = f"CPU/call: median {median:6.1f} µs, least {least:6.1f} µs"
    print(f"{backend:<11} {rate:7.0f} calls/s  {cpu}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--database-url", default="postgresql://postgres@127.0.0.1:5432/minicommerce_bench_auth"
    )
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        with Shop.open(url, secret_key=SECRET, argon2=FAST) as shop:
            report("sqlite", *measure(shop, args.seconds))
    base, name = args.database_url.rsplit("/", 1)
    admin = sa.create_engine(
        base.replace("postgresql://", "postgresql+psycopg://", 1) + "/postgres",
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        with Shop.open(args.database_url, secret_key=SECRET, argon2=FAST) as shop:
            report("postgresql", *measure(shop, args.seconds))
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


if __name__ == "__main__":
    main()
