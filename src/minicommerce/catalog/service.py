"""Catalog use cases: products, their stock and prices."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from minicommerce.catalog.models import (
    NewProduct,
    Product,
    ProductChanges,
    ProductQuery,
    ProductSort,
)
from minicommerce.clock import Clock, utcnow
from minicommerce.errors import NotFound, PreconditionFailed, ValidationError
from minicommerce.ids import is_valid_id
from minicommerce.money import parse_amount
from minicommerce.pagination import Page, decode_cursor, encode_cursor
from minicommerce.uow import UnitOfWorkFactory

_RESOURCE = "Product"


class CatalogService:
    """Create, read, change, archive and list products.

    ``if_match`` arguments carry the versions a caller last saw (the server's ETag); a
    change to a product that moved on since raises :class:`PreconditionFailed`.
    """

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock = utcnow) -> None:
        self._uow = uow
        self._clock = clock

    def create(self, new: NewProduct) -> Product:
        with self._uow(write=True) as uow:
            product = uow.products.add(new, self._clock())
            uow.commit()
        return product

    def get(self, product_id: int) -> Product:
        if not is_valid_id(product_id):
            raise NotFound(_RESOURCE, product_id)
        with self._uow(write=False) as uow:
            product = uow.products.get(product_id)
        if product is None:
            raise NotFound(_RESOURCE, product_id)
        return product

    def update(
        self,
        product_id: int,
        changes: ProductChanges,
        if_match: Collection[int] | None = None,
    ) -> Product:
        if not is_valid_id(product_id):
            raise NotFound(_RESOURCE, product_id)
        values = changes.changes()
        with self._uow(write=True) as uow:
            if not values:
                return self._current(uow.products.get(product_id), product_id, if_match)
            updated = uow.products.update(product_id, values, self._clock(), if_match)
            if updated is None:
                raise self._mismatch(uow.products.get(product_id), product_id)
            uow.commit()
        return updated

    def delete(self, product_id: int, if_match: Collection[int] | None = None) -> None:
        """Archive a product: it leaves the catalog; order lines keep their copies."""
        if not is_valid_id(product_id):
            raise NotFound(_RESOURCE, product_id)
        with self._uow(write=True) as uow:
            if not uow.products.archive(product_id, self._clock(), if_match):
                raise self._mismatch(uow.products.get(product_id), product_id)
            uow.commit()

    def list(self, query: ProductQuery | None = None) -> Page[Product]:
        """One page of live products; one query, keyset-paginated."""
        query = query or ProductQuery()
        after = self._decode(query.cursor, query.sort) if query.cursor else None
        with self._uow(write=False) as uow:
            rows = uow.products.list(query, after, query.limit + 1)
        items = rows[: query.limit]
        more = len(rows) > query.limit
        cursor = encode_cursor(query.sort.value, _sort_key(items[-1], query.sort)) if more else None
        return Page(items=items, next_cursor=cursor)

    def count(self) -> int:
        with self._uow(write=False) as uow:
            return uow.products.count()

    @staticmethod
    def _current(
        product: Product | None, product_id: int, if_match: Collection[int] | None
    ) -> Product:
        if product is None:
            raise NotFound(_RESOURCE, product_id)
        if if_match is not None and product.version not in if_match:
            raise PreconditionFailed(_RESOURCE, product_id, product.version)
        return product

    @staticmethod
    def _mismatch(product: Product | None, product_id: int) -> NotFound | PreconditionFailed:
        """Why a conditional write matched no row: gone, or at another version."""
        if product is None:
            return NotFound(_RESOURCE, product_id)
        return PreconditionFailed(_RESOURCE, product_id, product.version)

    @staticmethod
    def _decode(cursor: str, sort: ProductSort) -> Sequence[Any]:
        if sort is ProductSort.NEWEST:
            (last_id,) = decode_cursor(cursor, sort.value, 1)
            if not isinstance(last_id, int):
                raise ValidationError.single("cursor", "is not a valid cursor")
            return (last_id,)
        value, last_id = decode_cursor(cursor, sort.value, 2)
        if not isinstance(last_id, int) or not isinstance(value, str):
            raise ValidationError.single("cursor", "is not a valid cursor")
        if sort is ProductSort.NAME:
            return (value, last_id)
        try:
            return (parse_amount(value), last_id)
        except ValueError:
            raise ValidationError.single("cursor", "is not a valid cursor") from None


def _sort_key(product: Product, sort: ProductSort) -> tuple[str | int, ...]:
    if sort is ProductSort.NEWEST:
        return (product.id,)
    if sort is ProductSort.NAME:
        return (product.name, product.id)
    return (str(product.price), product.id)
