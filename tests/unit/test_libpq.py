"""``storage/libpq.py``'s parameters as text, and its placeholders: no database needed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from minicommerce.storage.libpq import _Statement, text_of


@pytest.mark.parametrize(
    ("value", "text", "oid"),
    [
        (None, None, 0),
        ("Mug ☕", "Mug ☕".encode(), 0),  # a string's type is the server's to infer
        (True, b"t", 16),
        (False, b"f", 16),
        (42, b"42", 20),
        (-(2**63), b"-9223372036854775808", 20),
        (Decimal("19.90"), b"19.90", 1700),
        (Decimal("1E+2"), b"1E+2", 1700),
        ([3, 1, 2], b"{3,1,2}", 1016),
        ([], b"{}", 1016),
        (
            datetime(2026, 12, 1, 15, 4, 5, 6, tzinfo=timezone(timedelta(hours=2))),
            b"2026-12-01T15:04:05.000006+02:00",
            1184,
        ),
    ],
)
def test_parameters_are_sent_as_text_with_their_type(
    value: object, text: bytes | None, oid: int
) -> None:
    assert text_of(value) == (text, oid)


@pytest.mark.parametrize(
    "value",
    [
        1.5,  # money is never a float
        Decimal("NaN"),
        Decimal("Infinity"),
        datetime(2026, 12, 1),  # naive: which zone is unknown
        [1, "2"],
        [True],
        {"a": 1},
        b"bytes",
    ],
)
def test_anything_else_is_a_type_error_not_a_guess(value: object) -> None:
    with pytest.raises(TypeError):
        text_of(value)


def test_placeholders_are_numbered_once_per_name() -> None:
    statement = _Statement("SELECT %(a)s, %(b)s WHERE x = %(a)s")
    assert statement.text == b"SELECT $1, $2 WHERE x = $1"
    assert statement.names == ("a", "b")


def test_any_other_percent_sign_is_refused() -> None:
    with pytest.raises(ValueError, match="placeholders"):
        _Statement("SELECT 10 %% 3, %(a)s")
    with pytest.raises(ValueError, match="placeholders"):
        _Statement("SELECT %s")


def test_a_prepared_name_per_text_and_types() -> None:
    one = _Statement("SELECT %(a)s")
    same = _Statement("SELECT %(a)s")
    assert one.name((20,)) == same.name((20,))  # every process and connection agree
    assert one.name((20,)) != one.name((0,))
    assert one.name((20,)) != _Statement("SELECT %(a)s + 1").name((20,))
