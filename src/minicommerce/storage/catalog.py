"""Products on SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from minicommerce.catalog.models import NewProduct, Product, ProductQuery, ProductSort
from minicommerce.errors import SkuTaken
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
)
_SELECT = sa.select(*_COLUMNS)
_LIVE = _p.deleted_at.is_(None)


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class SqlProductRepository:
    def __init__(self, conn: sa.Connection, currency: str) -> None:
        self._conn = conn
        self._currency = currency

    def _product(self, row: Any) -> Product:
        return Product(
            id=row[0],
            sku=row[1],
            name=row[2],
            description=row[3],
            price=row[4],
            currency=self._currency,
            stock_quantity=row[5],
            created_at=row[6],
            updated_at=row[7],
            version=row[8],
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

    def get(self, product_id: int) -> Product | None:
        row = self._conn.execute(_SELECT.where(_p.id == product_id, _LIVE)).first()
        return None if row is None else self._product(row)

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

    def list(self, query: ProductQuery, after: Sequence[Any] | None, limit: int) -> list[Product]:
        stmt = _SELECT.where(_LIVE)
        if query.q is not None:
            pattern = _like(query.q)
            stmt = stmt.where(
                sa.or_(
                    _p.name.ilike(pattern, escape="\\"),
                    _p.description.ilike(pattern, escape="\\"),
                    _p.sku.ilike(pattern, escape="\\"),
                )
            )
        if query.min_price is not None:
            stmt = stmt.where(_p.price >= query.min_price)
        if query.max_price is not None:
            stmt = stmt.where(_p.price <= query.max_price)
        if query.in_stock is True:
            stmt = stmt.where(_p.stock_quantity > 0)
        elif query.in_stock is False:
            stmt = stmt.where(_p.stock_quantity == 0)
        stmt = _order(stmt, query.sort, after).limit(limit)
        return [self._product(row) for row in self._conn.execute(stmt)]

    def count(self) -> int:
        stmt = sa.select(sa.func.count()).select_from(products).where(_LIVE)
        return int(self._conn.execute(stmt).scalar_one())


def _order(stmt: sa.Select[Any], sort: ProductSort, after: Sequence[Any] | None) -> sa.Select[Any]:
    if sort is ProductSort.NEWEST:
        if after is not None:
            stmt = stmt.where(_p.id < after[0])
        return stmt.order_by(_p.id.desc())
    key = _p.name if sort is ProductSort.NAME else _p.price
    if after is not None:
        bound = sa.tuple_(sa.literal(after[0], key.type), sa.literal(after[1], _p.id.type))
        pair = sa.tuple_(key, _p.id)
        stmt = stmt.where(pair < bound if sort is ProductSort.PRICE_DESC else pair > bound)
    if sort is ProductSort.PRICE_DESC:
        return stmt.order_by(key.desc(), _p.id.desc())
    return stmt.order_by(key, _p.id)


def _raise_if_sku(exc: sa.exc.IntegrityError, sku: object) -> None:
    if "sku" in str(exc.orig).lower():
        raise SkuTaken(str(sku)) from exc
