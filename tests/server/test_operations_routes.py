"""GET /health, /ready, /metrics and /schema/openapi.json."""

from __future__ import annotations

import re
import socket
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from minicommerce import Shop
from tests.server.conftest import Account, Client
from tests.server.helpers import API, USER_FIELDS, make_product

# Every route of this slice and the statuses the contract (API.md) says it can answer:
# its success, its listed errors, 401 (and 403) on protected routes, 429 under /api/v1.
EXPECTED: dict[tuple[str, str], set[int]] = {
    ("post", f"{API}/auth/register"): {201, 409, 422, 429},
    ("post", f"{API}/auth/login"): {200, 401, 422, 429},
    ("post", f"{API}/auth/refresh"): {200, 401, 422, 429},
    ("post", f"{API}/auth/logout"): {204, 422, 429},
    ("get", f"{API}/me"): {200, 401, 429},
    ("patch", f"{API}/me"): {200, 401, 422, 429},
    ("post", f"{API}/me/password"): {204, 401, 422, 429},
    ("get", f"{API}/products"): {200, 422, 429},
    ("post", f"{API}/products"): {201, 401, 403, 409, 422, 429},
    ("get", f"{API}/products/{{product_id}}"): {200, 404, 429},
    ("patch", f"{API}/products/{{product_id}}"): {200, 401, 403, 404, 409, 412, 422, 429},
    ("delete", f"{API}/products/{{product_id}}"): {204, 401, 403, 404, 429},
    ("post", f"{API}/products/{{product_id}}/images"): {
        201,
        401,
        403,
        404,
        413,
        415,
        422,
        429,
        503,
    },
    ("patch", f"{API}/products/{{product_id}}/images/{{image_id}}"): {
        200,
        401,
        403,
        404,
        422,
        429,
    },
    ("delete", f"{API}/products/{{product_id}}/images/{{image_id}}"): {204, 401, 403, 404, 429},
    ("get", f"{API}/cart"): {200, 401, 429},
    ("put", f"{API}/cart/items/{{product_id}}"): {200, 401, 404, 409, 422, 429},
    ("delete", f"{API}/cart/items/{{product_id}}"): {200, 401, 429},
    ("delete", f"{API}/cart"): {204, 401, 429},
    ("post", f"{API}/orders"): {201, 401, 404, 409, 422, 429},
    ("get", f"{API}/orders"): {200, 401, 422, 429},
    ("get", f"{API}/orders/{{order_id}}"): {200, 401, 404, 429},
    ("post", f"{API}/orders/{{order_id}}/cancel"): {200, 401, 404, 409, 429},
    ("get", f"{API}/admin/orders"): {200, 401, 403, 422, 429},
    ("get", f"{API}/admin/orders/{{order_id}}"): {200, 401, 403, 404, 429},
    ("patch", f"{API}/admin/orders/{{order_id}}"): {200, 401, 403, 404, 409, 422, 429},
    ("get", f"{API}/admin/stats"): {200, 401, 403, 422, 429},
    ("get", f"{API}/admin/users"): {200, 401, 403, 422, 429},
    ("get", f"{API}/admin/users/{{user_id}}"): {200, 401, 403, 404, 429},
    ("patch", f"{API}/admin/users/{{user_id}}"): {200, 401, 403, 404, 409, 422, 429},
    ("get", "/health"): {200},
    ("get", "/ready"): {200, 503},
    ("get", "/metrics"): {200},
}
WITH_BODY = {
    ("post", f"{API}/auth/register"),
    ("post", f"{API}/auth/login"),
    ("post", f"{API}/auth/refresh"),
    ("post", f"{API}/auth/logout"),
    ("patch", f"{API}/me"),
    ("post", f"{API}/me/password"),
    ("post", f"{API}/products"),
    ("patch", f"{API}/products/{{product_id}}"),
    ("patch", f"{API}/products/{{product_id}}/images/{{image_id}}"),
    ("put", f"{API}/cart/items/{{product_id}}"),
    ("post", f"{API}/orders"),
    ("patch", f"{API}/admin/orders/{{order_id}}"),
    ("patch", f"{API}/admin/users/{{user_id}}"),
}
PROTECTED = {
    route for route, statuses in EXPECTED.items() if 401 in statuses and "/auth/" not in route[1]
}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


# --- health and readiness -------------------------------------------------------------------


def test_health(client: Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_checks_the_database(client: Client) -> None:
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_ready_checks_redis_when_configured(
    app_factory: Callable[..., Litestar], redis_url: str
) -> None:
    with TestClient(app_factory(redis_url=redis_url)) as client:
        response = client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok"}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_ready_is_503_when_redis_does_not_answer(app_factory: Callable[..., Litestar]) -> None:
    dead = f"redis://127.0.0.1:{_closed_port()}/0"
    with TestClient(app_factory(redis_url=dead)) as client:
        response = client.get("/ready")
        assert client.get("/health").status_code == 200
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "ok", "redis": "unavailable"}


# --- metrics --------------------------------------------------------------------------------


