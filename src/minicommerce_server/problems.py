"""RFC 9457 problem responses: the one table from error to HTTP status."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap

from minicommerce import errors as e

log = logging.getLogger("minicommerce.server")

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:minicommerce:problem:"

# Most specific first: the first class an error is an instance of decides its status.
STATUS_FOR: tuple[tuple[type[e.CommerceError], int], ...] = (
    (e.NotFound, 404),
    (e.ValidationError, 422),
    (e.UnsupportedMediaType, 415),
    (e.PayloadTooLarge, 413),
    (e.PreconditionFailed, 412),
    (e.Conflict, 409),
    (e.AuthenticationError, 401),
    (e.PermissionDenied, 403),
    (e.RateLimited, 429),
    (e.ServiceUnavailable, 503),
    (e.ConfigurationError, 500),  # MediaNotConfigured is a ServiceUnavailable too: 503
)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    411: "length_required",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


class ProblemFieldError(msgspec.Struct):
    field: str
    message: str


class Problem(msgspec.Struct, omit_defaults=True):
    """An RFC 9457 problem; ``code`` is the stable machine code to branch on."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[ProblemFieldError] | None = None
    request_id: str | None = None
    retry_after: int | None = None
    current_version: int | None = None


def status_for(exc: e.CommerceError) -> int:
    for cls, status in STATUS_FOR:
        if isinstance(exc, cls):
            return status
    return 400


def problem_response(
    request: Request[Any, Any, Any],
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: list[ProblemFieldError] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response[Problem]:
    problem = Problem(
        type=TYPE_PREFIX + code,
        title=title,
        status=status,
        detail=detail,
        code=code,
        errors=errors,
        request_id=request_id_of(request) if status >= 500 else None,
        **extra,
    )
    return Response(problem, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def request_id_of(request: Request[Any, Any, Any]) -> str | None:
    state = request.scope.get("state") or {}
    value = state.get("request_id")
    return str(value) if value else None


def commerce_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    assert isinstance(exc, e.CommerceError)
    status = status_for(exc)
    details = exc.details()
    headers: dict[str, str] = {}
    if isinstance(exc, e.RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, e.AuthenticationError):
        headers["WWW-Authenticate"] = 'Bearer realm="minicommerce"'
    if status >= 500:
        log.error("%s: %s", exc.code, exc.message)
    field_errors = details.pop("errors", None)
    extra = {k: v for k, v in details.items() if k in ("retry_after", "current_version")}
    return problem_response(
        request,
        status=status,
        code=exc.code,
        title=exc.title,
        detail=exc.message,
        errors=[ProblemFieldError(**item) for item in field_errors] if field_errors else None,
        headers=headers or None,
        **extra,
    )


def validation_exception_handler(
    request: Request[Any, Any, Any], exc: Exception
) -> Response[Problem]:
    """Litestar's parameter and body validation failures become 422 ``validation_error``."""
    assert isinstance(exc, ValidationException)
    errors = (
        [_field_error(item) for item in (exc.extra or [])] if isinstance(exc.extra, list) else []
    )
    if not errors:
        errors = [ProblemFieldError(field="body", message=_clean(exc.detail))]
    return problem_response(
        request,
        status=422,
        code="validation_error",
        title="Invalid input",
        detail="; ".join(f"{err.field}: {err.message}" for err in errors),
        errors=errors,
    )


def _field_error(item: Any) -> ProblemFieldError:
    if not isinstance(item, dict):
        return ProblemFieldError(field="body", message=_clean(str(item)))
    key = str(item.get("key") or item.get("field") or "body")
    message = str(item.get("message") or "is invalid")
    if key == "data":  # Litestar's name for the body parameter: a missing or empty body
        return ProblemFieldError(field="body", message="a JSON object is required")
    if "Extra inputs are not permitted" in message or "unknown field" in message.lower():
        message = "unknown field"
    return ProblemFieldError(field=key, message=_clean(message))


def _clean(message: str) -> str:
    return message.removeprefix("Value error, ")


def http_exception_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    headers = dict(exc.headers or {})
    detail = exc.detail if status < 500 else "The server could not handle the request."
    return problem_response(
        request,
        status=status,
        code=_HTTP_CODES.get(status, "http_error"),
        title=_title(status),
        detail=detail,
        headers=headers or None,
    )


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    """Anything unexpected: a generic 500 with the request id; details stay in the log."""
    log.exception("unhandled error", exc_info=exc, extra={"request_id": request_id_of(request)})
    return problem_response(
        request,
        status=HTTP_500_INTERNAL_SERVER_ERROR,
        code="internal_error",
        title="Internal server error",
        detail="Something went wrong on our side; quote the request id when reporting it.",
    )


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    e.CommerceError: commerce_error_handler,
    ValidationException: validation_exception_handler,
    HTTPException: http_exception_handler,
    Exception: internal_error_handler,
}

_DESCRIPTIONS = {
    401: "Missing, invalid or expired access token (`unauthenticated`, `invalid_token`).",
    403: "Authenticated but not allowed (`permission_denied`).",
    404: "Not found (`not_found`).",
    409: "Conflict with the current state.",
    412: "`If-Match` no longer matches (`precondition_failed`).",
    422: "Invalid input (`validation_error`); `errors` lists each field.",
    429: "Rate limited (`rate_limited`); see `Retry-After`.",
}


def problems(*statuses: int, **described: str) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the problem responses a route can answer with.

    ``described`` adds statuses with their own text, e.g. ``_409="`sku_taken`"``.
    """
    specs = {
        status: ResponseSpec(
            data_container=Problem,
            description=_DESCRIPTIONS.get(status, _title(status)),
            media_type=PROBLEM_MEDIA_TYPE,
            generate_examples=False,
        )
        for status in statuses
    }
    for key, text in described.items():
        status = int(key.lstrip("_"))
        specs[status] = ResponseSpec(
            data_container=Problem,
            description=text,
            media_type=PROBLEM_MEDIA_TYPE,
            generate_examples=False,
        )
    return specs
