"""Text fields refuse control characters, in every command that takes text."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from minicommerce import (
    Credentials,
    NewProduct,
    PlaceOrder,
    ProductChanges,
    ProductQuery,
    ProfileChanges,
    RefreshRequest,
    Registration,
    UserQuery,
    ValidationError,
)
from minicommerce.text import MultilineText, Text, has_control

LAYOUT = "\n\r\t"
text = TypeAdapter(Text)
multiline = TypeAdapter(MultilineText)
controls = st.characters(categories=["Cc"])
surrogates = st.characters(categories=["Cs"])
clean = st.text(st.characters(exclude_categories=("Cc", "Cs")))


def with_one(bad: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Any string with ``bad`` somewhere in it."""
    return st.tuples(clean, bad, clean).map("".join)


@given(with_one(controls | surrogates))
def test_any_string_with_a_control_character_is_refused(value: str) -> None:
    assert has_control(value)
    with pytest.raises(PydanticValidationError, match="control characters"):
        text.validate_python(value)


@given(with_one(controls.filter(lambda c: c not in LAYOUT) | surrogates))
def test_multiline_text_refuses_every_other_control_character(value: str) -> None:
    with pytest.raises(PydanticValidationError, match="control characters"):
        multiline.validate_python(value)


@given(clean)
def test_text_without_control_characters_is_kept_as_it_is(value: str) -> None:
    assert text.validate_python(value) == value
    assert multiline.validate_python(value) == value


@given(st.text(st.sampled_from(LAYOUT) | st.characters(exclude_categories=("Cc", "Cs"))))
def test_multiline_text_keeps_line_breaks_and_tabs(value: str) -> None:
    assert multiline.validate_python(value) == value


def test_the_refused_set_is_exactly_category_cc_and_surrogates() -> None:
    for code in range(0x110000):
        char = chr(code)
        expected = unicodedata.category(char) in ("Cc", "Cs")
        assert has_control(char) is expected, hex(code)
        assert has_control(char, multiline=True) is (expected and char not in LAYOUT), hex(code)


ADDRESS = {
    "full_name": "Ada",
    "line1": "1 Road",
    "city": "Paris",
    "postal_code": "7",
    "country": "FR",
}
PRODUCT = {"name": "Mug", "price": "1.00", "stock_quantity": 1}


def case(command: type[Any], valid: dict[str, Any], field: str) -> Any:
    return pytest.param(command, valid, field, id=f"{command.__name__}.{field}")


# Every text field of every command, with the smallest valid command around it.
CASES = [
    case(Registration, {"email": "a@b.co", "password": "x" * 8}, "first_name"),
    case(Registration, {"email": "a@b.co", "password": "x" * 8}, "last_name"),
    case(Credentials, {"email": "a@b.co", "password": "x"}, "email"),
    case(RefreshRequest, {"refresh_token": "x"}, "refresh_token"),
    case(ProfileChanges, {}, "first_name"),
    case(ProfileChanges, {}, "last_name"),
    case(UserQuery, {}, "q"),
    case(NewProduct, PRODUCT, "name"),
    case(NewProduct, PRODUCT, "description"),
    case(NewProduct, PRODUCT, "sku"),
    case(ProductChanges, {}, "name"),
    case(ProductChanges, {}, "description"),
    case(ProductQuery, {}, "q"),
    *(
        case(PlaceOrder, {}, f"shipping_address.{f}")
        for f in [*ADDRESS, "line2", "region", "phone"]
    ),
]
BAD = {
    "NUL": "a\x00b",
    "ESC": "a\x1b[2Jb",
    "DEL": "a\x7fb",
    "NEL": "a\x85b",
    "surrogate": "a\ud800b",
}


@pytest.mark.parametrize(("command", "valid", "field"), CASES)
@pytest.mark.parametrize("bad", list(BAD.values()), ids=list(BAD))
def test_every_text_field_refuses_control_characters(
    command: type[Any], valid: dict[str, Any], field: str, bad: str
) -> None:
    data = dict(valid)
    if field.startswith("shipping_address."):
        data["shipping_address"] = {**ADDRESS, field.split(".", 1)[1]: bad}
    else:
        data[field] = bad
    with pytest.raises(ValidationError) as info:
        command(**data)
    assert [e.field for e in info.value.errors] == [field]


def test_a_description_keeps_its_line_breaks() -> None:
    product = NewProduct(name="Mug", price="1.00", stock_quantity=1, description="One\r\n\tTwo")
    assert product.description == "One\r\n\tTwo"
