"""The one error tree of minicommerce.

Every error a service raises is a :class:`CommerceError`. Each class has a stable
machine ``code`` (the codes of the HTTP API) and structured fields, so callers can
catch by class and clients can branch on the code::

    CommerceError
    ├── NotFound                    not_found
    ├── ValidationError             validation_error      (.errors: field, message)
    │   ├── EmptyCartError          empty_cart
    │   ├── IdempotencyKeyReused    idempotency_key_reused
    │   └── InvalidImage            invalid_image         (corrupt, truncated, too many pixels)
    ├── UnsupportedMediaType        unsupported_media_type (not a JPEG, PNG or WebP)
    ├── PayloadTooLarge             payload_too_large     (.limit bytes)
    ├── Conflict                    conflict
    │   ├── EmailTaken              email_taken
    │   ├── SkuTaken                sku_taken
    │   ├── InsufficientStock       insufficient_stock    (.items)
    │   ├── InvalidTransition       invalid_transition
    │   └── SelfModification        self_modification
    ├── PreconditionFailed          precondition_failed   (optimistic concurrency)
    ├── AuthenticationError         unauthenticated
    │   ├── InvalidCredentials      invalid_credentials
    │   └── InvalidToken            invalid_token
    ├── PermissionDenied            permission_denied
    ├── RateLimited                 rate_limited          (.retry_after seconds)
    ├── ServiceUnavailable          service_unavailable   (a database or Redis is down)
    └── ConfigurationError          configuration_error   (raised at start-up, never per request)
        └── MediaNotConfigured      media_not_configured  (also a ServiceUnavailable: no media
                                                           directory, so no uploads)

The core knows nothing of HTTP: the server holds the single table from class to status.
Foreign errors (database drivers, pydantic) are translated at the boundary and re-raised
``from`` the original.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import pydantic


@dataclass(frozen=True, slots=True)
class FieldError:
    """One invalid input field: a dotted path (``price``, ``items.0.quantity``) and why."""

    field: str
    message: str


class CommerceError(Exception):
    """Base class of every error raised by minicommerce."""

    code: ClassVar[str] = "commerce_error"
    title: ClassVar[str] = "Commerce error"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.title
        super().__init__(self.message)

    def details(self) -> dict[str, Any]:
        """Structured fields beyond code and message, for renderers."""
        return {}


class NotFound(CommerceError):
    """The resource does not exist, is archived, or is not the caller's."""

    code = "not_found"
    title = "Not found"

    def __init__(self, resource: str, identifier: object) -> None:
        self.resource = resource
        self.identifier = identifier
        super().__init__(f"{resource} {identifier} was not found.")

    def details(self) -> dict[str, Any]:
        return {"resource": self.resource}


class ValidationError(CommerceError):
    """Input that breaks a rule; ``errors`` names each field and the reason."""

    code = "validation_error"
    title = "Invalid input"

    def __init__(self, errors: Sequence[FieldError], message: str | None = None) -> None:
        self.errors: tuple[FieldError, ...] = tuple(errors)
        if message is None:
            message = "; ".join(f"{e.field}: {e.message}" for e in self.errors) or self.title
        super().__init__(message)

    @classmethod
    def single(cls, field: str, message: str) -> ValidationError:
        return cls([FieldError(field, message)])

    @classmethod
    def from_pydantic(cls, exc: pydantic.ValidationError) -> ValidationError:
        return cls(field_errors_from_pydantic(exc.errors(include_url=False)))

    def details(self) -> dict[str, Any]:
        return {"errors": [{"field": e.field, "message": e.message} for e in self.errors]}


def field_errors_from_pydantic(raw: Iterable[Any]) -> list[FieldError]:
    """Turn pydantic's error dicts into :class:`FieldError` with dotted paths."""
    out = []
    for err in raw:
        loc = ".".join(str(part) for part in err.get("loc", ()) if part != "__root__")
        message = str(err.get("msg", "is invalid"))
        if err.get("type") == "extra_forbidden":
            message = "unknown field"
        out.append(FieldError(loc or "body", message.removeprefix("Value error, ")))
    return out


class Conflict(CommerceError):
    """The request conflicts with the current state of the shop."""

    code = "conflict"
    title = "Conflict"


class EmailTaken(Conflict):
    code = "email_taken"
    title = "Email already registered"

    def __init__(self) -> None:
        super().__init__("An account with this email already exists.")


class SkuTaken(Conflict):
    code = "sku_taken"
    title = "SKU already in use"

    def __init__(self, sku: str) -> None:
        self.sku = sku
        super().__init__(f"Another product already uses the SKU {sku!r}.")

    def details(self) -> dict[str, Any]:
        return {"sku": self.sku}


@dataclass(frozen=True, slots=True)
class ShortItem:
    """One line that cannot be served: what was asked and what is left."""

    product_id: int
    requested: int
    available: int


