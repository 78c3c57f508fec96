from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minicommerce import ValidationError
from minicommerce.ids import MAX_ID
from minicommerce.pagination import MAX_CURSOR_LENGTH, decode_cursor, encode_cursor

# What a sort key can hold: text fields refuse control characters and surrogates.
key_text = st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=50)
keys = st.lists(
    st.one_of(st.integers(min_value=-MAX_ID, max_value=MAX_ID), key_text),
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
        encode_cursor("k", ["a\x00b"]),
        encode_cursor("k", ["\x1b[31m"]),
        base64.urlsafe_b64encode(b"[" * 1500).decode(),
        base64.urlsafe_b64encode(b'["k",' + b"[" * 100_000).decode()[:MAX_CURSOR_LENGTH],
        "A" * (MAX_CURSOR_LENGTH + 1),
        base64.urlsafe_b64encode(b"[" * 200_000).decode(),
    ],
)
def test_bad_cursors(cursor: str) -> None:
    with pytest.raises(ValidationError) as info:
        decode_cursor(cursor, "k", 1)
    assert info.value.errors[0].field == "cursor"


def test_the_longest_cursor_issued_is_accepted() -> None:
    """A sort by name puts up to 200 characters of a name in the cursor; as \\u escapes,
    200 characters outside the BMP took 2,400 bytes, beyond the old 512-character cap."""
    name = "\U0001f600" * 200
    cursor = encode_cursor("name", [name, MAX_ID])
    assert len(cursor) <= MAX_CURSOR_LENGTH
    assert decode_cursor(cursor, "name", 2) == [name, MAX_ID]
