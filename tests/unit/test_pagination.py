from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minicommerce import ValidationError
from minicommerce.ids import MAX_ID
from minicommerce.pagination import decode_cursor, encode_cursor

keys = st.lists(
    st.one_of(st.integers(min_value=-MAX_ID, max_value=MAX_ID), st.text(max_size=50)),
    min_size=1,
    max_size=3,
)


@given(keys)
def test_cursor_round_trip(key: list[str | int]) -> None:
    assert decode_cursor(encode_cursor("k", key), "k", len(key)) == key


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!",
        "bm90IGpzb24",
        encode_cursor("other", [1]),
        encode_cursor("k", [10**30]),
        encode_cursor("k", [True]),
    ],
)
def test_bad_cursors(cursor: str) -> None:
    with pytest.raises(ValidationError) as info:
        decode_cursor(cursor, "k", 1)
    assert info.value.errors[0].field == "cursor"
