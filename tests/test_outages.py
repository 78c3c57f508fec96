"""A real server process (granian) whose database or Redis goes away behind a proxy.

While PostgreSQL is stalled or unreachable, ``/health`` answers at once, API reads answer
503 problems with Retry-After within the configured timeouts, and the server recovers by
itself when the proxy forwards again. While Redis is down or stalled, the API answers
normally with per-process limits, ``/ready`` is 503 and the degraded metric counts; when
Redis is back, limits are shared again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis

from minicommerce import NewProduct, Shop
from minicommerce.storage.engine import open_database
from minicommerce.storage.migrate import upgrade
from tests.conftest import REDIS_URL, SECRET, new_postgres_database, require_service
from tests.proxy import Proxy
from tests.test_serve import free_port

# The read deadline is max(connect, pool) + statement = 3 s.
TIMEOUTS = {
    "MINICOMMERCE_DB_CONNECT_TIMEOUT": "2",
    "MINICOMMERCE_DB_STATEMENT_TIMEOUT": "1",
    "MINICOMMERCE_DB_POOL_TIMEOUT": "1",
}
PRODUCTS = "/api/v1/products"


def call(base: str, path: str, timeout: float = 30) -> tuple[int, dict[str, str], bytes, float]:
    """Status, headers (lower-case names), body and seconds taken; HTTP errors are answers
    too."""
    start = time.monotonic()
    try:
        with urllib.request.urlopen(base + path, timeout=timeout) as response:  # noqa: S310
            status, raw, body = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, raw, body = error.code, error.headers, error.read()
    headers = {k.lower(): v for k, v in raw.items()}
    return status, headers, body, time.monotonic() - start


def assert_unavailable(answer: tuple[int, dict[str, str], bytes, float]) -> None:
    status, headers, body, _ = answer
    assert status == 503, body
    assert headers["content-type"].startswith("application/problem+json")
    assert json.loads(body)["code"] == "service_unavailable"
    assert int(headers["retry-after"]) >= 1


@contextmanager
def server(tmp_path: Path, **env: str) -> Iterator[str]:
    """``minicommerce serve`` (granian, one worker) with these settings; its base URL."""
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MINICOMMERCE_")}
    environment |= {"MINICOMMERCE_SECRET_KEY": SECRET, "MINICOMMERCE_LOG_LEVEL": "WARNING"}
    environment |= env
    command = [sys.executable, "-m", "minicommerce_server.cli", "serve", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--workers", "1", "--server", "granian", "--no-demo-data"],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: workers included in the cleanup
    )
    base = f"http://127.0.0.1:{port}"
    output = ""
    try:
        for _ in range(300):  # up to 30 s on a busy machine
            try:
                if call(base, "/health", timeout=2)[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("the server did not answer /health")
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            output = process.communicate(timeout=30)[0].decode()
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output = process.communicate(timeout=10)[0].decode()
    assert "Traceback" not in output, output


def eventually(check: object, seconds: float = 30) -> None:
    assert callable(check)
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not true within {seconds} s: {check.__doc__}")
        time.sleep(0.2)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with new_postgres_database("mc_outage") as url:
        database = open_database(url)
        upgrade(database)
        database.dispose()
        with Shop.open(url, secret_key=SECRET, migrate=False) as shop:
            shop.catalog.create(NewProduct(name="Mug", price="9.50", stock_quantity=3))
        yield url


def test_postgres_stalled_or_down_is_a_503_and_the_worker_keeps_answering(
    tmp_path: Path, postgres_url: str
) -> None:
    target = urlsplit(postgres_url)
    with Proxy(target.hostname or "127.0.0.1", target.port or 5432) as proxy:
        proxied = postgres_url.replace(target.netloc, f"postgres@{proxy.url_netloc}")
        # The catalog cache off: these reads must reach the database (a cached page would
        # be served from memory meanwhile, which is current: no write can commit either).
        no_cache = {"MINICOMMERCE_CATALOG_CACHE_TTL": "0"}
        with server(tmp_path, MINICOMMERCE_DATABASE_URL=proxied, **TIMEOUTS, **no_cache) as base:
            assert call(base, PRODUCTS)[0] == 200
            assert call(base, f"{PRODUCTS}/1")[0] == 200

            proxy.stall()
            answers: list[tuple[int, dict[str, str], bytes, float]] = []
            readers = [
                threading.Thread(target=lambda p=path: answers.append(call(base, p)))
                for path in (PRODUCTS, f"{PRODUCTS}/1", PRODUCTS + "?limit=5")
            ]
            for reader in readers:
                reader.start()
            time.sleep(0.5)  # the reads are waiting on the stalled database now
            for _ in range(5):
                status, _, _, seconds = call(base, "/health", timeout=2)
                assert status == 200
                assert seconds < 1, "the event loop is not held by the stalled reads"
            for reader in readers:
                reader.join(30)
            assert len(answers) == 3
            for answer in answers:
                assert_unavailable(answer)
                assert answer[3] < 3 + 2, "answered within the read deadline"
            assert call(base, "/ready", timeout=10)[0] == 503

            proxy.refuse()  # down: its connections are cut, new ones reset
            for path in (PRODUCTS, f"{PRODUCTS}/1", "/api/v1/me"):
                answer = call(base, path)
                if path == "/api/v1/me":
                    assert answer[0] == 401  # needs no database to refuse
                    continue
                assert_unavailable(answer)
                assert answer[3] < 3 + 2
            assert call(base, "/health", timeout=2)[0] == 200

            proxy.forward()

            def recovered() -> bool:
                """the server reads from the database again"""
                return call(base, PRODUCTS)[0] == 200 and call(base, "/ready")[0] == 200

            eventually(recovered)
            metrics = call(base, "/metrics")[2].decode()
            assert 'status="500"' not in metrics


def test_redis_down_or_stalled_keeps_the_api_answering_and_limits_share_again(
    tmp_path: Path,
) -> None:
    require_service("redis", REDIS_URL, 6379)
    target = urlsplit(REDIS_URL)
    db = target.path.lstrip("/") or "0"
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    settings = {
        "MINICOMMERCE_DATABASE_URL": f"sqlite:///{tmp_path}/shop.db",
        "MINICOMMERCE_RATE_LIMIT_ANON": "1000/minute",
        "MINICOMMERCE_REDIS_TIMEOUT": "0.05",
    }

    def degraded(base: str) -> float:
        for line in call(base, "/metrics")[2].decode().splitlines():
            if line.startswith("minicommerce_ratelimit_degraded_total "):
                return float(line.split()[1])
        raise AssertionError("no minicommerce_ratelimit_degraded_total in /metrics")

    def shared_hits() -> int:
        return sum(int(client.get(key) or 0) for key in client.keys("minicommerce:rl:*"))

    try:
        # Nothing listens at this port.
        nowhere = f"redis://127.0.0.1:{free_port()}/{db}"
        with server(tmp_path, MINICOMMERCE_REDIS_URL=nowhere, **settings) as base:
            for _ in range(5):
                assert call(base, PRODUCTS)[0] == 200
            assert call(base, "/ready")[0] == 503
            assert call(base, "/health")[0] == 200
            assert degraded(base) == 5

        with Proxy(target.hostname or "127.0.0.1", target.port or 6379) as proxy:
            proxied = f"redis://{proxy.url_netloc}/{db}"
            with server(tmp_path, MINICOMMERCE_REDIS_URL=proxied, **settings) as base:
                assert call(base, PRODUCTS)[0] == 200
                assert shared_hits() == 1
                assert degraded(base) == 0

                proxy.stall()
                for _ in range(5):
                    status, _, _, seconds = call(base, PRODUCTS)
                    assert status == 200
                    assert seconds < 2, "a stalled Redis costs a request its timeout at most"
                assert degraded(base) == 5
                assert call(base, "/ready")[0] == 503

                proxy.refuse()
                assert call(base, PRODUCTS)[0] == 200
                assert degraded(base) == 6
                client.flushdb()

                proxy.forward()

                def shared_again() -> bool:
                    """requests are counted in Redis again"""
                    return call(base, PRODUCTS)[0] == 200 and shared_hits() > 0

                eventually(shared_again)
                before = shared_hits()
                for _ in range(3):
                    assert call(base, PRODUCTS)[0] == 200
                assert shared_hits() == before + 3
                assert call(base, "/ready")[0] == 200
    finally:
        client.flushdb()
        client.close()
