"""Assertions and builders shared by the HTTP tests."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
from litestar import Litestar
from litestar.types import Receive, Scope, Send

from minicommerce import NewProduct, Product, Shop
from tests.conftest import SECRET

API = "/api/v1"
PROBLEM = "application/problem+json"
USER_FIELDS = {
    "id",
    "email",
    "first_name",
    "last_name",
    "is_staff",
    "is_active",
    "created_at",
    "last_login",
}
MONEY = re.compile(r"^[0-9]+\.[0-9]{2}$")


def media_type(response: httpx.Response) -> str:
    content_type = str(response.headers.get("content-type", ""))
    return content_type.split(";")[0].strip()


def assert_problem(
    response: httpx.Response,
    status: int,
    code: str,
    fields: Collection[str] | None = None,
) -> dict[str, Any]:
    """An RFC 9457 problem with this status and code (and, for 422s, these fields)."""
    assert response.status_code == status, response.text
    assert media_type(response) == PROBLEM, response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith(code)
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    if fields is not None:
        assert {err["field"] for err in body["errors"]} == set(fields), body
        assert all(isinstance(err["message"], str) and err["message"] for err in body["errors"])
    return body


def assert_validation(response: httpx.Response, *fields: str) -> dict[str, Any]:
    return assert_problem(response, 422, "validation_error", fields)


def assert_timestamp(value: object) -> datetime:
    """An RFC 3339 timestamp in UTC, written with ``Z``."""
    assert isinstance(value, str), value
    assert value.endswith("Z"), value
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() == timedelta(0)
    return parsed


def assert_user(body: dict[str, Any]) -> None:
    assert set(body) == USER_FIELDS, body
    assert isinstance(body["id"], int)
    assert isinstance(body["is_staff"], bool)
    assert isinstance(body["is_active"], bool)
    assert_timestamp(body["created_at"])
    if body["last_login"] is not None:
        assert_timestamp(body["last_login"])


def make_product(
    shop: Shop,
    name: str = "Mug",
    price: str = "9.50",
    stock: int = 10,
    sku: str | None = None,
    description: str = "",
) -> Product:
    return shop.catalog.create(
        NewProduct(name=name, price=price, stock_quantity=stock, sku=sku, description=description)
    )


def cursor_of(*values: object) -> str:
    """A cursor in the server's own encoding, for crafting ones it never issued."""
    raw = json.dumps(list(values), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def access_claims(
    user_id: int, session_id: str = "no-such-session", **changes: Any
) -> dict[str, Any]:
    """The claims of a valid access token; ``changes`` overrides (``None`` removes)."""
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "sid": session_id,
        "iat": now,
        "exp": now + timedelta(minutes=15),
        "jti": "test-jti-" + str(time.time_ns()),
        "iss": "minicommerce",
        "aud": "minicommerce-api",
    }
    for key, value in changes.items():
        if value is None:
            claims.pop(key, None)
        else:
            claims[key] = value
    return claims


def mint(
    claims: dict[str, Any],
    key: str = SECRET,
    algorithm: str = "HS256",
    typ: str = "at+jwt",
) -> str:
    return jwt.encode(claims, key, algorithm=algorithm, headers={"typ": typ})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wait_for_fresh_window(period: int = 60, margin: float = 5.0) -> None:
    """Rate limits count in fixed windows: start a burst well inside one, so that a
    window boundary in the middle of a test cannot reset the count."""
    remaining = period - time.time() % period
    if remaining < margin:
        time.sleep(remaining + 0.1)


def behind_proxy(app: Litestar, peer: str) -> Litestar:
    """``app`` as reached through a reverse proxy at ``peer`` (the test client's own peer
    address is not an IP address)."""
    inner = app.asgi_handler

    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        scope["client"] = (peer, 40_000)
        await inner(scope, receive, send)

    app.asgi_handler = handler
    return app
