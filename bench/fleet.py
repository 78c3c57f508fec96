"""A shop's mixed load through nginx in front of several instances, on PostgreSQL + Redis.

    python bench/fleet.py [--instances 2] [--workers 1] [--duration 60] [--connections 64]

It re-creates the database ``minicommerce_bench_orders`` (10,000 products, 200 customers
with live sessions and tokens minted with the server's secret, as ``bench/orders.py``),
starts ``--instances`` ``minicommerce serve`` processes sharing that database and Redis
(``MINICOMMERCE_BENCH_REDIS_URL``, default db 11 of the local Redis, flushed first), puts
nginx in front of them (``least_conn``, keep-alive to the instances, the instances trust
it for ``X-Forwarded-For``), then loads nginx with wrk and ``lua/mixed.lua``: 80 % browse,
15 % cart, 5 % checkout. Rate limits are on, shared through Redis, but set high enough
(``--rate``) that the load is never refused: what the limiter costs is in the figures.
It loads nginx twice: as fast as answers come back (64 connections, closed loop: the
most it serves, and latencies of a saturated machine), then paced at ``--pace``
requests/s (default the target, 1,670/s, on a schedule: latencies at that load).
During the paced run it reads, from each instance's /metrics, how long catalog
invalidations waited for every instance's acknowledgement. Afterwards it checks that no
product's stock went below zero and that every order's lines add up to its total. Last, the
baseline of the same run: as many bare Litestar instances (``ceiling_app.py``) behind the
same nginx answer the same load with bodies captured from the shop. Needs nginx and wrk
(Debian packages).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import orders as base  # noqa: E402 - the order bench's database, seeding and wrk helpers

from minicommerce import Shop  # noqa: E402
from minicommerce.accounts.tokens import AccessTokenCodec  # noqa: E402
from minicommerce.storage.tables import sessions  # noqa: E402

TOTAL_STOCK = "SELECT sum(stock_quantity) FROM products"
TARGET_RPS = 1_670  # ten times the original shop's plan of 10,000 requests a minute
TARGET_P99_MS = 100
NGINX_CONF = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    upstream shop {{
        least_conn;
{servers}
        keepalive 128;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://shop;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instances", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1, help="granian workers per instance")
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rate", default="1000000/minute", help="anonymous and per-user limits")
    parser.add_argument(
        "--pace", type=int, default=TARGET_RPS,
        help="after the saturating run, one at this many requests/s (0: none)",
    )  # fmt: skip
    args = parser.parse_args()
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise SystemExit("nginx is needed: apt-get install -y nginx")
    redis_url = os.environ.get("MINICOMMERCE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
    redis.Redis.from_url(redis_url).flushdb()

    base.reset(base.URL)
    now = datetime.now(UTC)
    with Shop.open(base.URL, secret_key=base.SECRET) as shop:
        user_ids = base.seed(shop, 10_000, 200)
        ids = base.id_range(shop)
        with shop.database.writer.begin() as conn:
            rows = [{"id": f"bench{u}", "user_id": u, "created_at": now} for u in user_ids]
            conn.execute(sa.insert(sessions), rows)
        with shop.database.reader.connect() as conn:
            stock_before = int(conn.execute(sa.text(TOTAL_STOCK)).scalar_one())
    codec = AccessTokenCodec(base.SECRET, ttl=3600)
    tmp = Path(tempfile.mkdtemp(prefix="mc-fleet-"))
    tokens = tmp / "tokens"
    tokens.write_text("\n".join(codec.issue(u, f"bench{u}", now) for u in user_ids) + "\n")

    env = {**os.environ, "MINICOMMERCE_DATABASE_URL": base.URL,
           "MINICOMMERCE_SECRET_KEY": base.SECRET, "MINICOMMERCE_REDIS_URL": redis_url,
           "MINICOMMERCE_ACCESS_TOKEN_TTL": "3600", "MINICOMMERCE_RATE_LIMIT_ANON": args.rate,
           "MINICOMMERCE_RATE_LIMIT_USER": args.rate, "MINICOMMERCE_TRUSTED_PROXIES": "127.0.0.1",
           "MINICOMMERCE_LOG_LEVEL": "WARNING", "MINICOMMERCE_DB_POOL_SIZE": "20"}  # fmt: skip
    serve = [sys.executable, "-m", "minicommerce_server.cli", "serve", "--workers",
             str(args.workers), "--no-demo-data", "--port"]  # fmt: skip
    front, backs, servers, proxy = start_fleet(nginx, serve, env, args.instances, tmp / "shop")
    try:
        scenario = {"BENCH_TOKENS": str(tokens), "BENCH_ID_MIN": str(ids[0]),
                    "BENCH_ID_MAX": str(ids[1])}  # fmt: skip
        mixed(front, scenario, 5, args.connections)  # warm-up
        base.analyze(base.URL)
        pids = set().union(*(base.tree(s.pid) for s in servers), base.tree(proxy.pid))
        pg_pids = base.postgres()
        cpu, pg_cpu = base.cpu_seconds(pids), base.cpu_seconds(pg_pids)
        result = mixed(front, scenario, args.duration, args.connections)
        requests = result["orders_per_s"] * args.duration
        server_ms = 1000 * (base.cpu_seconds(pids) - cpu) / requests
        pg_ms = 1000 * (base.cpu_seconds(pg_pids | base.postgres()) - pg_cpu) / requests
        before = [metrics(p) for p in backs]
        paced = (
            mixed(front, {**scenario, "BENCH_PACE_RPS": str(args.pace)}, args.duration,
                  args.connections)
            if args.pace
            else None
        )  # fmt: skip
        after = [metrics(p) for p in backs]
        slow = slow_routes([route_latencies(m) for m in before],
                           [route_latencies(m) for m in after])  # fmt: skip
        waits = [
            [b - a for a, b in zip(invalidation_waits(old), invalidation_waits(new), strict=True)]
            for old, new in zip(before, after, strict=True)
        ]
        bodies = capture(front, tokens.read_text().split()[0], ids[0], tmp)
    finally:
        stop_fleet(proxy, servers)
    # The baseline of the same run: bare Litestar instances (bench/ceiling_app.py) answering
    # the same requests with the captured bodies, behind the same nginx, the same way.
    ceiling_command = [sys.executable, str(HERE / "ceiling_app.py"), "--workers",
                       str(args.workers), "--port"]  # fmt: skip
    ceiling_front, _, ceilings, ceiling_proxy = start_fleet(
        nginx, ceiling_command, {**os.environ, **bodies}, args.instances, tmp / "ceiling"
    )
    try:
        mixed(ceiling_front, scenario, 5, args.connections)  # warm-up
        pids = set().union(*(base.tree(c.pid) for c in ceilings), base.tree(ceiling_proxy.pid))
        cpu = base.cpu_seconds(pids)
        ceiling = mixed(ceiling_front, scenario, args.duration, args.connections)
        ceiling_ms = (
            1000 * (base.cpu_seconds(pids) - cpu) / (ceiling["orders_per_s"] * args.duration)
        )
    finally:
        stop_fleet(ceiling_proxy, ceilings)
    with Shop.open(base.URL, secret_key=base.SECRET) as shop, shop.database.reader.connect() as c:
        negative = c.execute(sa.text("SELECT count(*) FROM products WHERE stock_quantity < 0"))
        ordered = c.execute(sa.text("SELECT coalesce(sum(quantity), 0) FROM order_items"))
        stock_after = int(c.execute(sa.text(TOTAL_STOCK)).scalar_one())
        mismatched = c.execute(sa.text(
            "SELECT count(*) FROM orders o WHERE total_amount <> "
            "(SELECT sum(line_total) FROM order_items i WHERE i.order_id = o.id)"))  # fmt: skip
        negative_n, ordered_n, bad_totals = (
            negative.scalar(),
            ordered.scalar(),
            mismatched.scalar(),
        )
    # What the instances logged as errors (a 5xx logs its traceback), before the logs go.
    for log in sorted((tmp / "shop").glob("instance-*.log")):
        failures = [line for line in log.read_text(errors="replace").splitlines()
                    if "error" in line.lower() or "Traceback" in line]  # fmt: skip
        if failures:
            print(f"{log.name}: {len(failures)} error line(s); the first ones:")
            print("\n".join(failures[:20]))
            keep = Path(tempfile.gettempdir()) / f"mc-fleet-{log.name}"
            shutil.copy(log, keep)
            print(f"  (whole log kept in {keep})")
    shutil.rmtree(tmp, ignore_errors=True)

    rps, p99 = result["orders_per_s"], result["p99_ms"]
    print(f"\nMixed load (80 % browse, 15 % cart, 5 % checkout) through nginx, {args.instances} "
          f"instances x {args.workers} granian worker(s), PostgreSQL + Redis, "
          f"{args.connections} connections, {args.duration} s")  # fmt: skip
    print(f"  {rps:8,.0f} requests/s  p50 {result['p50_ms']:6.1f} ms  p99 {p99:6.1f} ms  "
          f"errors {result['errors']:.0f} {result['statuses'] or ''}")  # fmt: skip
    print(f"  CPU per request: instances + nginx {server_ms:.2f} ms, PostgreSQL {pg_ms:.2f} ms")
    print(f"  ceiling (bare Litestar, the same bodies from memory, the same nginx, same run): "
          f"{ceiling['orders_per_s']:8,.0f} requests/s  p99 {ceiling['p99_ms']:6.1f} ms  "
          f"errors {ceiling['errors']:.0f}; CPU per request {ceiling_ms:.2f} ms")  # fmt: skip
    print(f"  saturated / ceiling: {rps / ceiling['orders_per_s']:.1%} (how fast this machine is "
          "today shows in the ceiling; the share is comparable across machines)")  # fmt: skip
    consistent = "consistent" if stock_before - stock_after == ordered_n else "INCONSISTENT"
    print(f"  stock: {stock_before:,} before, {stock_after:,} after, {ordered_n:,} ordered "
          f"({consistent}); products below zero: {negative_n}; "
          f"orders whose lines do not add up: {bad_totals}")  # fmt: skip
    met = rps >= TARGET_RPS and p99 < TARGET_P99_MS and result["errors"] == 0
    print(f"  saturated (as fast as answers come): target >= {TARGET_RPS:,} requests/s, "
          f"p99 < {TARGET_P99_MS} ms, no errors: {'MET' if met else 'NOT MET'}")  # fmt: skip
    if paced is not None:
        prps, pp99 = paced["orders_per_s"], paced["p99_ms"]
        print(f"  paced at {args.pace:,}/s: {prps:8,.0f} requests/s  "
              f"p50 {paced['p50_ms']:6.1f} ms  p99 {pp99:6.1f} ms  "
              f"errors {paced['errors']:.0f} {paced['statuses'] or ''}")  # fmt: skip
        print("  answers over 100 ms by route during the paced run, as the instances timed them:")
        for route, (over, total) in sorted(slow.items(), key=lambda kv: -kv[1][0]):
            print(f"    {route:45} {over:6,} of {total:7,} ({100 * over / max(total, 1):.1f} %)")
        rounds, seconds, expiries = (sum(w[i] for w in waits) for i in range(3))
        print(f"  catalog invalidations during the paced run: {rounds:,.0f}, waited "
              f"{1000 * seconds / max(rounds, 1):.1f} ms each on average for every instance's "
              f"acknowledgement; {expiries:,.0f} waited out the lease")  # fmt: skip
        held = prps >= 0.99 * TARGET_RPS and pp99 < TARGET_P99_MS and paced["errors"] == 0
        print(f"  held at the target rate (>= 99 % of {TARGET_RPS:,}/s achieved), p99 < "
              f"{TARGET_P99_MS} ms, no errors: {'MET' if held else 'NOT MET'}")  # fmt: skip


def start_fleet(
    nginx: str, command: list[str], env: dict[str, str], instances: int, tmp: Path
) -> tuple[int, list[int], list[subprocess.Popen[bytes]], subprocess.Popen[bytes]]:
    """``instances`` processes of ``command`` + a port each, behind nginx, all answering:
    nginx's port, the instances' ports, the instances and nginx."""
    tmp.mkdir(parents=True, exist_ok=True)
    ports = random.sample(range(20_000, 40_000), instances + 1)
    front, backs = ports[0], ports[1:]
    servers = [base.start([*command, str(p)], env, tmp / f"instance-{p}.log") for p in backs]
    conf = tmp / "nginx.conf"
    upstreams = "\n".join(f"        server 127.0.0.1:{p};" for p in backs)
    conf.write_text(NGINX_CONF.format(tmp=tmp, servers=upstreams, port=front))
    proxy = base.start([nginx, "-c", str(conf), "-p", str(tmp)], dict(os.environ))
    try:
        for p in backs:
            base.wait_for(f"http://127.0.0.1:{p}/health")
        base.wait_for(f"http://127.0.0.1:{front}/health")
    except BaseException:
        stop_fleet(proxy, servers)
        raise
    return front, backs, servers, proxy


def stop_fleet(proxy: subprocess.Popen[bytes], servers: list[subprocess.Popen[bytes]]) -> None:
    base.stop(proxy)
    for server in servers:
        base.stop(server)


def capture(port: int, token: str, product_id: int, tmp: Path) -> dict[str, str]:
    """The bodies the ceiling answers with, as the shop answered each kind of request of
    the mix (one more order placed, counted in the stock check like the others), as
    ``BENCH_CEILING_*`` variables naming files in ``tmp``."""
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    order = json.dumps({"shipping_address": base.ADDRESS,
                        "items": [{"product_id": product_id, "quantity": 1}]})  # fmt: skip
    calls = {
        "BENCH_CEILING_LIST": ("GET", "/api/v1/products?limit=20", None, {}),
        "BENCH_CEILING_DETAIL": ("GET", f"/api/v1/products/{product_id}", None, {}),
        "BENCH_CEILING_CART_LINE": ("PUT", f"/api/v1/cart/items/{product_id}",
                                    b'{"quantity":1}', auth),
        "BENCH_CEILING_CART": ("GET", "/api/v1/cart", None, auth),
        "BENCH_CEILING_ORDER": ("POST", "/api/v1/orders", order.encode(), auth),
    }  # fmt: skip
    files = {}
    for name, (method, path, data, headers) in calls.items():
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data,
                                         method=method, headers=headers)  # fmt: skip
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local URL
            body = response.read()
        file = tmp / f"{name.lower()}.json"
        file.write_bytes(body)
        files[name] = str(file)
    return files


_SAMPLE = re.compile(
    r"minicommerce_http_request_duration_seconds_(bucket|count)"
    r'\{method="(\w+)",route="([^"]+)"(?:,le="([^"]+)")?\} (\S+)'
)


def metrics(port: int) -> list[str]:
    """The lines of an instance's ``/metrics`` (counters cumulative since it started)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read()
    return list(text.decode().splitlines())