def _sample(text: str, name: str, **labels: str) -> float | None:
    """The value of the sample ``name`` whose labels include ``labels``."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name + "{"):
            continue
        match = re.fullmatch(r"([a-z_]+)\{(.*)\} (\S+)", line)
        assert match, line
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2)))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(3))
    return None


def test_metrics_count_requests_by_route_and_status(client: Client, sqlite_shop: Shop) -> None:
    product = make_product(sqlite_shop)
    for _ in range(3):
        assert client.get(f"{API}/products").status_code == 200
    assert client.get(f"{API}/products/{product.id}").status_code == 200
    assert client.get(f"{API}/products/424242").status_code == 404
    assert client.get(f"{API}/products", params={"limit": 0}).status_code == 422
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert "# TYPE minicommerce_http_requests_total counter" in text
    total = "minicommerce_http_requests_total"
    assert _sample(text, total, method="GET", route=f"{API}/products", status="200") == 3
    assert _sample(text, total, method="GET", route=f"{API}/products", status="422") == 1
    by_id = f"{API}/products/{{product_id}}"
    assert _sample(text, total, method="GET", route=by_id, status="200") == 1
    assert _sample(text, total, method="GET", route=by_id, status="404") == 1
    assert "# TYPE minicommerce_http_request_duration_seconds histogram" in text
    count = "minicommerce_http_request_duration_seconds_count"
    assert _sample(text, count, method="GET", route=f"{API}/products") == 4
    bucket = "minicommerce_http_request_duration_seconds_bucket"
    assert _sample(text, bucket, method="GET", route=f"{API}/products", le="+Inf") == 4
    assert "minicommerce_orders_placed_total 0" in text
    assert f"/products/{product.id}" not in text  # routes, not raw paths: bounded labels


def test_metrics_content_type_is_the_prometheus_text_format(client: Client) -> None:
    content_type = client.get("/metrics").headers["content-type"]
    params = [p.strip().split("=")[0].lower() for p in content_type.split(";")[1:]]
    assert content_type.split(";")[0] == "text/plain"
    assert "version=0.0.4" in content_type
    assert len(params) == len(set(params)), content_type


# --- OpenAPI --------------------------------------------------------------------------------


@pytest.fixture
def schema(client: Client) -> dict[str, Any]:
    response = client.get("/schema/openapi.json")
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = schema["components"]["schemas"][name]
    return node


def test_openapi_is_version_3_1(schema: dict[str, Any]) -> None:
    assert schema["openapi"].startswith("3.1")
    assert schema["info"]["title"]


def test_openapi_lists_exactly_the_routes_of_this_slice(schema: dict[str, Any]) -> None:
    documented = {
        (method, path)
        for path, item in schema["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }
    assert documented == set(EXPECTED)


@pytest.mark.parametrize(("method", "path"), sorted(EXPECTED))
def test_openapi_documents_every_status_of_a_route(
    schema: dict[str, Any], method: str, path: str
) -> None:
    operation = schema["paths"][path][method]
    statuses = {int(code) for code in operation["responses"]}
    assert EXPECTED[(method, path)] <= statuses, sorted(statuses)
    for status in EXPECTED[(method, path)]:
        if status >= 400 and path.startswith(API):
            content = operation["responses"][str(status)]["content"]
            assert set(content) == {"application/problem+json"}, (status, content)
            problem = _resolve(schema, content["application/problem+json"]["schema"])
            assert {"type", "title", "status", "detail", "code"} <= set(problem["required"])


@pytest.mark.parametrize(("method", "path"), sorted(WITH_BODY))
def test_openapi_documents_request_bodies(schema: dict[str, Any], method: str, path: str) -> None:
    body = schema["paths"][path][method]["requestBody"]
    assert "application/json" in body["content"]


@pytest.mark.parametrize(("method", "path"), sorted(PROTECTED))
def test_openapi_marks_protected_routes_with_bearer_security(
    schema: dict[str, Any], method: str, path: str
) -> None:
    assert schema["paths"][path][method].get("security") == [{"BearerToken": []}]
    scheme = schema["components"]["securitySchemes"]["BearerToken"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")


def test_openapi_documents_the_login_errors(schema: dict[str, Any]) -> None:
    responses = schema["paths"][f"{API}/auth/login"]["post"]["responses"]
    assert "invalid_credentials" in responses["401"]["description"]
    assert "429" in responses


def test_openapi_money_fields_are_strings(schema: dict[str, Any]) -> None:
    schemas = schema["components"]["schemas"]
    assert schemas["Product"]["properties"]["price"]["type"] == "string"
    assert schemas["Product"]["properties"]["currency"]["type"] == "string"
    assert schemas["NewProduct"]["properties"]["price"]["type"] == "string"
    change = schemas["ProductChanges"]["properties"]["price"]
    assert {"type": "string"} in change.get("oneOf", [change])
    parameters = schema["paths"][f"{API}/products"]["get"]["parameters"]
    for parameter in parameters:
        if parameter["name"] in ("min_price", "max_price"):
            options = parameter["schema"].get("oneOf", [parameter["schema"]])
            assert any(option.get("type") == "string" for option in options)


def test_openapi_user_and_token_pair_shapes(schema: dict[str, Any]) -> None:
    schemas = schema["components"]["schemas"]
    user = schemas["User"]
    assert set(user["properties"]) == USER_FIELDS
    assert "password" not in str(user)
    pair = schemas["TokenPair"]
    assert set(pair["properties"]) == {"access_token", "refresh_token", "token_type", "expires_in"}


# --- warnings -------------------------------------------------------------------------------


def test_creating_the_app_emits_no_deprecation_warnings(
    app_factory: Callable[..., Litestar],
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        app_factory()


def test_health_and_ready_need_no_token(client: Client, customer: Account) -> None:
    assert client.get("/health", headers={"Authorization": "Bearer garbage"}).status_code == 200
    assert client.get("/ready", headers=customer.headers).status_code == 200
