"""Keyset pagination: pages and their opaque cursors."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from pydantic import StringConstraints

from minicommerce.errors import ValidationError
from minicommerce.ids import MAX_ID
from minicommerce.text import has_control

T = TypeVar("T")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_CURSOR_LENGTH = 2048
"""The longest cursor accepted. The longest one issued holds a 200-character product name
as UTF-8 (at most 800 bytes), about 1,100 characters once in base64."""

Cursor = Annotated[str, StringConstraints(max_length=MAX_CURSOR_LENGTH)]


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list; pass ``next_cursor`` back to get the next one (``None``: no more)."""

    items: list[T]
    next_cursor: str | None


def encode_cursor(kind: str, key: Sequence[str | int]) -> str:
    """An opaque cursor: the list it belongs to and the sort key of the last item."""
    # UTF-8 rather than \u escapes: a name of 200 non-Latin characters stays well inside
    # MAX_CURSOR_LENGTH (escaped, an astral character takes 12 bytes instead of 4).
    raw = json.dumps([kind, *key], separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, kind: str, arity: int) -> list[str | int]:
    """The key inside a cursor; a cursor from another list or sort is a validation error.

    A cursor is caller input like any other: its length is capped before anything is
    decoded, and JSON nested deeper than the decoder's recursion limit is refused like any
    other malformed cursor.
    """
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise ValidationError.single("cursor", f"must be at most {MAX_CURSOR_LENGTH} characters")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise ValidationError.single("cursor", "is not a valid cursor") from None
    if (
        not isinstance(data, list)
        or len(data) != arity + 1
        or data[0] != kind
        or not all(_is_key_part(v) for v in data[1:])
    ):
        raise ValidationError.single("cursor", "does not belong to this list or sort order")
    return list(data[1:])


def decode_id_cursor(cursor: str | None, kind: str) -> int | None:
    """The last id of a list paged by id (newest first); ``None`` for the first page."""
    if not cursor:
        return None
    (value,) = decode_cursor(cursor, kind, 1)
    if not isinstance(value, int):
        raise ValidationError.single("cursor", "is not a valid cursor")
    return value


def page_by_id(rows: Sequence[T], limit: int, kind: str, id_of: Callable[[T], int]) -> Page[T]:
    """A page from ``limit + 1`` rows fetched newest first: the extra row, if any, only
    says that there is a next page."""
    items = list(rows[:limit])
    more = len(rows) > limit
    return Page(items=items, next_cursor=encode_cursor(kind, (id_of(items[-1]),)) if more else None)


def _is_key_part(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) <= MAX_ID
    # A crafted cursor must not smuggle into a query what a text field would refuse.
    return isinstance(value, str) and len(value) <= 1000 and not has_control(value)


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError.single("limit", f"must be between 1 and {MAX_LIMIT}")
    return limit
