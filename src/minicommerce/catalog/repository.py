"""What the catalog needs from storage."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from minicommerce.catalog.models import NewProduct, Product, ProductQuery


class ProductRepository(Protocol):
    """Products, live and archived. Archived products are invisible to every method here."""

    def add(self, new: NewProduct, now: datetime) -> Product:
        """Insert a product; raises :class:`~minicommerce.errors.SkuTaken` on a duplicate SKU."""
        ...

    def get(self, product_id: int) -> Product | None: ...

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

    def list(self, query: ProductQuery, after: Sequence[Any] | None, limit: int) -> list[Product]:
        """Up to ``limit`` products matching ``query`` that sort after the key ``after``."""
        ...

    def count(self) -> int:
        """How many live products there are."""
        ...
