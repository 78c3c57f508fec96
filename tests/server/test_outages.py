"""Backing services down, locked or slow: 503 problems with Retry-After, never a 500.

These run the app in process; tests/test_outages.py does the same against a real server
process through a proxy that stalls and refuses.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from minicommerce import NewProduct, Registration, Shop
from minicommerce.storage.engine import Timeouts, open_database
from minicommerce_server.app import create_app
from tests.conftest import FAST_ARGON2, SECRET, require_service
from tests.proxy import Proxy
from tests.server.conftest import make_settings
from tests.server.helpers import API, assert_problem, wait_for_fresh_window
from tests.test_serve import free_port

SHORT = Timeouts(connect=2, statement=0.3, pool=0.3, sqlite_busy=0.3)
PRODUCTS = f"{API}/products"


def assert_unavailable(response: object) -> None:
    import httpx

    assert isinstance(response, httpx.Response)
    body = assert_problem(response, 503, "service_unavailable")
    retry_after = int(response.headers["Retry-After"])
    assert retry_after >= 1
    assert body["retry_after"] == retry_after
    assert body["request_id"] == response.headers["X-Request-ID"]


@pytest.fixture
def impatient_shop(sqlite_url: str) -> Iterator[Shop]:
    with Shop.open(
        sqlite_url, secret_key=SECRET, argon2=FAST_ARGON2, migrate=False, timeouts=SHORT
    ) as shop:
        yield shop


def test_a_locked_database_is_a_503_with_retry_after(impatient_shop: Shop) -> None:
    impatient_shop.accounts.register(
        Registration(email="staff@example.com", password="a long password"), is_staff=True
    )
    product = impatient_shop.catalog.create(NewProduct(name="Mug", price="1.00", stock_quantity=1))
    app = create_app(make_settings(), shop=impatient_shop, configure_logs=False)
    path = str(impatient_shop.database.url.database)
    with TestClient(app) as client:
        login = {"email": "staff@example.com", "password": "a long password"}
        token = client.post(f"{API}/auth/login", json=login).json()["access_token"]
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        try:
            response = client.patch(
                f"{PRODUCTS}/{product.id}",
                json={"stock_quantity": 3},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert_unavailable(response)
            assert client.get(f"{PRODUCTS}/{product.id}").status_code == 200
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        metrics = client.get("/metrics").text
        assert 'status="503"' in metrics
        assert 'status="500"' not in metrics


def test_a_database_that_is_down_is_a_503_and_health_stays_200() -> None:
    require_service("postgres", "postgresql://127.0.0.1:5432", 5432)
    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/test"
    with Shop.over(open_database(dead, timeouts=SHORT), secret_key=SECRET) as shop:
        app = create_app(make_settings(), shop=shop, configure_logs=False)
        with TestClient(app) as client:
            assert_unavailable(client.get(PRODUCTS))
            assert_unavailable(client.get(f"{PRODUCTS}/1"))
            assert_unavailable(
                client.post(f"{API}/auth/login", json={"email": "a@b.cd", "password": "x" * 8})
            )
            assert client.get("/health").status_code == 200
            ready = client.get("/ready")
            assert ready.status_code == 503
            assert ready.json()["database"] == "unavailable"


def _degraded(client: TestClient[Any]) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("minicommerce_ratelimit_degraded_total "):
            return float(line.split()[1])
    raise AssertionError("no minicommerce_ratelimit_degraded_total in /metrics")


def test_with_redis_down_the_api_answers_with_per_process_limits(
    app_factory: Callable[..., Litestar], caplog: pytest.LogCaptureFixture
) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    caplog.set_level(logging.WARNING, logger="minicommerce.server")
    with TestClient(app_factory(redis_url=dead, rate_limit_anon="3/minute")) as client:
        wait_for_fresh_window()
        statuses = [client.get(PRODUCTS).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        assert _degraded(client) == 4
        assert client.get("/ready").status_code == 503
        assert client.get("/health").status_code == 200
    warnings = [r for r in caplog.records if "rate limits" in r.getMessage()]
    assert len(warnings) == 1, "one line when degrading, not one per request"


def test_with_redis_stalled_the_api_answers(
    app_factory: Callable[..., Litestar], redis_url: str
) -> None:
    with Proxy("127.0.0.1", 6379) as proxy:
        stalled = f"redis://{proxy.url_netloc}/{redis_url.rsplit('/', 1)[1]}"
        with TestClient(app_factory(redis_url=stalled, rate_limit_anon="100/minute")) as client:
            assert client.get(PRODUCTS).status_code == 200
            assert _degraded(client) == 0
            proxy.stall()
            for _ in range(3):
                assert client.get(PRODUCTS).status_code == 200
            assert _degraded(client) == 3


def test_every_api_operation_documents_the_503(client: TestClient[Any]) -> None:
    schema = client.get("/schema/openapi.json").json()
    operations = [
        (path, method, operation)
        for path, item in schema["paths"].items()
        if path.startswith(API)
        for method, operation in item.items()
    ]
    assert len(operations) > 20
    for path, method, operation in operations:
        response = operation["responses"].get("503")
        assert response, (method, path)
        assert set(response["content"]) == {"application/problem+json"}
