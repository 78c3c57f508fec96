"""What the catalog needs from storage."""

from __future__ import annotations

import builtins
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from minicommerce.catalog.models import LowStockProduct, NewProduct, Product, ProductQuery


class ProductRepository(Protocol):
    """Products, live and archived. Archived products are invisible to every method here."""

    def add(self, new: NewProduct, now: datetime) -> Product:
        """Insert a product; raises :class:`~minicommerce.errors.SkuTaken` on a duplicate SKU."""
        ...

    def get(self, product_id: int) -> Product | None: ...

    def get_shown(self, product_id: int) -> ShownProduct | None:
        """The product with its images, in one statement."""
        ...

    def update(
        self,
        product_id: int,
        values: Mapping[str, Any],
        now: datetime,
        versions: Collection[int] | None = None,
    ) -> Product | None:
        """Apply ``values`` and bump the version, only if the product is live and (when
        ``versions`` is given) at one of those versions. ``None`` when nothing matched."""
        ...

    def archive(self, product_id: int, now: datetime, versions: Collection[int] | None) -> bool:
        """Hide a product from the catalog for good; ``False`` when nothing matched."""
        ...

    def list(
        self, query: ProductQuery, after: Sequence[Any] | None, limit: int
    ) -> list[ShownProduct]:
        """Up to ``limit`` products matching ``query`` that sort after the key ``after``,
        each with its images, in one statement."""
        ...

    def count(self) -> int:
        """How many live products there are."""
        ...

    def low_stock(self, threshold: int, limit: int) -> builtins.list[LowStockProduct]:
        """Live products with at most ``threshold`` in stock, lowest stock first, then by
        id: one query over the index of live products by stock."""
        ...


@dataclass(frozen=True, slots=True)
class StoredRendition:
    width: int
    height: int
    format: str
    name: str
    """The file's name in the media storage."""


@dataclass(frozen=True, slots=True)
class StoredImage:
    """An image row: what the service turns into a :class:`ProductImage`."""

    id: int
    product_id: int
    position: int
    alt: str
    width: int
    height: int
    content_hash: str
    format: str
    renditions: tuple[StoredRendition, ...]


class ShownProduct(NamedTuple):
    """A product as the catalog shows it: its row and its image rows, in order (what the
    service turns into a :class:`Product` with its :class:`ProductImage` list)."""

    product: Product
    images: Sequence[StoredImage]


@dataclass(frozen=True, slots=True)
class NewImage:
    alt: str
    width: int
    height: int
    content_hash: str
    format: str
    renditions: tuple[StoredRendition, ...]


class ProductImageRepository(Protocol):
    """Images of products, in dense positions 0..n-1 per product. Callers serialise changes
    to one product's images (they change the product's row first, which locks it)."""

    def get(self, product_id: int, image_id: int) -> StoredImage | None: ...

    def add(self, product_id: int, image: NewImage, now: datetime) -> StoredImage:
        """Append an image after the product's others."""
        ...

    def set_alt(self, image_id: int, alt: str) -> None: ...

    def move(self, image: StoredImage, position: int) -> None:
        """Put ``image`` at ``position`` (clamped to the last), shifting the ones between."""
        ...

    def remove(self, image: StoredImage) -> None:
        """Delete ``image`` and close the gap it leaves."""
        ...

    def hash_in_use(self, content_hash: str) -> bool:
        """Whether any image row uses files made from ``content_hash``."""
        ...
