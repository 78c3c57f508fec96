"""What every route shares: request ids, problem details, logs, rate limits, CORS, bodies."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from minicommerce import Shop
from tests.server.conftest import Account, Client
from tests.server.helpers import (
    API,
    PROBLEM,
    assert_problem,
    assert_validation,
    bearer,
    behind_proxy,
    make_product,
    media_type,
    wait_for_fresh_window,
)

PRODUCTS = f"{API}/products"
REGISTER = f"{API}/auth/register"
LOGIN = f"{API}/auth/login"
REFRESH = f"{API}/auth/refresh"
ME = f"{API}/me"
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
AppFactory = Callable[..., Litestar]


@pytest.fixture
def limited(app_factory: AppFactory) -> Iterator[Client]:
    """A client of an app that lets an address make 3 anonymous API requests a minute."""
    with TestClient(app_factory(rate_limit_anon="3/minute")) as client:
        wait_for_fresh_window()
        yield client


def exhaust_anonymous(client: Client, limit: int = 3) -> httpx.Response:
    for _ in range(limit):
        assert client.get(PRODUCTS).status_code == 200
    return client.get(PRODUCTS)


# --- request ids ----------------------------------------------------------------------------

CASES: dict[str, Callable[[Client, Account, Account], httpx.Response]] = {
    "200": lambda c, cu, st: c.get(PRODUCTS),
    "201": lambda c, cu, st: c.post(REGISTER, json={"email": "n@example.com", "password": "p" * 8}),
    "204": lambda c, cu, st: c.post(f"{API}/auth/logout", json={"refresh_token": "x"}),
    "400": lambda c, cu, st: c.post(
        LOGIN, content=b"{oops", headers={"Content-Type": "application/json"}
    ),
    "401": lambda c, cu, st: c.get(ME),
    "403": lambda c, cu, st: c.get(f"{API}/admin/users", headers=cu.headers),
    "404": lambda c, cu, st: c.get(f"{PRODUCTS}/424242"),
    "409": lambda c, cu, st: c.post(REGISTER, json={"email": cu.email, "password": "p" * 8}),
    "412": lambda c, cu, st: c.delete(f"{PRODUCTS}/1", headers={**st.headers, "If-Match": '"99"'}),
    "422": lambda c, cu, st: c.get(PRODUCTS, params={"limit": 0}),
    "health": lambda c, cu, st: c.get("/health"),
    "metrics": lambda c, cu, st: c.get("/metrics"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_response_carries_a_request_id(
    client: Client, customer: Account, staff: Account, sqlite_shop: Shop, case: str
) -> None:
    make_product(sqlite_shop)
    response = CASES[case](client, customer, staff)
    if case.isdigit():
        assert response.status_code == int(case), response.text
    request_id = response.headers.get("X-Request-ID")
    assert request_id is not None, response.headers
    assert REQUEST_ID.fullmatch(request_id), request_id


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", f"{API}/nowhere", 404), ("PUT", f"{PRODUCTS}/1", 405)],
)
def test_router_level_answers_carry_a_request_id(
    client: Client, method: str, path: str, status: int
) -> None:
    response = client.request(method, path)
    assert response.status_code == status
    assert media_type(response) == PROBLEM
    assert "X-Request-ID" in response.headers


def test_router_level_answers_are_problems(client: Client) -> None:
    assert_problem(client.get(f"{API}/nowhere"), 404, "not_found")
    response = client.put(f"{PRODUCTS}/1")
    assert_problem(response, 405, "method_not_allowed")
    assert "PATCH" in response.headers["Allow"]


def test_request_ids_are_unique(client: Client) -> None:
    seen = {client.get("/health").headers["X-Request-ID"] for _ in range(5)}
    assert len(seen) == 5


def test_a_valid_incoming_request_id_is_echoed(client: Client) -> None:
    response = client.get(PRODUCTS, headers={"X-Request-ID": "trace-42.abc_DEF"})
    assert response.headers["X-Request-ID"] == "trace-42.abc_DEF"


@pytest.mark.parametrize("incoming", ["has spaces", "x" * 65, "semi;colon", "<script>"])
def test_an_invalid_incoming_request_id_is_replaced(client: Client, incoming: str) -> None:
    response = client.get(PRODUCTS, headers={"X-Request-ID": incoming})
    request_id = response.headers["X-Request-ID"]
    assert request_id != incoming
    assert REQUEST_ID.fullmatch(request_id)


# --- unexpected failures --------------------------------------------------------------------


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("boom SELECT secret FROM users")


@pytest.mark.parametrize("incoming", [None, "req-from-the-edge-1"])
def test_an_unexpected_error_is_a_500_problem_with_the_request_id(
    client: Client,
    sqlite_shop: Shop,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    incoming: str | None,
) -> None:
    monkeypatch.setattr(sqlite_shop.catalog, "list", _boom)
    headers = {"X-Request-ID": incoming} if incoming else {}
    with caplog.at_level(logging.ERROR, logger="minicommerce"):
        response = client.get(PRODUCTS, headers=headers)
    body = assert_problem(response, 500, "internal_error")
    assert body["request_id"] == response.headers["X-Request-ID"]
    if incoming:
        assert body["request_id"] == incoming
    for leak in ("boom", "SELECT", "secret", "Traceback", "RuntimeError", 'File "'):
        assert leak not in response.text
    assert "boom SELECT secret" in caplog.text  # the details go to the log instead


def test_problem_responses_only_carry_a_request_id_for_server_errors(client: Client) -> None:
    body = assert_problem(client.get(f"{PRODUCTS}/424242"), 404, "not_found")
    assert "request_id" not in body


# --- access log -----------------------------------------------------------------------------


def _access_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "minicommerce.access"]


def test_one_access_log_record_per_request(
    client: Client, customer: Account, sqlite_shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    product = make_product(sqlite_shop)
    caplog.set_level(logging.INFO, logger="minicommerce.access")
    responses = [
        client.get(PRODUCTS, params={"q": "mug"}),
        client.get(f"{PRODUCTS}/{product.id}"),
        client.get(f"{PRODUCTS}/424242"),
        client.get(ME, headers=customer.headers),
        client.get(ME),
        client.post(REGISTER, json={"email": "bad"}),
        client.get("/health"),
    ]
    records = _access_records(caplog)
    assert len(records) == len(responses)
    for record, response in zip(records, responses, strict=True):
        fields: dict[str, Any] = vars(record)
        assert fields["request_id"] == response.headers["X-Request-ID"]
        assert fields["method"] == response.request.method
        assert fields["path"] == response.request.url.path
        assert fields["status"] == response.status_code
        assert isinstance(fields["duration_ms"], int | float)
        assert fields["duration_ms"] >= 0
    assert vars(records[3])["user_id"] == customer.id
    assert vars(records[4])["user_id"] is None
    assert vars(records[1])["route"] == f"{PRODUCTS}/{{product_id}}"
    assert all("q=mug" not in str(vars(r)) for r in records)


def test_logs_never_contain_passwords_or_tokens(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    password = "Unmistakable-Passw0rd-4711"
    wrong = "Another-Wrong-Passw0rd-0815"
    secrets = [password, wrong]
    assert (
        client.post(REGISTER, json={"email": "log@example.com", "password": password}).status_code
        == 201
    )
    assert (
        client.post(LOGIN, json={"email": "log@example.com", "password": wrong}).status_code == 401
    )
    pair = client.post(LOGIN, json={"email": "log@example.com", "password": password}).json()
    secrets += [pair["access_token"], pair["refresh_token"]]
    assert client.get(ME, headers=bearer(pair["access_token"])).status_code == 200
    rotated = client.post(REFRESH, json={"refresh_token": pair["refresh_token"]}).json()
    secrets += [rotated["access_token"], rotated["refresh_token"]]
    assert client.post(REFRESH, json={"refresh_token": pair["refresh_token"]}).status_code == 401
    client.post(
        f"{API}/me/password",
        headers=bearer(rotated["access_token"]),
        json={"current_password": password, "new_password": wrong},
    )
    assert caplog.records, "the requests were logged"
    everything = caplog.text + "\n".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    for secret in secrets:
        assert secret not in everything
    assert len(_access_records(caplog)) == 7


# --- rate limits ----------------------------------------------------------------------------


def test_fourth_anonymous_request_in_a_minute_is_429(limited: Client) -> None:
    response = exhaust_anonymous(limited)
    body = assert_problem(response, 429, "rate_limited")
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert body["retry_after"] == retry_after
    assert_problem(limited.get(f"{PRODUCTS}/1"), 429, "rate_limited")
    assert_problem(
        limited.post(LOGIN, json={"email": "a@b.cd", "password": "x"}), 429, "rate_limited"
    )


def test_a_bad_token_counts_as_anonymous(limited: Client) -> None:
    exhaust_anonymous(limited)
    assert_problem(limited.get(PRODUCTS, headers=bearer("garbage")), 429, "rate_limited")


def test_authenticated_users_have_their_own_limit(
    app_factory: AppFactory, customer: Account, staff: Account
) -> None:
    app = app_factory(rate_limit_anon="3/minute", rate_limit_user="5/minute")
    with TestClient(app) as client:
        wait_for_fresh_window()
        assert_problem(exhaust_anonymous(client), 429, "rate_limited")
        for _ in range(5):
            assert client.get(PRODUCTS, headers=customer.headers).status_code == 200
        response = client.get(ME, headers=customer.headers)
        assert_problem(response, 429, "rate_limited")
        assert 1 <= int(response.headers["Retry-After"]) <= 60
        assert client.get(ME, headers=staff.headers).status_code == 200
        assert_problem(client.get(PRODUCTS), 429, "rate_limited")


def proxied(app_factory: AppFactory, peer: str) -> Client:
    app = app_factory(rate_limit_anon="3/minute", trusted_proxies="10.0.0.0/8, fd00::/8")
    return TestClient(behind_proxy(app, peer))


def test_a_forged_first_forwarded_address_does_not_escape_the_limit(
    app_factory: AppFactory,
) -> None:
    with proxied(app_factory, "10.0.0.1") as client:
        wait_for_fresh_window()
        for n in range(3):
            # The client wrote the first address; our proxy appended the real one.
            headers = {"X-Forwarded-For": f"1.2.3.{n}, 198.51.100.7"}
            assert client.get(PRODUCTS, headers=headers).status_code == 200
        headers = {"X-Forwarded-For": "1.2.3.99, 198.51.100.7"}
        assert_problem(client.get(PRODUCTS, headers=headers), 429, "rate_limited")
        other = {"X-Forwarded-For": "198.51.100.8"}  # another client behind the same proxy
        assert client.get(PRODUCTS, headers=other).status_code == 200


def test_forwarded_addresses_from_an_untrusted_peer_are_ignored(
    app_factory: AppFactory,
) -> None:
    with proxied(app_factory, "203.0.113.5") as client:
        wait_for_fresh_window()
        for n in range(3):
            headers = {"X-Forwarded-For": f"198.51.100.{n}"}
            assert client.get(PRODUCTS, headers=headers).status_code == 200
        headers = {"X-Forwarded-For": "198.51.100.99"}
        assert_problem(client.get(PRODUCTS, headers=headers), 429, "rate_limited")


def test_a_chain_of_trusted_ipv6_proxies(app_factory: AppFactory) -> None:
    with proxied(app_factory, "fd00::1") as client:
        wait_for_fresh_window()
        for _ in range(3):
            headers = {"X-Forwarded-For": "2001:db8::7, fd00::9"}
            assert client.get(PRODUCTS, headers=headers).status_code == 200
        headers = {"X-Forwarded-For": "2001:db8::7, fd00::9"}
        assert_problem(client.get(PRODUCTS, headers=headers), 429, "rate_limited")
        headers = {"X-Forwarded-For": "2001:db8::8, fd00::9"}
        assert client.get(PRODUCTS, headers=headers).status_code == 200


def test_operations_routes_are_not_rate_limited(limited: Client) -> None:
    exhaust_anonymous(limited)
    for _ in range(10):
        assert limited.get("/health").status_code == 200
    assert limited.get("/ready").status_code == 200
    assert limited.get("/metrics").status_code == 200
    assert limited.get("/schema/openapi.json").status_code == 200


def test_a_rate_limited_answer_is_logged_and_counted_as_429(
    limited: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="minicommerce.access")
    response = exhaust_anonymous(limited)
    assert response.status_code == 429
    metrics = limited.get("/metrics").text
    assert f'route="{PRODUCTS}",status="429"}} 1' in metrics
    assert 'status="500"' not in metrics
    assert [vars(r)["status"] for r in _access_records(caplog)][:4] == [200, 200, 200, 429]
    assert "X-Request-ID" in response.headers


def test_separate_processes_without_redis_count_separately(app_factory: AppFactory) -> None:
    """The control for the Redis test below: in-memory limits are per app."""
    with (
        TestClient(app_factory(rate_limit_anon="3/minute")) as first,
        TestClient(app_factory(rate_limit_anon="3/minute")) as second,
    ):
        wait_for_fresh_window()
        statuses = [c.get(PRODUCTS).status_code for c in (first, second, first, second)]
        assert statuses == [200, 200, 200, 200]


def test_limits_are_shared_across_apps_through_redis(
    app_factory: AppFactory, redis_url: str
) -> None:
    with (
        TestClient(app_factory(rate_limit_anon="3/minute", redis_url=redis_url)) as first,
        TestClient(app_factory(rate_limit_anon="3/minute", redis_url=redis_url)) as second,
    ):
        wait_for_fresh_window()
        assert first.get(PRODUCTS).status_code == 200
        assert second.get(PRODUCTS).status_code == 200
        assert first.get(PRODUCTS).status_code == 200
        response = second.get(PRODUCTS)
        assert_problem(response, 429, "rate_limited")
        assert 1 <= int(response.headers["Retry-After"]) <= 60
        assert_problem(first.get(PRODUCTS), 429, "rate_limited")
        assert second.get("/health").status_code == 200


def test_user_limits_are_shared_across_apps_through_redis(
    app_factory: AppFactory, redis_url: str, customer: Account
) -> None:
    settings = {"rate_limit_user": "2/minute", "redis_url": redis_url}
    with (
        TestClient(app_factory(**settings)) as first,
        TestClient(app_factory(**settings)) as second,
    ):
        wait_for_fresh_window()
        assert first.get(ME, headers=customer.headers).status_code == 200
        assert second.get(ME, headers=customer.headers).status_code == 200
        assert_problem(first.get(ME, headers=customer.headers), 429, "rate_limited")


# --- CORS -----------------------------------------------------------------------------------

ALLOWED = "https://a.example"


@pytest.fixture
def cors_client(app_factory: AppFactory) -> Iterator[Client]:
    with TestClient(app_factory(cors_origins=ALLOWED)) as client:
        yield client


def _preflight(client: Client, origin: str, method: str = "PATCH") -> httpx.Response:
    return client.options(
        f"{PRODUCTS}/1",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type, if-match",
        },
    )


def test_preflight_from_an_allowed_origin(cors_client: Client) -> None:
    response = _preflight(cors_client, ALLOWED)
    assert response.status_code in (200, 204)
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert "PATCH" in response.headers["access-control-allow-methods"]
    allowed_headers = response.headers["access-control-allow-headers"].lower()
    for header in ("authorization", "content-type", "if-match"):
        assert header in allowed_headers


def test_preflight_from_another_origin_is_not_allowed(cors_client: Client) -> None:
    response = _preflight(cors_client, "https://evil.example")
    assert "access-control-allow-origin" not in response.headers


def test_simple_request_from_an_allowed_origin_exposes_headers(
    cors_client: Client, sqlite_shop: Shop
) -> None:
    product = make_product(sqlite_shop)
    response = cors_client.get(f"{PRODUCTS}/{product.id}", headers={"Origin": ALLOWED})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED
    exposed = response.headers["access-control-expose-headers"].lower()
    for header in ("etag", "x-request-id", "retry-after"):
        assert header in exposed
    other = cors_client.get(f"{PRODUCTS}/{product.id}", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_no_cors_headers_without_configured_origins(client: Client) -> None:
    response = _preflight(client, ALLOWED)
    assert "access-control-allow-origin" not in response.headers
    response = client.get(PRODUCTS, headers={"Origin": ALLOWED})
    assert "access-control-allow-origin" not in response.headers


# --- request bodies -------------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"{oops", b'{"email": "a@b.cd",}', b"\xff\xfe", b"{"])
def test_malformed_json_is_a_400_problem(client: Client, content: bytes) -> None:
    response = client.post(REGISTER, content=content, headers={"Content-Type": "application/json"})
    assert_problem(response, 400, "bad_request")


def test_malformed_json_to_a_staff_route_is_a_4xx_problem(client: Client, staff: Account) -> None:
    response = client.post(
        PRODUCTS, content=b"{nope", headers={**staff.headers, "Content-Type": "application/json"}
    )
    assert 400 <= response.status_code < 500
    assert media_type(response) == PROBLEM


@pytest.mark.parametrize("content", [b"[1, 2]", b"null", b'"text"', b"42"])
def test_a_json_body_that_is_not_an_object_is_422(client: Client, content: bytes) -> None:
    response = client.post(REGISTER, content=content, headers={"Content-Type": "application/json"})
    assert_validation(response, "body")


def test_an_empty_body_is_422_naming_the_body(client: Client) -> None:
    response = client.post(REGISTER, content=b"", headers={"Content-Type": "application/json"})
    body = assert_validation(response, "body")
    assert body["errors"][0]["message"] != "'data'"


def test_an_empty_body_is_a_422_problem(client: Client) -> None:
    response = client.post(REGISTER, content=b"", headers={"Content-Type": "application/json"})
    assert_problem(response, 422, "validation_error")


def test_a_body_over_the_size_limit_is_413(client: Client) -> None:
    content = b'{"email": "' + b"x" * 2_500_000 + b'"}'
    response = client.post(REGISTER, content=content, headers={"Content-Type": "application/json"})
    assert_problem(response, 413, "payload_too_large")
