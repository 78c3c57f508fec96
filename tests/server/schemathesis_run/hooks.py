"""Schemathesis hooks for tests/server/test_schemathesis.py (loaded through
``SCHEMATHESIS_HOOKS``)."""

from __future__ import annotations

from typing import Any

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
    return case
