"""Read-your-writes across server processes: two ``minicommerce serve`` instances on the
private primary and its streaming replica (``tests/pgservers.py``), sharing Redis. An order
placed through one is found by its owner through the other while the replica's replay is
paused; an instance without Redis does not know the owner's write and reads the replica."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from minicommerce import NewProduct, Shop
from tests.conftest import ADDRESS, PRIMARY_PORT, SECRET, _truncate_postgres
from tests.pgservers import ReplicatedCluster, replay_paused

PRIMARY = f"postgresql://postgres@127.0.0.1:{PRIMARY_PORT}/shop"
API = "/api/v1"


@contextmanager
def serve(port: int, tmp_path: Path, **settings: str) -> Iterator[httpx.Client]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINICOMMERCE_")}
    env.update({f"MINICOMMERCE_{name.upper()}": value for name, value in settings.items()})
    process = subprocess.Popen(
        [sys.executable, "-m", "minicommerce_server.cli", "serve", "--port", str(port),
         "--workers", "1"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            for _ in range(300):
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            else:
                raise AssertionError("the server did not answer /health")
            yield client
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate(timeout=10)


def test_an_order_placed_through_one_instance_is_found_through_another(
    replicated_cluster: ReplicatedCluster, redis_url: str, tmp_path: Path
) -> None:
    _truncate_postgres(PRIMARY)
    replica = replicated_cluster.replica.url("shop")
    common = {
        "database_url": PRIMARY,
        "database_replica_urls": replica,
        "replica_max_lag": "60",
        "secret_key": SECRET,
        "rate_limit_anon": "0",
        "rate_limit_user": "0",
        "argon2_memory_cost": "1024",
        "argon2_time_cost": "1",
        "log_level": "WARNING",
        # Cache off: with it on, catalog reads are the primary's (what the cache keeps must
        # be; tests/integration/test_replicas.py), and this test checks the replica's part.
        "catalog_cache_ttl": "0",
    }
    with (
        serve(6441, tmp_path, redis_url=redis_url, **common) as first,
        serve(6442, tmp_path, redis_url=redis_url, **common) as second,
        serve(6443, tmp_path, **common) as alone,
    ):
        account = {"email": "buyer@example.com", "password": "x" * 12}
        assert first.post(f"{API}/auth/register", json=account).status_code == 201
        token = first.post(f"{API}/auth/login", json=account).json()["access_token"]
        buyer = {"Authorization": f"Bearer {token}"}
        with Shop.open(PRIMARY, secret_key=SECRET, migrate=False) as shop:
            product_id = shop.catalog.create(
                NewProduct(name="Mug", price="9.50", stock_quantity=10)
            ).id
        time.sleep(1)  # the instances' probes see the replica caught up
        with replay_paused(replica):
            body = {
                "shipping_address": ADDRESS,
                "items": [{"product_id": product_id, "quantity": 2}],
            }
            placed = first.post(f"{API}/orders", json=body, headers=buyer)
            assert placed.status_code == 201, placed.text
            order = placed.json()
            time.sleep(0.5)  # probes after the write: the replica is behind it
            assert second.get(f"{API}/orders/{order['id']}", headers=buyer).json() == order
            listed = second.get(f"{API}/orders", headers=buyer).json()["items"]
            assert [o["id"] for o in listed] == [order["id"]]
            stock = second.get(f"{API}/products/{product_id}", headers=buyer).json()
            assert stock["stock_quantity"] == 8
            # Anonymous reads run on the replica; so do the owner's on an instance that
            # does not share the write positions.
            assert second.get(f"{API}/products/{product_id}").json()["stock_quantity"] == 10
            missing = alone.get(f"{API}/orders/{order['id']}", headers=buyer)
            assert missing.status_code == 404
