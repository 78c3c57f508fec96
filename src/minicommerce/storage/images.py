"""Product images on SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from minicommerce.catalog.repository import NewImage, StoredImage, StoredRendition
from minicommerce.storage.reads import CompiledRead
from minicommerce.storage.tables import product_images

_m = product_images.c
_COLUMNS = (
    _m.id,
    _m.product_id,
    _m.position,
    _m.alt,
    _m.width,
    _m.height,
    _m.content_hash,
    _m.format,
    _m.renditions,
)
_SELECT = sa.select(*_COLUMNS)
_ORDER = (_m.product_id, _m.position)
# The images of a whole catalog page in one query. PostgreSQL takes the ids as one array
# parameter, so the statement compiles once (storage/reads.py); SQLite expands a list.
_FOR_PRODUCTS_PG = CompiledRead(
    _SELECT.where(
        _m.product_id == sa.any_(sa.bindparam("ids", type_=postgresql.ARRAY(sa.BigInteger())))
    ).order_by(*_ORDER)
)
_FOR_PRODUCTS = _SELECT.where(_m.product_id.in_(sa.bindparam("ids", expanding=True))).order_by(
    *_ORDER
)


def _image(row: Any) -> StoredImage:
    renditions = tuple(
        StoredRendition(int(r["width"]), int(r["height"]), str(r["format"]), str(r["name"]))
        for r in row[8]
    )
    return StoredImage(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], renditions)


class SqlProductImageRepository:
    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def for_products(self, product_ids: Sequence[int]) -> dict[int, list[StoredImage]]:
        if not product_ids:
            return {}
        ids = list(product_ids)
        if self._conn.dialect.name == "postgresql":
            rows = _FOR_PRODUCTS_PG.all(self._conn, {"ids": ids})
        else:
            rows = self._conn.execute(_FOR_PRODUCTS, {"ids": ids}).all()
        images: dict[int, list[StoredImage]] = {}
        for row in rows:
            images.setdefault(row[1], []).append(_image(row))
        return images

    def get(self, product_id: int, image_id: int) -> StoredImage | None:
        row = self._conn.execute(
            _SELECT.where(_m.id == image_id, _m.product_id == product_id)
        ).first()
        return None if row is None else _image(row)

    def add(self, product_id: int, image: NewImage, now: datetime) -> StoredImage:
        position = (
            sa.select(sa.func.count())
            .select_from(product_images)
            .where(_m.product_id == product_id)
            .scalar_subquery()
        )
        row = self._conn.execute(
            sa.insert(product_images)
            .values(
                product_id=product_id,
                position=position,
                alt=image.alt,
                width=image.width,
                height=image.height,
                content_hash=image.content_hash,
                format=image.format,
                renditions=[
                    {"width": r.width, "height": r.height, "format": r.format, "name": r.name}
                    for r in image.renditions
                ],
                created_at=now,
            )
            .returning(*_COLUMNS)
        ).one()
        return _image(row)

    def set_alt(self, image_id: int, alt: str) -> None:
        self._conn.execute(sa.update(product_images).where(_m.id == image_id).values(alt=alt))

    def move(self, image: StoredImage, position: int) -> None:
        last = self._conn.execute(
            sa.select(sa.func.count() - 1)
            .select_from(product_images)
            .where(_m.product_id == image.product_id)
        ).scalar_one()
        target = min(position, int(last))
        if target == image.position:
            return
        same = _m.product_id == image.product_id
        if target < image.position:  # up: the ones from target to just above it move down
            shift = _m.position.between(target, image.position - 1)
            step = _m.position + 1
        else:
            shift = _m.position.between(image.position + 1, target)
            step = _m.position - 1
        self._conn.execute(sa.update(product_images).where(same, shift).values(position=step))
        self._conn.execute(
            sa.update(product_images).where(_m.id == image.id).values(position=target)
        )

    def remove(self, image: StoredImage) -> None:
        self._conn.execute(sa.delete(product_images).where(_m.id == image.id))
        self._conn.execute(
            sa.update(product_images)
            .where(_m.product_id == image.product_id, _m.position > image.position)
            .values(position=_m.position - 1)
        )

    def hash_in_use(self, content_hash: str) -> bool:
        row = self._conn.execute(
            sa.select(_m.id).where(_m.content_hash == content_hash).limit(1)
        ).first()
        return row is not None