def route_latencies(lines: list[str]) -> dict[str, tuple[float, float]]:
    """Per ``METHOD route``: answers within 100 ms and all answers, from ``/metrics``."""
    counts: dict[str, list[float]] = {}
    for line in lines:
        found = _SAMPLE.match(line)
        if found is None:
            continue
        kind, method, route, le, value = found.groups()
        entry = counts.setdefault(f"{method} {route}", [0.0, 0.0])
        if kind == "count":
            entry[1] = float(value)
        elif le == "0.1":
            entry[0] = float(value)
    return {route: (within, total) for route, (within, total) in counts.items()}


def invalidation_waits(lines: list[str]) -> list[float]:
    """Catalog invalidations, the seconds they waited for acknowledgements, and those
    that waited out the lease, from ``/metrics``."""
    names = ("minicommerce_catalog_invalidations_total",
             "minicommerce_catalog_invalidation_wait_seconds_total",
             "minicommerce_catalog_lease_expiries_total")  # fmt: skip
    found = dict(line.split(" ", 1) for line in lines if line.startswith(names))
    return [float(found.get(name, 0)) for name in names]


def slow_routes(
    before: list[dict[str, tuple[float, float]]], after: list[dict[str, tuple[float, float]]]
) -> dict[str, tuple[int, int]]:
    """Per route, summed over the instances: answers over 100 ms, and all, between the two."""
    slow: dict[str, tuple[int, int]] = {}
    for old, new in zip(before, after, strict=True):
        for route, (within, total) in new.items():
            old_within, old_total = old.get(route, (0.0, 0.0))
            answers = int(total - old_total)
            over = answers - int(within - old_within)
            prev = slow.get(route, (0, 0))
            slow[route] = (prev[0] + over, prev[1] + answers)
    return {route: counts for route, counts in slow.items() if counts[1]}


def mixed(port: int, env: dict[str, str], duration: int, connections: int) -> dict[str, Any]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency",
         "-s", str(HERE / "lua" / "mixed.lua"), f"http://127.0.0.1:{port}"],
        env={**os.environ, "BENCH_THREADS": "2", **env}, capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    return base.parse_wrk(out.stdout + out.stderr)


if __name__ == "__main__":
    main()
