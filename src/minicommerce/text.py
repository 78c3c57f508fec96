"""Text fields: the one rule every string from a caller passes before it is stored or searched.

Control characters (Unicode category Cc: U+0000-U+001F and U+007F-U+009F) are refused.
PostgreSQL cannot store NUL in text at all, so one would fail deep in the driver on one
backend and be kept silently on the other; the others (escapes, backspaces, the C1 set) are
never part of a name, an address or a search term, and once stored they rewrite terminals,
logs and CSV exports of whoever reads them later. Lone surrogates (category Cs) are refused
too: they have no UTF-8 encoding, so no database can take them.

Only multi-line text (a product description) keeps line feed, carriage return and tab.

Use the annotated types in commands; their error names the field::

    class NewThing(Command):
        name: Annotated[Text, StringConstraints(max_length=200)]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

CONTROL_MESSAGE = "must not contain control characters"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_BUT_LAYOUT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def has_control(value: str, *, multiline: bool = False) -> bool:
    """Whether ``value`` holds a character text fields refuse (``multiline``: but \\n \\r \\t)."""
    pattern = _CONTROL_BUT_LAYOUT if multiline else _CONTROL
    return pattern.search(value) is not None


def check_text(value: str) -> str:
    """``value`` itself, or ``ValueError`` when it holds a control character."""
    if _CONTROL.search(value) is not None:
        raise ValueError(CONTROL_MESSAGE)
    return value


def check_multiline_text(value: str) -> str:
    """Like :func:`check_text`, but line feed, carriage return and tab are allowed."""
    if _CONTROL_BUT_LAYOUT.search(value) is not None:
        raise ValueError(CONTROL_MESSAGE + " (other than line breaks and tabs)")
    return value


# The same rules as JSON Schema patterns, for the OpenAPI document (API tools generate
# inputs from them); surrogates are left out, as JSON text cannot carry them alone.
TEXT_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
MULTILINE_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
NON_BLANK_TEXT_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"


@dataclass(frozen=True, slots=True)
class _Documented:
    """Puts ``pattern`` into a field's JSON schema without changing its validation."""

    pattern: str

    def __get_pydantic_json_schema__(
        self, core: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler.resolve_ref_schema(handler(core))
        schema["pattern"] = self.pattern
        return schema


Text = Annotated[str, AfterValidator(check_text), _Documented(TEXT_PATTERN)]
"""One line of text: no control character at all."""

MultilineText = Annotated[str, AfterValidator(check_multiline_text), _Documented(MULTILINE_PATTERN)]
"""Text that may span lines: line feed, carriage return and tab allowed, no other control."""