class InsufficientStock(Conflict):
    code = "insufficient_stock"
    title = "Insufficient stock"

    def __init__(self, items: Sequence[ShortItem]) -> None:
        self.items = tuple(items)
        names = ", ".join(str(i.product_id) for i in self.items)
        super().__init__(f"Not enough stock for product(s) {names}.")

    def details(self) -> dict[str, Any]:
        return {
            "errors": [
                {
                    "field": f"product_id:{i.product_id}",
                    "message": f"requested {i.requested}, available {i.available}",
                }
                for i in self.items
            ]
        }


class InvalidTransition(Conflict):
    code = "invalid_transition"
    title = "Invalid status transition"

    def __init__(self, current: str, target: str) -> None:
        self.current = current
        self.target = target
        super().__init__(f"An order cannot move from {current!r} to {target!r}.")

    def details(self) -> dict[str, Any]:
        return {"current": self.current, "target": self.target}


class SelfModification(Conflict):
    code = "self_modification"
    title = "Cannot change own staff access"

    def __init__(self) -> None:
        super().__init__("Staff cannot remove their own staff flag or deactivate themselves.")


class PreconditionFailed(CommerceError):
    """An optimistic-concurrency check failed: the resource changed since it was read."""

    code = "precondition_failed"
    title = "Precondition failed"

    def __init__(self, resource: str, identifier: object, current_version: int) -> None:
        self.resource = resource
        self.identifier = identifier
        self.current_version = current_version
        super().__init__(
            f"{resource} {identifier} has changed (now at version {current_version}); "
            "read it again and retry."
        )

    def details(self) -> dict[str, Any]:
        return {"current_version": self.current_version}


class AuthenticationError(CommerceError):
    """The caller is not authenticated (missing, invalid or expired credentials)."""

    code = "unauthenticated"
    title = "Authentication required"


class InvalidCredentials(AuthenticationError):
    code = "invalid_credentials"
    title = "Invalid credentials"

    def __init__(self) -> None:
        super().__init__("The email or password is incorrect.")


class InvalidToken(AuthenticationError):
    code = "invalid_token"
    title = "Invalid token"


class PermissionDenied(CommerceError):
    code = "permission_denied"
    title = "Permission denied"


class RateLimited(CommerceError):
    code = "rate_limited"
    title = "Too many requests"

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        self.retry_after = max(1, retry_after)
        super().__init__(message or f"Too many requests; retry in {self.retry_after} seconds.")

    def details(self) -> dict[str, Any]:
        return {"retry_after": self.retry_after}


class ServiceUnavailable(CommerceError):
    """A backing service (database, Redis) did not answer."""

    code = "service_unavailable"
    title = "Service unavailable"


class ConfigurationError(CommerceError):
    """The shop cannot start with these settings; the message says what to change."""

    code = "configuration_error"
    title = "Configuration error"


class EmptyCartError(ValidationError):
    """Checking out an empty cart."""

    code = "empty_cart"
    title = "The cart is empty"

    def __init__(self) -> None:
        super().__init__([FieldError("items", "the cart is empty; add items or send them")])


class IdempotencyKeyReused(ValidationError):
    """The same idempotency key came with a different request."""

    code = "idempotency_key_reused"
    title = "Idempotency key reused"

    def __init__(self) -> None:
        super().__init__(
            [FieldError("Idempotency-Key", "was already used for a different request")]
        )


class InvalidImage(ValidationError):
    """Uploaded bytes that claim to be an image of a supported type but cannot be used:
    corrupt, truncated, or more pixels than allowed (a decompression bomb)."""

    code = "invalid_image"
    title = "Invalid image"

    def __init__(self, reason: str) -> None:
        super().__init__([FieldError("file", reason)])


class UnsupportedMediaType(CommerceError):
    """Uploaded bytes that are not an image of a supported type (whatever their name says)."""

    code = "unsupported_media_type"
    title = "Unsupported media type"

    def __init__(self, accepted: str = "JPEG, PNG or WebP") -> None:
        super().__init__(f"The file is not a {accepted} image.")


class PayloadTooLarge(CommerceError):
    """An upload above the configured size limit."""

    code = "payload_too_large"
    title = "Payload too large"

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"The file is larger than the limit of {limit} bytes.")


class MediaNotConfigured(ConfigurationError, ServiceUnavailable):
    """Storing images needs a media directory (or another media storage), and none is set.

    A :class:`ConfigurationError` to a script; to an HTTP client the service is unavailable
    (the rest of the shop works)."""

    code = "media_not_configured"
    title = "Media storage not configured"

    def __init__(self) -> None:
        super().__init__(
            "Product images need a media storage: set MINICOMMERCE_MEDIA_DIR "
            "(the default, `media` beside a SQLite database, does not apply here)."
        )
