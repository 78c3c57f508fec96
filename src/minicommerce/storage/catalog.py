"""Products on SQLAlchemy Core."""

from __future__ import annotations

import builtins
import functools
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from minicommerce.catalog.models import (
    LowStockProduct,
    NewProduct,
    Product,
    ProductQuery,
    ProductSort,
)
from minicommerce.catalog.repository import ShownProduct
from minicommerce.errors import SkuTaken
from minicommerce.storage.images import images_of, shown_images
from minicommerce.storage.reads import CompiledRead, contains_pattern
from minicommerce.storage.tables import products

_p = products.c
_COLUMNS = (
    _p.id,
    _p.sku,
    _p.name,
    _p.description,
    _p.price,
    _p.stock_quantity,
    _p.created_at,
    _p.updated_at,
    _p.version,
    (_p.stock_quantity > 0).label("in_stock"),
)
_SELECT = sa.select(*_COLUMNS)
# What the catalog shows: the product and, in the same statement, its images.
_SELECT_SHOWN = sa.select(*_COLUMNS, images_of(_p.id))
_LIVE = _p.deleted_at.is_(None)
_BY_ID = (_p.id == sa.bindparam("product_id", type_=_p.id.type), _LIVE)
_GET = CompiledRead(_SELECT.where(*_BY_ID).limit(1))
_GET_SHOWN = CompiledRead(_SELECT_SHOWN.where(*_BY_ID).limit(1))


class SqlProductRepository:
    def __init__(self, conn: sa.Connection, currency: str) -> None:
        self._conn = conn
        self._currency = currency

    def _product(self, row: Any) -> Product:
        # By column name: SQLAlchemy rows and the psycopg rows of CompiledRead both have
        # their columns as attributes.
        return Product(
            id=row.id,
            sku=row.sku,
            name=row.name,
            description=row.description,
            price=row.price,
            currency=self._currency,
            stock_quantity=row.stock_quantity,
            created_at=row.created_at,
            updated_at=row.updated_at,
            version=row.version,
            in_stock=row.in_stock,
        )

    def add(self, new: NewProduct, now: datetime) -> Product:
        stmt = (
            sa.insert(products)
            .values(
                sku=new.sku,
                name=new.name,
                description=new.description,
                price=new.price,
                stock_quantity=new.stock_quantity,
                version=1,
                created_at=now,
                updated_at=now,
            )
            .returning(*_COLUMNS)
        )
        try:
            row = self._conn.execute(stmt).one()
        except sa.exc.IntegrityError as exc:
            _raise_if_sku(exc, new.sku)
            raise
        return self._product(row)

    def _shown(self, row: Any) -> ShownProduct:
        return ShownProduct(self._product(row), shown_images(row.images, row.id))

    def get(self, product_id: int) -> Product | None:
        row = _GET.first(self._conn, {"product_id": product_id})
        return None if row is None else self._product(row)

    def get_shown(self, product_id: int) -> ShownProduct | None:
        row = _GET_SHOWN.first(self._conn, {"product_id": product_id})
        return None if row is None else self._shown(row)

    def update(
        self,
        product_id: int,
        values: Mapping[str, Any],
        now: datetime,
        versions: Collection[int] | None = None,
    ) -> Product | None:
        stmt = (
            sa.update(products)
            .where(_p.id == product_id, _LIVE)
            .values(**values, version=_p.version + 1, updated_at=now)
            .returning(*_COLUMNS)
        )
        if versions is not None:
            stmt = stmt.where(_p.version.in_(list(versions)))
        try:
            row = self._conn.execute(stmt).first()
        except sa.exc.IntegrityError as exc:
            _raise_if_sku(exc, values.get("sku"))
            raise
        return None if row is None else self._product(row)

    def archive(self, product_id: int, now: datetime, versions: Collection[int] | None) -> bool:
        stmt = (
            sa.update(products)
            .where(_p.id == product_id, _LIVE)
            .values(deleted_at=now, updated_at=now, version=_p.version + 1)
        )
        if versions is not None:
            stmt = stmt.where(_p.version.in_(list(versions)))
        return self._conn.execute(stmt).rowcount == 1

    def list(
        self, query: ProductQuery, after: Sequence[Any] | None, limit: int
    ) -> list[ShownProduct]:
        stmt = _list_read(
            query.sort,
            after is not None,
            query.q is not None,
            query.min_price is not None,
            query.max_price is not None,
            query.in_stock,
        )
        params: dict[str, Any] = {"limit": limit}
        if query.q is not None:
            params["pattern"] = contains_pattern(query.q)
        if query.min_price is not None:
            params["min_price"] = query.min_price
        if query.max_price is not None:
            params["max_price"] = query.max_price
        if after is not None:
            if query.sort is ProductSort.NEWEST:
                params["after_id"] = after[0]
            else:
                params["after_key"], params["after_id"] = after
        return [self._shown(row) for row in stmt.all(self._conn, params)]

    def count(self) -> int:
        stmt = sa.select(sa.func.count()).select_from(products).where(_LIVE)
        return int(self._conn.execute(stmt).scalar_one())

    def low_stock(self, threshold: int, limit: int) -> builtins.list[LowStockProduct]:
        # A scan of live products, on purpose: an index on stock would cost every order
        # (tables.py, migration 0008); a staff page can afford the scan.
        stmt = (
            sa.select(_p.id, _p.sku, _p.name, _p.stock_quantity)
            .where(_LIVE, _p.stock_quantity <= threshold)
            .order_by(_p.stock_quantity, _p.id)
            .limit(limit)
        )
        return [
            LowStockProduct(
                id=row.id, sku=row.sku, name=row.name, stock_quantity=row.stock_quantity
            )
            for row in self._conn.execute(stmt)
        ]


