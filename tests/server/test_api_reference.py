"""docs/api.md, the HTTP API reference, against what the server says of itself.

Every route of /schema/openapi.json is in the reference with its success status and its
error statuses, every route of the reference exists, and every error code the server can
answer with is listed with its status.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import msgspec
import pytest

from minicommerce import errors
from minicommerce_server.problems import HTTP_CODES, STATUS_FOR, Problem
from tests.server.conftest import Client

REFERENCE = Path(__file__).parents[2] / "docs" / "api.md"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# Statuses the reference states once for every route instead of on each row.
STATED_ONCE = {400, 413, 415, 429, 500, 503}

Route = tuple[str, str]


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _statuses(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"\b([1-5]\d\d)\b", text)}


def documented_routes(text: str) -> dict[Route, tuple[int, set[int]]]:
    """(method, path) -> (success status, error statuses) from the route tables."""
    routes: dict[Route, tuple[int, set[int]]] = {}
    for line in text.splitlines():
        if not line.startswith("|"):
            continue
        cells = _cells(line)
        if len(cells) != 6 or cells[0] not in METHODS:
            continue
        path = cells[1].strip("`")
        route = (cells[0].lower(), path)
        assert route not in routes, f"{route} is listed twice"
        success = re.match(r"\d{3}", cells[4])
        assert success, f"{route}: no success status in {cells[4]!r}"
        routes[route] = (int(success.group()), _statuses(cells[5]))
    return routes


def documented_codes(text: str) -> dict[str, int]:
    """code -> status from the error code table."""
    section = text.split("## Error codes", 1)[1]
    codes: dict[str, int] = {}
    for line in section.splitlines():
        cells = _cells(line) if line.startswith("|") else []
        if len(cells) == 3 and re.fullmatch(r"`[a-z_]+`", cells[0]) and cells[1].isdigit():
            codes[cells[0].strip("`")] = int(cells[1])
    return codes


def schema_routes(schema: dict[str, Any]) -> dict[Route, tuple[int, set[int]]]:
    routes: dict[Route, tuple[int, set[int]]] = {}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method.upper() not in METHODS:
                continue
            statuses = {int(status) for status in operation["responses"]}
            (success,) = {s for s in statuses if s < 300}
            routes[(method, path)] = (success, {s for s in statuses if s >= 400})
    return routes


def server_codes() -> dict[str, int]:
    """Every code the server answers with: the error classes' and the HTTP-level ones."""
    codes = {code: status for status, code in HTTP_CODES.items()}
    pending = list(errors.CommerceError.__subclasses__())
    while pending:
        cls = pending.pop()
        pending += cls.__subclasses__()
        codes[cls.code] = next(status for base, status in STATUS_FOR if issubclass(cls, base))
    return codes


@pytest.fixture(scope="module")
def reference() -> str:
    return REFERENCE.read_text()


@pytest.fixture
def schema(client: Client) -> dict[str, Any]:
    response = client.get("/schema/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_every_route_of_the_schema_is_in_the_reference(
    reference: str, schema: dict[str, Any]
) -> None:
    missing = set(schema_routes(schema)) - set(documented_routes(reference))
    assert missing == set()


def test_every_route_of_the_reference_is_in_the_schema(
    reference: str, schema: dict[str, Any]
) -> None:
    unknown = set(documented_routes(reference)) - set(schema_routes(schema))
    assert unknown == set()


def test_the_reference_gives_each_route_its_statuses(
    reference: str, schema: dict[str, Any]
) -> None:
    documented = documented_routes(reference)
    for route, (success, failures) in schema_routes(schema).items():
        assert documented[route][0] == success, route
        stated_once = STATED_ONCE if route[1].startswith("/api/v1/") else {500}
        # A row may name a status stated once when it has a code of its own to give.
        assert documented[route][1] - stated_once == failures - stated_once, route


def test_what_the_reference_states_once_holds_for_every_api_route(
    reference: str, schema: dict[str, Any]
) -> None:
    assert "`429 rate_limited` on every `/api/v1` route" in reference
    for (_method, path), (_success, failures) in schema_routes(schema).items():
        assert (429 in failures) == path.startswith("/api/v1/"), path


def test_every_error_code_is_in_the_reference_with_its_status(reference: str) -> None:
    assert documented_codes(reference) == server_codes()


def test_the_reference_names_every_field_of_a_problem(reference: str) -> None:
    for field in msgspec.structs.fields(Problem):
        assert f"`{field.name}`" in reference, field.name


def test_the_reference_names_every_header_of_the_schema(
    reference: str, schema: dict[str, Any]
) -> None:
    headers = {"Retry-After", "X-Request-ID", "WWW-Authenticate", "Authorization"}
    for operations in schema["paths"].values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            headers |= {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
            for response in operation.get("responses", {}).values():
                headers |= set(response.get("headers", {}))
    assert {"If-Match", "Idempotency-Key", "ETag"} <= headers
    for header in headers:
        assert f"| `{header}` |" in reference, header


def test_the_parsers_can_fail() -> None:
    sample = "| GET | `/x` | anyone | — | 200 X | 404, 409 `c` |\n## Error codes\n"
    sample += "| `c` | 409 | w |\n"
    assert documented_routes(sample) == {("get", "/x"): (200, {404, 409})}
    assert documented_codes(sample) == {"c": 409}
