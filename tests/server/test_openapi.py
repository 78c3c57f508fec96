"""The OpenAPI document says exactly what the server accepts and answers (the schemathesis
run in test_schemathesis.py checks the same from the outside)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from minicommerce import Shop, errors
from minicommerce.ids import MAX_ID
from minicommerce.pagination import MAX_CURSOR_LENGTH
from minicommerce_server.problems import HTTP_CODES
from tests.server.conftest import Account, Client
from tests.server.helpers import API, PROBLEM, assert_problem, assert_validation, make_product

HTTP_METHODS = {"get", "put", "post", "delete", "patch"}
# The statuses Litestar answers by itself, without a domain error.
FRAMEWORK_STATUSES = (400, 404, 405, 413, 415, 500)


@pytest.fixture
def document(client: Client) -> dict[str, Any]:
    response = client.get("/schema/openapi.json")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = document["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def problem_codes(response: dict[str, Any]) -> list[str]:
    schema = response["content"][PROBLEM]["schema"]
    codes: list[str] = schema["allOf"][1]["properties"]["code"]["enum"]
    return codes


def documented_codes(document: dict[str, Any]) -> set[str]:
    responses = [
        response
        for _, _, operation in operations(document)
        for response in operation["responses"].values()
    ]
    responses += document["components"]["responses"].values()
    return {code for response in responses if PROBLEM in response.get("content", {})
            for code in problem_codes(response)}  # fmt: skip


def error_codes() -> set[str]:
    codes: set[str] = set()
    pending: list[type[errors.CommerceError]] = [errors.CommerceError]
    while pending:
        cls = pending.pop()
        codes.add(cls.code)
        pending.extend(cls.__subclasses__())
    return codes - {errors.CommerceError.code}  # the root of the tree, never raised


def test_every_error_code_appears_in_the_document(document: dict[str, Any]) -> None:
    documented = documented_codes(document)
    assert error_codes() - documented == set()
    framework = {HTTP_CODES[status] for status in FRAMEWORK_STATUSES}
    assert framework - documented == set()
    assert "empty_cart" in problem_codes(
        document["paths"][f"{API}/orders"]["post"]["responses"]["422"]
    )


def test_every_error_answer_is_a_problem_with_its_codes(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) < 400 or not path.startswith(API):
                continue
            assert set(response["content"]) == {PROBLEM}, (method, path, status)
            media = response["content"][PROBLEM]
            assert media["schema"]["allOf"][0] == {"$ref": "#/components/schemas/Problem"}
            codes = problem_codes(response)
            assert codes, (method, path, status)
            assert set(media["examples"]) == set(codes)
            assert all(f"`{code}`" in response["description"] for code in codes)


def test_the_statuses_every_route_can_answer_are_documented(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        statuses = {int(status) for status in operation["responses"]}
        assert 500 in statuses, (method, path)
        if not path.startswith(API):
            continue
        assert {429, 503} <= statuses, (method, path)
        if "requestBody" in operation:
            assert {400, 413, 415, 422} <= statuses, (method, path)
        else:
            assert not {400, 415} & statuses, (method, path)
        if "{" in path:
            assert 404 in statuses, (method, path)
        if operation.get("security"):
            assert 401 in statuses, (method, path)
            assert {"unauthenticated", "invalid_token"} <= set(
                problem_codes(operation["responses"]["401"])
            )
    not_allowed = document["components"]["responses"]["MethodNotAllowed"]
    assert problem_codes(not_allowed) == ["method_not_allowed"]


def _objects(document: dict[str, Any], node: Any, seen: set[str]) -> Iterator[dict[str, Any]]:
    """Every object schema reachable from ``node``."""
    if isinstance(node, dict):
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                seen.add(name)
                yield from _objects(document, resolve(document, node), seen)
            return
        if node.get("type") == "object" or "properties" in node:
            yield node
        for value in node.values():
            yield from _objects(document, value, seen)
    elif isinstance(node, list):
        for value in node:
            yield from _objects(document, value, seen)


def test_request_bodies_refuse_unknown_fields(document: dict[str, Any]) -> None:
    bodies = [
        op["requestBody"]
        for _, _, op in operations(document)
        if "application/json" in op.get("requestBody", {}).get("content", {})
    ]
    assert len(bodies) >= 10
    for body in bodies:
        for schema in _objects(document, body["content"]["application/json"]["schema"], set()):
            assert schema.get("additionalProperties") is False, schema


def _takes_null(prop: dict[str, Any]) -> bool:
    return {"type": "null"} in prop.get("anyOf", []) + prop.get("oneOf", [])


def test_null_only_where_the_server_takes_it(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    changes = schemas["ProductChanges"]["properties"]
    assert [name for name, prop in changes.items() if _takes_null(prop)] == ["sku"]
    for name in ("ProfileChanges", "UserAdminChanges"):
        assert not any(_takes_null(prop) for prop in schemas[name]["properties"].values())
    address = schemas["ShippingAddress"]["properties"]
    assert {name for name, prop in address.items() if _takes_null(prop)} == {
        "line2",
        "region",
        "phone",
    }


def test_texts_lengths_and_forms_are_the_ones_checked(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    name = re.compile(schemas["NewProduct"]["properties"]["name"]["pattern"])
    assert [bool(name.search(v)) for v in ("Mug", " ", "Mug\x00", "a\nb")] == [
        True,
        False,
        False,
        False,
    ]
    price = re.compile(schemas["NewProduct"]["properties"]["price"]["pattern"])
    assert [bool(price.search(v)) for v in ("0.01", "99999999.99", "0", "0.00")] == [
        True,
        True,
        False,
        False,
    ]
    email = schemas["Registration"]["properties"]["email"]
    assert email["maxLength"] == 254
    assert email["format"] == "email"
    items = schemas["PlaceOrder"]["properties"]["items"]["anyOf"][0]
    assert (items["minItems"], items["maxItems"]) == (1, 100)
    assert "password" not in schemas["Credentials"]["properties"]["password"].get("pattern", "")


def _parameter(document: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    for parameter in document["paths"][path][method]["parameters"]:
        if parameter["name"] == name:
            schema: dict[str, Any] = parameter["schema"]
            return schema
    raise AssertionError(f"{method} {path} has no parameter {name}")


def test_cursors_and_headers_have_the_forms_the_server_takes(document: dict[str, Any]) -> None:
    for path in ("/products", "/orders", "/admin/orders", "/admin/users"):
        cursor = _parameter(document, API + path, "get", "cursor")
        assert cursor["pattern"] == "^[A-Za-z0-9_-]*$"
        assert cursor["maxLength"] == MAX_CURSOR_LENGTH
    if_match = _parameter(document, f"{API}/products/{{product_id}}", "patch", "If-Match")
    for value in ("*", '"3"', 'W/"3"', '"1", "2"'):
        assert re.search(if_match["pattern"], value), value
    assert not re.search(if_match["pattern"], "3")
    key = _parameter(document, f"{API}/orders", "post", "Idempotency-Key")
    assert (key["minLength"], key["maxLength"]) == (1, 255)
    assert re.search(key["pattern"], "order-2026-11-30-0001")
    assert not re.search(key["pattern"], " padded ")
    user_id = _parameter(document, f"{API}/admin/orders", "get", "user_id")
    assert (user_id["minimum"], user_id["maximum"]) == (1, MAX_ID)


def test_the_browsable_documents_are_the_finished_one(client: Client) -> None:
    for path in ("/schema", "/schema/swagger"):
        response = client.get(path)
        assert response.status_code == 200, path


# --- what the server does, as the document says -----------------------------------------


def test_options_allows_every_documented_method(
    client: Client, document: dict[str, Any], staff: Account
) -> None:
    for path, item in document["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "1", path)
        response = client.options(concrete, headers=staff.headers)
        assert response.status_code == 204, (path, response.text)
        allowed = {m.strip().lower() for m in response.headers["allow"].split(",")}
        documented = {method for method in item if method in HTTP_METHODS}
        assert allowed - {"options", "head"} == documented, path


def test_an_unsupported_method_is_a_problem_with_allow(
    client: Client, document: dict[str, Any]
) -> None:
    response = client.put(f"{API}/me")
    assert_problem(response, 405, "method_not_allowed")
    allowed = {m.strip().lower() for m in response.headers["allow"].split(",")}
    assert allowed - {"options", "head"} == set(document["paths"][f"{API}/me"]) & HTTP_METHODS


def test_staff_routes_refuse_customers_before_reading_the_input(
    client: Client, customer: Account
) -> None:
    response = client.patch(f"{API}/admin/users/1", json={"nonsense": 1}, headers=customer.headers)
    assert_problem(response, 403, "permission_denied")
    response = client.get(f"{API}/admin/orders?limit=0", headers=customer.headers)
    assert_problem(response, 403, "permission_denied")
    response = client.post(f"{API}/products", json={}, headers=customer.headers)
    assert_problem(response, 403, "permission_denied")
    assert_problem(client.post(f"{API}/products", json={}), 401, "unauthenticated")
    assert_problem(client.delete(f"{API}/products/1"), 401, "unauthenticated")
    bad_token = {"Authorization": "Bearer not-a-token"}
    assert_problem(client.get(f"{API}/admin/users", headers=bad_token), 401, "invalid_token")


def test_staff_routes_serve_staff(client: Client, staff: Account) -> None:
    assert client.get(f"{API}/admin/users", headers=staff.headers).status_code == 200
    # The guard's user is the handler's: staff still cannot demote themselves.
    response = client.patch(
        f"{API}/admin/users/{staff.id}", json={"is_staff": False}, headers=staff.headers
    )
    assert_problem(response, 409, "self_modification")


def test_a_user_id_beyond_any_id_is_a_422_not_a_500(client: Client, staff: Account) -> None:
    response = client.get(f"{API}/admin/orders?user_id={MAX_ID + 1}", headers=staff.headers)
    assert_validation(response, "user_id")
    response = client.get(f"{API}/admin/orders?user_id={MAX_ID}", headers=staff.headers)
    assert response.status_code == 200, response.text


def test_a_whole_number_written_with_a_fraction_is_an_integer(
    client: Client, customer: Account, staff: Account, sqlite_shop: Shop
) -> None:
    mug = make_product(sqlite_shop, stock=5)
    response = client.put(
        f"{API}/cart/items/{mug.id}", json={"quantity": 2.0}, headers=customer.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["items"][0]["quantity"] == 2
    response = client.put(
        f"{API}/cart/items/{mug.id}", json={"quantity": 2.5}, headers=customer.headers
    )
    assert_validation(response, "quantity")


def test_a_blank_search_is_no_search(client: Client, staff: Account, sqlite_shop: Shop) -> None:
    make_product(sqlite_shop)
    response = client.get(f"{API}/products", params={"q": "   "})
    assert response.status_code == 200, response.text
    assert len(response.json()["items"]) == 1
    response = client.get(f"{API}/admin/users", params={"q": " "}, headers=staff.headers)
    assert response.status_code == 200, response.text
