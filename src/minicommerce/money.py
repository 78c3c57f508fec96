"""Money: exact ``Decimal`` amounts with two places, never floats.

Prices arrive as strings (``"19.99"``) over HTTP and as ``Decimal`` or ``int`` from
Python; floats are refused because they cannot say 0.10 exactly.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import PlainValidator, WithJsonSchema

CENT = Decimal("0.01")
MAX_PRICE = Decimal("100000000")  # exclusive: prices are below one hundred million
_PLAIN_NUMBER = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,12})?")
PRICE_PATTERN = r"^[0-9]{1,8}(\.[0-9]{1,2})?$"
# A price is above zero, so its documented form leaves out "0" and "0.00"; leading zeros,
# which the parser also takes, are left out of the documented form too.
POSITIVE_PRICE_PATTERN = r"^([1-9][0-9]{0,7}(\.[0-9]{1,2})?|0\.(0[1-9]|[1-9][0-9]?))$"


def to_cents(amount: Decimal) -> Decimal:
    """Quantize an exact amount to two places (it must already be a whole number of cents)."""
    return amount.quantize(CENT)


def parse_amount(value: object) -> Decimal:
    """Parse a money amount into an exact two-place ``Decimal``.

    Accepts a ``str`` of plain digits with an optional fraction (``"19.99"``, ``"5"``),
    a finite ``Decimal`` or an ``int``. Raises ``ValueError`` with a readable message
    for anything else, including floats, exponents, signs and more than two places.
    """
    if isinstance(value, bool | float):
        raise ValueError('must be a string such as "19.99", not a number with a binary fraction')
    if isinstance(value, str):
        if not _PLAIN_NUMBER.fullmatch(value):
            raise ValueError('must be a decimal string such as "19.99"')
        amount = Decimal(value)
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("must be a finite amount")
        amount = value
    elif isinstance(value, int):
        amount = Decimal(value)
    else:
        raise ValueError('must be a decimal string such as "19.99"')
    try:
        cents = amount.quantize(CENT)
    except InvalidOperation as exc:
        raise ValueError("is too large") from exc
    if cents != amount:
        raise ValueError("must have at most two fraction digits")
    return cents


def parse_price(value: object) -> Decimal:
    """Parse a catalog price: an exact amount above 0 and below 100,000,000."""
    amount = parse_amount(value)
    if amount <= 0:
        raise ValueError("must be greater than 0")
    if amount >= MAX_PRICE:
        raise ValueError("must be below 100000000")
    return amount


Price = Annotated[
    Decimal,
    PlainValidator(parse_price),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": POSITIVE_PRICE_PATTERN,
            "description": "Exact amount with at most two fraction digits, > 0 and < 100000000.",
            "examples": ["19.99"],
        }
    ),
]
"""A validated price for input commands."""


def _parse_nonnegative(value: object) -> Decimal:
    amount = parse_amount(value)
    if amount >= MAX_PRICE:
        raise ValueError("must be below 100000000")
    return amount


Amount = Annotated[
    Decimal,
    PlainValidator(_parse_nonnegative),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": PRICE_PATTERN,
            "description": "Exact amount with at most two fraction digits.",
            "examples": ["10.00"],
        }
    ),
]
"""A validated non-negative amount, as used by price filters."""