@functools.cache
def _list_read(
    sort: ProductSort,
    after: bool,
    q: bool,
    min_price: bool,
    max_price: bool,
    in_stock: bool | None,
) -> CompiledRead:
    """One statement per shape of query, built and compiled once: building and
    cache-keying a statement on every call cost more than the query itself."""
    stmt = _SELECT_SHOWN.where(_LIVE)
    if q:
        pattern = sa.bindparam("pattern", type_=sa.String())
        stmt = stmt.where(
            sa.or_(
                _p.name.ilike(pattern, escape="\\"),
                _p.description.ilike(pattern, escape="\\"),
                _p.sku.ilike(pattern, escape="\\"),
            )
        )
    if min_price:
        stmt = stmt.where(_p.price >= sa.bindparam("min_price", type_=_p.price.type))
    if max_price:
        stmt = stmt.where(_p.price <= sa.bindparam("max_price", type_=_p.price.type))
    if in_stock is True:
        stmt = stmt.where(_p.stock_quantity > 0)
    elif in_stock is False:
        stmt = stmt.where(_p.stock_quantity == 0)
    after_id = sa.bindparam("after_id", type_=_p.id.type)
    if sort is ProductSort.NEWEST:
        if after:
            stmt = stmt.where(_p.id < after_id)
        stmt = stmt.order_by(_p.id.desc())
    else:
        key = _p.name if sort is ProductSort.NAME else _p.price
        if after:
            bound = sa.tuple_(sa.bindparam("after_key", type_=key.type), after_id)
            pair = sa.tuple_(key, _p.id)
            stmt = stmt.where(pair < bound if sort is ProductSort.PRICE_DESC else pair > bound)
        if sort is ProductSort.PRICE_DESC:
            stmt = stmt.order_by(key.desc(), _p.id.desc())
        else:
            stmt = stmt.order_by(key, _p.id)
    return CompiledRead(stmt.limit(sa.bindparam("limit", type_=sa.Integer())))


def _raise_if_sku(exc: sa.exc.IntegrityError, sku: object) -> None:
    if "sku" in str(exc.orig).lower():
        raise SkuTaken(str(sku)) from exc
