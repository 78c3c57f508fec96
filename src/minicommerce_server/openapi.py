"""The OpenAPI document, made to say exactly what the server accepts and answers.

Litestar writes the document from the route declarations; this module finishes it, once:

- request bodies are the commands' own pydantic JSON schemas (the ones the server validates
  with): unknown fields refused (``additionalProperties: false``), ``null`` only where it is
  taken, patterns and lengths as checked;
- every error is an RFC 9457 problem (``application/problem+json``) whose ``code`` lists the
  values it can take, including the answers no route declares: malformed or oversized or
  non-JSON bodies (400, 413, 415), paths that name nothing (404), rate limits (429),
  outages (503) and failures (500);
- query and header parameters say the forms the server takes (cursors, ``If-Match``,
  ``Idempotency-Key``). (An optional query parameter keeps Litestar's ``null``: the
  server reads ``?in_stock=null`` as no value.)
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pydantic
from litestar import Request
from litestar.openapi.plugins import (
    JsonRenderPlugin,
    OpenAPIRenderPlugin,
    RedocRenderPlugin,
    SwaggerRenderPlugin,
)

from minicommerce.commands import Command, Part
from minicommerce.orders.models import MAX_LOW_STOCK
from minicommerce.pagination import MAX_CURSOR_LENGTH
from minicommerce.text import TEXT_PATTERN
from minicommerce_server.problems import (
    GENERIC_CODES,
    PROBLEM_MEDIA_TYPE,
    codes_for,
    describe,
    problem_example,
)

HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
API_PREFIX = "/api/"
PROBLEM_REF = "#/components/schemas/Problem"
REF_TEMPLATE = "#/components/schemas/{model}"
CODES = " Codes: "

CURSOR = {
    "type": "string",
    "maxLength": MAX_CURSOR_LENGTH,
    "pattern": "^[A-Za-z0-9_-]*$",
    "description": "Opaque: the `next_cursor` of the previous page of the same list (and "
    "sort). Empty or absent: the first page. Any other value is a 422.",
}
# RFC 9110 If-Match: "*" or a list of entity tags. Ours are strong tags of the version
# ("3"); any other tag matches nothing, which is a 412.
IF_MATCH = {
    "type": "string",
    "maxLength": 1024,
    "pattern": r'^\s*(\*|(W/)?"[\x21\x23-\x7e]*"(\s*,\s*(W/)?"[\x21\x23-\x7e]*")*)\s*$',
}
IDEMPOTENCY_KEY = {
    "type": "string",
    "minLength": 1,
    "maxLength": 255,
    # Visible ASCII; a header value never starts or ends with a space.
    "pattern": r"^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$",
}
# A search term: one line of text, no control characters (minicommerce.text.Text).
SEARCH = {"type": "string", "maxLength": 200, "pattern": TEXT_PATTERN}
PARAMETERS: dict[tuple[str, str], dict[str, Any]] = {
    ("query", "cursor"): CURSOR,
    ("query", "q"): SEARCH,
    # An optional integer: Litestar documents ``int | None`` without the bounds it checks
    # (and takes ``null`` for none, as it says).
    ("query", "low_stock"): {
        "oneOf": [{"type": "integer", "minimum": 0, "maximum": MAX_LOW_STOCK}, {"type": "null"}]
    },
    ("header", "If-Match"): IF_MATCH,
    ("header", "Idempotency-Key"): IDEMPOTENCY_KEY,
}

# Statuses that every operation of a kind can answer, whatever its declaration says.
EVERY_OPERATION = (500,)
EVERY_API_OPERATION = (429, 503)
WITH_BODY = (400, 413, 415, 422)  # JSON or a form: malformed, too large, wrong type, invalid
WITH_PATH_PARAMETERS = (404,)
WITH_TOKEN = (401,)


def request_models() -> dict[str, type[pydantic.BaseModel]]:
    """Every command and part by name: the component names Litestar gives them."""
    found: dict[str, type[pydantic.BaseModel]] = {}
    pending: list[type[pydantic.BaseModel]] = [Command, Part]
    while pending:
        cls = pending.pop()
        found[cls.__name__] = cls
        pending.extend(cls.__subclasses__())
    return found


def exact_document(document: dict[str, Any]) -> dict[str, Any]:
    """A finished copy of the document Litestar made (see the module's docstring)."""
    doc = copy.deepcopy(document)
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    _bodies_from_commands(schemas)
    for path, method, operation in _operations(doc):
        for parameter in operation.get("parameters", ()):
            _exact_parameter(parameter)
        _exact_responses(path, method, operation)
    not_allowed = _problem_response(405, [], describe(405))
    _finish_problem(405, not_allowed)
    components.setdefault("responses", {})["MethodNotAllowed"] = not_allowed
    return doc


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc.get("paths", {}).items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def _bodies_from_commands(schemas: dict[str, Any]) -> None:
    """Replace Litestar's schemas of the request bodies with pydantic's own."""
    models = request_models()
    for name in list(schemas):
        model = models.get(name)
        if model is None:
            continue
        schema = model.model_json_schema(ref_template=REF_TEMPLATE, mode="validation")
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema


def _exact_parameter(parameter: dict[str, Any]) -> None:
    exact = PARAMETERS.get((parameter["in"], parameter["name"]))
    if exact is not None:
        description = parameter.get("description") or exact.get("description")
        parameter["schema"] = {k: v for k, v in exact.items() if k != "description"}
        if description:
            parameter["description"] = description
        return


def _exact_responses(path: str, method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    api = path.startswith(API_PREFIX)
    needed: list[int] = list(EVERY_OPERATION)
    if api:
        needed += EVERY_API_OPERATION
        if "requestBody" in operation:
            needed += WITH_BODY
        if any(p["in"] == "path" for p in operation.get("parameters", ())):
            needed += WITH_PATH_PARAMETERS
        if operation.get("security"):
            needed += WITH_TOKEN
    for status in needed:
        key = str(status)
        if key not in responses or not _is_problem(responses[key]):
            responses[key] = _problem_response(status, [], describe(status))
        _add_codes(responses[key], codes_for(status))
    for status, codes in GENERIC_CODES.items():
        if str(status) in responses:
            _add_codes(responses[str(status)], codes)
    for key, response in list(responses.items()):
        if int(key) >= 400 and api and not _is_problem(response):
            # Litestar's own entry for its validation errors, which problems.py answers
            # as 422 problems; only a body can be malformed (400).
            if int(key) not in needed:
                del responses[key]
                continue
            responses[key] = response = _problem_response(int(key), [], describe(int(key)))
        if _is_problem(response):
            _finish_problem(int(key), response)
    operation["responses"] = dict(sorted(responses.items()))


def _is_problem(response: dict[str, Any]) -> bool:
    return PROBLEM_MEDIA_TYPE in response.get("content", {})


def _codes(response: dict[str, Any]) -> list[str]:
    examples = response["content"][PROBLEM_MEDIA_TYPE].get("examples", {})
    return [example["value"]["code"] for example in examples.values()]


def _add_codes(response: dict[str, Any], codes: tuple[str, ...]) -> None:
    examples = response["content"][PROBLEM_MEDIA_TYPE].setdefault("examples", {})
    for code in codes:
        if code not in _codes(response):
            examples[code] = {"value": {"code": code}}


def _finish_problem(status: int, response: dict[str, Any]) -> None:
    """The problem schema with the codes this response can carry, and an example of each."""
    media = response["content"][PROBLEM_MEDIA_TYPE]
    codes = list(dict.fromkeys(_codes(response))) or list(codes_for(status))
    media["examples"] = {
        code: {"summary": code, "value": problem_example(status, code)} for code in codes
    }
    media["schema"] = {
        "allOf": [
            {"$ref": PROBLEM_REF},
            {"properties": {"code": {"enum": codes}, "status": {"const": status}}},
        ]
    }
    text = (response.get("description") or describe(status)).split(CODES)[0]
    response["description"] = text + CODES + ", ".join(f"`{code}`" for code in codes) + "."


def _problem_response(status: int, codes: list[str], description: str) -> dict[str, Any]:
    codes = codes or list(codes_for(status))
    return {
        "description": description,
        "content": {
            PROBLEM_MEDIA_TYPE: {
                "schema": {"$ref": PROBLEM_REF},
                "examples": {
                    code: {"summary": code, "value": problem_example(status, code)}
                    for code in codes
                },
            }
        },
    }


class _Exact(OpenAPIRenderPlugin):
    """Renders the finished document; it is finished once, on the first request."""

    _source: dict[str, Any] | None = None
    _exact: dict[str, Any] | None = None

    def _document(self, openapi_schema: dict[str, Any]) -> dict[str, Any]:
        if self._exact is None or self._source is not openapi_schema:
            self._exact = exact_document(openapi_schema)
            self._source = openapi_schema
        return self._exact


class ExactJsonRenderPlugin(_Exact, JsonRenderPlugin):
    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, self._document(openapi_schema))


class ExactRedocRenderPlugin(_Exact, RedocRenderPlugin):
    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, self._document(openapi_schema))


class ExactSwaggerRenderPlugin(_Exact, SwaggerRenderPlugin):
    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, self._document(openapi_schema))


def render_plugins() -> list[OpenAPIRenderPlugin]:
    """ReDoc at ``/schema``, Swagger UI at ``/schema/swagger``, the document at
    ``/schema/openapi.json``: all three show the finished document."""
    return [ExactRedocRenderPlugin(), ExactSwaggerRenderPlugin(), ExactJsonRenderPlugin()]
