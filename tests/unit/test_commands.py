"""Input rules of the commands: what a caller may send, and the errors it gets."""

from __future__ import annotations

from typing import Any

import pytest

from minicommerce import (
    NewProduct,
    PasswordChange,
    ProductChanges,
    ProductQuery,
    Registration,
    UserAdminChanges,
    ValidationError,
)
from minicommerce.accounts.emails import normalise_email


def fields_of(exc: pytest.ExceptionInfo[ValidationError]) -> list[str]:
    return [e.field for e in exc.value.errors]


def test_email_is_trimmed_and_lowercased() -> None:
    assert Registration(email="  Bob@Example.COM ", password="x" * 8).email == "bob@example.com"


@pytest.mark.parametrize("email", ["", "bob", "bob@", "@x.com", "a b@x.com", "a@b", "a@@b.com"])
def test_bad_emails(email: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        normalise_email(email)


@pytest.mark.parametrize(("length", "ok"), [(7, False), (8, True), (1024, True), (1025, False)])
def test_password_length_bounds(length: int, ok: bool) -> None:
    data: dict[str, Any] = {"email": "a@b.co", "password": "p" * length}
    if ok:
        assert Registration(**data).password == "p" * length
    else:
        with pytest.raises(ValidationError) as info:
            Registration(**data)
        assert fields_of(info) == ["password"]


def test_passwords_keep_their_spaces_and_need_no_composition() -> None:
    assert Registration(email="a@b.co", password="  spaces  ").password == "  spaces  "
    assert Registration(email="a@b.co", password="aaaaaaaa").password == "aaaaaaaa"


def test_huge_password_is_refused_by_length() -> None:
    with pytest.raises(ValidationError) as info:
        Registration(email="a@b.co", password="x" * 1_000_000)
    assert fields_of(info) == ["password"]


@pytest.mark.parametrize("field", ["is_staff", "is_active", "id"])
def test_registration_refuses_privileged_fields(field: str) -> None:
    with pytest.raises(ValidationError) as info:
        Registration(email="a@b.co", password="x" * 8, **{field: True})
    assert fields_of(info) == [field]
    assert info.value.errors[0].message == "unknown field"


def test_new_product_rules() -> None:
    with pytest.raises(ValidationError) as info:
        NewProduct(name="  ", price="0", stock_quantity=-1, sku="bad sku!")
    assert sorted(fields_of(info)) == ["name", "price", "sku", "stock_quantity"]


def test_stock_must_be_a_real_integer() -> None:
    for bad in ("5", 5.5, True, float("inf")):
        with pytest.raises(ValidationError):
            NewProduct(name="Mug", price="1.00", stock_quantity=bad)


def test_a_whole_float_is_an_integer() -> None:
    # JSON Schema's integer is any number without a fraction: JSON's 5.0 is 5.
    product = NewProduct(name="Mug", price="1.00", stock_quantity=5.0)
    assert product.stock_quantity == 5
    assert type(product.stock_quantity) is int


def test_product_changes_know_what_was_given() -> None:
    changes = ProductChanges(price="2.50", sku=None)
    assert changes.changes() == {"price": changes.price, "sku": None}


@pytest.mark.parametrize("field", ["name", "price", "stock_quantity", "description"])
def test_product_changes_refuse_null_for_required_fields(field: str) -> None:
    with pytest.raises(ValidationError) as info:
        ProductChanges(**{field: None})
    assert fields_of(info) == [field]


def test_product_query_bounds() -> None:
    for bad in ({"limit": 0}, {"limit": 101}, {"sort": "random"}, {"min_price": "-1"}):
        with pytest.raises(ValidationError):
            ProductQuery(**bad)


def test_password_change_rules() -> None:
    with pytest.raises(ValidationError) as info:
        PasswordChange(current_password="", new_password="short")
    assert sorted(fields_of(info)) == ["current_password", "new_password"]


def test_admin_changes_are_strict_booleans() -> None:
    with pytest.raises(ValidationError):
        UserAdminChanges(is_staff="yes")
    assert UserAdminChanges(is_active=False).changes() == {"is_active": False}
