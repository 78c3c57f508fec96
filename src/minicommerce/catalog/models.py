"""Catalog entities and the commands that change them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import Field, StrictBool, StrictInt, StringConstraints

from minicommerce.commands import WHOLE_NUMBER, Changes, Command
from minicommerce.money import Amount, Price
from minicommerce.pagination import DEFAULT_LIMIT, MAX_LIMIT, Cursor
from minicommerce.text import MultilineText, Text

MAX_STOCK = 2_147_483_647

Name = Annotated[Text, StringConstraints(min_length=1, max_length=200)]
Sku = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$"),
]
Description = Annotated[MultilineText, StringConstraints(max_length=5000)]
StockQuantity = Annotated[StrictInt, Field(ge=0, le=MAX_STOCK), WHOLE_NUMBER]


@dataclass(slots=True)
class Product:
    """A product of the catalog. ``price`` is in ``currency``; ``version`` grows on each change.

    A snapshot: changing its attributes changes nothing stored (use the catalog service).
    Not frozen on purpose: a frozen dataclass takes five times as long to build, and the
    catalog builds twenty of these for every page it serves.
    """

    id: int
    sku: str | None
    name: str
    description: str
    price: Decimal
    currency: str
    stock_quantity: int
    created_at: datetime
    updated_at: datetime
    version: int
    in_stock: bool
    """Whether any stock is left: ``stock_quantity > 0`` (kept as a field so it is serialised)."""
    images: list[ProductImage] = field(default_factory=list)
    """In display order; the first is the main image."""


@dataclass(slots=True)
class Rendition:
    """One stored file of an image: a size in one format (``webp``, ``jpg`` or ``png``)."""

    width: int
    height: int
    format: str
    url: str


@dataclass(slots=True)
class ProductImage:
    """An image of a product. ``width`` and ``height`` are the upload's, upright; ``url`` is
    the largest rendition in the format every client reads (JPEG, or PNG with transparency);
    ``renditions`` are every stored size and format, smallest first, WebP before its
    fallback."""

    id: int
    alt: str
    width: int
    height: int
    url: str
    renditions: list[Rendition]


@dataclass(slots=True)
class LowStockProduct:
    """A live product running out, for the staff overview."""

    id: int
    sku: str | None
    name: str
    stock_quantity: int


AltText = Annotated[str, StringConstraints(max_length=1000)]


class ImageChanges(Changes):
    """A change to an image: its alt text, its place in the product's list (0 is the main
    image; the others shift to make room, and a position past the end means last)."""

    alt: AltText | None = None
    position: Annotated[StrictInt, Field(ge=0, le=MAX_STOCK), WHOLE_NUMBER] | None = None


class NewProduct(Command):
    """A product to add to the catalog."""

    name: Name
    price: Price
    stock_quantity: StockQuantity
    sku: Sku | None = None
    description: Description = ""


class ProductChanges(Changes):
    """A partial update: only the fields given are changed (``sku`` may be set to null)."""

    name: Name | None = None
    price: Price | None = None
    stock_quantity: StockQuantity | None = None
    sku: Sku | None = None
    description: Description | None = None

    nullable = frozenset({"sku"})


class ProductSort(StrEnum):
    NEWEST = "newest"
    PRICE_ASC = "price_asc"
    PRICE_DESC = "price_desc"
    NAME = "name"


class ProductQuery(Command):
    """Which products to list, in which order, from which cursor."""

    limit: Annotated[StrictInt, Field(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT
    cursor: Cursor | None = None
    q: Annotated[Text, StringConstraints(min_length=1, max_length=200)] | None = None
    min_price: Amount | None = None
    max_price: Amount | None = None
    in_stock: StrictBool | None = None
    sort: ProductSort = ProductSort.NEWEST
