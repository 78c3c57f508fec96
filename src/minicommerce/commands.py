"""The base of every input command: validated on construction, unknown fields refused."""

from __future__ import annotations

from typing import Any, ClassVar, Self

import pydantic
from pydantic import BeforeValidator, ConfigDict, ValidationInfo, field_validator

from minicommerce.errors import ValidationError
from minicommerce.text import NON_BLANK_TEXT_PATTERN, TEXT_PATTERN


def _whole_number(value: Any) -> Any:
    """JSON has one kind of number, and JSON Schema's ``integer`` is any number without a
    fraction: ``5.0`` is the integer 5. Booleans and strings stay refused."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


WHOLE_NUMBER = BeforeValidator(_whole_number)
"""Put last in ``Annotated[StrictInt, Field(...), WHOLE_NUMBER]``: an integer input takes
an ``int`` or a ``float`` with no fraction (``5.0``). Last, so that the JSON schema keeps the
bounds of ``Field`` as ``minimum`` and ``maximum``."""


def _exact_json_schema(schema: dict[str, Any], cls: type) -> None:
    """Make a command's JSON schema say exactly what validation accepts.

    Strings are stripped before their length is checked, so a required text must hold a
    character that is not whitespace; and a field of :class:`Changes` takes ``null`` only
    where the class lists it as ``nullable``.
    """
    nullable: frozenset[str] | None = getattr(cls, "nullable", None)
    fields: dict[str, Any] = getattr(cls, "model_fields", {})
    for name, prop in schema.get("properties", {}).items():
        if nullable is not None and name not in nullable and "anyOf" in prop:
            options = [option for option in prop.pop("anyOf") if option != {"type": "null"}]
            if len(options) == 1:
                prop.update(options[0])
            else:
                prop["anyOf"] = options
            if prop.get("default", ...) is None:
                del prop["default"]
        field = fields.get(name)
        stripped = field is not None and all(
            getattr(item, "strip_whitespace", None) is not False for item in field.metadata
        )
        for option in [prop, *prop.get("anyOf", ())]:
            if stripped and option.get("type") == "string" and option.get("minLength") == 1:
                if option.get("pattern") == TEXT_PATTERN:
                    option["pattern"] = NON_BLANK_TEXT_PATTERN
                option.setdefault("pattern", r"\S")


_CONFIG = ConfigDict(
    extra="forbid", frozen=True, str_strip_whitespace=True, json_schema_extra=_exact_json_schema
)


class Part(pydantic.BaseModel):
    """A validated value inside a command (an address, an order line).

    Build parts through their command (``PlaceOrder(shipping_address={...})``): errors then
    come as one :class:`minicommerce.ValidationError` with dotted paths. (A part has no
    translating ``__init__`` of its own, because pydantic calls a custom one for nested
    models, which would cut the paths short.)
    """

    model_config = _CONFIG


class Command(pydantic.BaseModel):
    """An immutable, validated input to a service.

    Building one with bad values raises :class:`minicommerce.ValidationError` (not
    pydantic's), so scripts catch one error tree. Unknown fields are refused: a caller
    can never set what a command does not name.
    """

    model_config = _CONFIG

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except pydantic.ValidationError as exc:
            raise ValidationError.from_pydantic(exc) from exc

    @classmethod
    def parse(cls, data: Any) -> Self:
        """Validate a mapping (from JSON, a form...) into this command."""
        try:
            return cls.model_validate(data)
        except pydantic.ValidationError as exc:
            raise ValidationError.from_pydantic(exc) from exc


class Changes(Command):
    """A partial update: only the fields given are changed.

    Every field defaults to ``None`` meaning "not given"; sending ``null`` for a field is
    refused unless the field is listed in ``nullable`` (a value that may be cleared).
    """

    nullable: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _null_only_where_allowed(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.nullable:
            raise ValueError("cannot be null")
        return value

    def changes(self) -> dict[str, Any]:
        """The fields that were given, by name."""
        return {name: getattr(self, name) for name in self.model_fields_set}
