"""Schemathesis hooks for tests/server/test_schemathesis.py (loaded through
``SCHEMATHESIS_HOOKS``)."""

from __future__ import annotations

from typing import Any, cast

import schemathesis
from schemathesis import Case, HookContext


@schemathesis.hook
def map_case(context: HookContext, case: Case[Any]) -> Case[Any]:
    """A cursor is the ``next_cursor`` of the previous page of the same list and sort; the
    schema gives its form, but a made-up one of that form is rightly a 422. So a case meant
    to be valid starts from the first page (an empty cursor); invalid ones keep theirs."""
    meta = case.meta
    positive = meta is not None and meta.generation.mode.is_positive
    if positive and case.query and "cursor" in case.query:
        case.query["cursor"] = ""
    # An upload is judged by its bytes, which the schema of a binary field cannot say: any
    # bytes but an image's are the documented 415. A case meant to be valid sends an image.
    if positive and isinstance(case.body, dict) and "file" in case.body:
        cast(dict[str, Any], case.body)["file"] = TINY_PNG
    return case


# A 1x1 PNG, written out so that the hooks need no image library.
TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c49444154789c6338916204000356015fe81784520000000049454e44ae426082"
)
