"""Product images on SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from minicommerce.catalog.repository import NewImage, StoredImage, StoredRendition
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
_SHOWN = (_m.id, _m.position, _m.alt, _m.width, _m.height, _m.content_hash, _m.format)


class _JsonArray(FunctionElement[Any]):
    """The values of a group as one JSON array: ``json_agg`` on PostgreSQL,
    ``json_group_array`` on SQLite."""

    type = sa.JSON()
    inherit_cache = True
    name = "json_array"


class _JsonObject(FunctionElement[Any]):
    """A JSON object of ``key, value, ...``: ``json_build_object`` on PostgreSQL,
    ``json_object`` on SQLite."""

    type = sa.JSON()
    inherit_cache = True
    name = "json_object"


class _AsJson(FunctionElement[Any]):
    """A JSON column as a value to nest: itself on PostgreSQL; ``json()`` on SQLite, which
    keeps JSON as text and would otherwise nest it as a string."""

    type = sa.JSON()
    inherit_cache = True
    name = "as_json"


_FUNCTIONS = {
    "postgresql": {"json_array": "json_agg", "json_object": "json_build_object", "as_json": ""},
    "sqlite": {"json_array": "json_group_array", "json_object": "json_object", "as_json": "json"},
}


@compiles(_JsonArray)
@compiles(_JsonObject)
@compiles(_AsJson)
def _json_function(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    name = _FUNCTIONS[compiler.dialect.name][element.name]
    return f"{name}({compiler.process(element.clauses, **kw)})"


def images_of(product_id: sa.ColumnElement[int]) -> sa.Label[Any]:
    """A column for a product's statement: the images of ``product_id`` as a JSON array of
    objects, in no order (:func:`shown_images` sorts them), read by the statement itself
    instead of one more round trip. NULL when there are none on PostgreSQL (nothing to
    parse), ``[]`` on SQLite."""
    pairs: list[Any] = []
    for column in _SHOWN:
        pairs += [_key(column.name), column]
    pairs += [_key("renditions"), _AsJson(_m.renditions)]
    images = sa.select(_JsonArray(_JsonObject(*pairs))).where(_m.product_id == product_id)
    return images.scalar_subquery().label("images")


def _key(name: str) -> sa.ColumnElement[Any]:
    # In the SQL text, not a parameter: the hot reads send their parameters on every call.
    return sa.literal_column(f"'{name}'")


def shown_images(value: Any, product_id: int) -> tuple[StoredImage, ...]:
    """The images of one product from :func:`images_of`'s column, in their positions."""
    if not value:
        return ()
    rows = sorted(value, key=_position)
    return tuple(_image({**row, "product_id": product_id}) for row in rows)


def _position(row: Mapping[str, Any]) -> int:
    return int(row["position"])


def _image(row: Mapping[Any, Any]) -> StoredImage:
    renditions = tuple(
        StoredRendition(int(r["width"]), int(r["height"]), str(r["format"]), str(r["name"]))
        for r in row["renditions"]
    )
    return StoredImage(
        id=row["id"],
        product_id=row["product_id"],
        position=row["position"],
        alt=row["alt"],
        width=row["width"],
        height=row["height"],
        content_hash=row["content_hash"],
        format=row["format"],
        renditions=renditions,
    )


class SqlProductImageRepository:
    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def get(self, product_id: int, image_id: int) -> StoredImage | None:
        row = self._conn.execute(
            _SELECT.where(_m.id == image_id, _m.product_id == product_id)
        ).first()
        return None if row is None else _image(row._mapping)

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
        return _image(row._mapping)

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
