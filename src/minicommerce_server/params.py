"""Query parameters shared by several routes."""

from __future__ import annotations

from typing import Annotated

from litestar.params import QueryParameter

from minicommerce.pagination import MAX_CURSOR_LENGTH

CursorParam = Annotated[
    str | None,
    QueryParameter(
        max_length=MAX_CURSOR_LENGTH,
        description="`next_cursor` of the previous page; omit it for the first page.",
    ),
]
