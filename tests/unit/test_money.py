"""Price parsing: exact, two places, > 0 and < 100,000,000, never through a float."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minicommerce import NewProduct, ValidationError
from minicommerce.money import MAX_PRICE, parse_amount, parse_price

cents = st.integers(min_value=1, max_value=9_999_999_999)


@given(cents)
def test_every_valid_cent_amount_round_trips_exactly(n: int) -> None:
    text = f"{n // 100}.{n % 100:02d}"
    price = parse_price(text)
    assert price == Decimal(n) / 100
    assert str(price) == text
    assert price.as_tuple().exponent == -2


@given(st.integers(min_value=1, max_value=99_999_999))
def test_whole_amounts_get_two_places(n: int) -> None:
    assert str(parse_price(str(n))) == f"{n}.00"
    assert str(parse_price(n)) == f"{n}.00"


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_floats_are_always_refused(value: float) -> None:
    with pytest.raises(ValueError, match="string"):
        parse_price(value)


@given(st.decimals(min_value=Decimal("0.001"), max_value=Decimal("99999999"), places=3))
def test_three_places_refused_unless_exact_cents(value: Decimal) -> None:
    if value != value.quantize(Decimal("0.01")):
        with pytest.raises(ValueError, match="two fraction digits"):
            parse_price(value)
    else:
        assert parse_price(value) == value


@given(st.text(max_size=20))
def test_arbitrary_text_is_a_price_or_a_clear_error(text: str) -> None:
    try:
        price = parse_price(text)
    except ValueError as exc:
        message = str(exc)
        assert message, "every refusal says why"
        return
    assert Decimal(0) < price < MAX_PRICE


@pytest.mark.parametrize(
    "value",
    [
        "0",
        "0.00",
        "-1",
        "+1",
        "1e3",
        "1E3",
        "NaN",
        "Infinity",
        " 1",
        "1 ",
        "1.",
        ".5",
        "1,00",
        "100000000",
        "100000000.00",
        "1.234",
        "",
        "١٢",
        True,
        None,
        [1],
        Decimal("NaN"),
    ],
)
def test_invalid_prices(value: object) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message is checked elsewhere
        parse_price(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.01", "0.01"),
        ("99999999.99", "99999999.99"),
        ("19.9", "19.90"),
        ("007", "7.00"),
        (Decimal("19.990"), "19.99"),
        (5, "5.00"),
    ],
)
def test_valid_prices(value: object, expected: str) -> None:
    assert str(parse_price(value)) == expected


def test_amount_allows_zero_for_filters() -> None:
    assert parse_amount("0") == Decimal("0.00")


def test_product_command_reports_price_field() -> None:
    with pytest.raises(ValidationError) as info:
        NewProduct(name="Mug", price=9.5, stock_quantity=1)
    assert [e.field for e in info.value.errors] == ["price"]
