"""Column types that keep money exact and time in UTC on every backend."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from minicommerce.money import CENT


class Money(TypeDecorator[Decimal]):
    """An exact amount with two places.

    PostgreSQL stores ``NUMERIC(p, 2)``. SQLite has no exact decimal type (its NUMERIC
    affinity would round through a float), so there the column holds whole cents in an
    INTEGER: exact, and it sorts and compares like the amount.
    """

    impl = sa.Numeric
    cache_ok = True

    def __init__(self, precision: int = 10) -> None:
        super().__init__()
        self.precision = precision

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.BigInteger())
        return dialect.type_descriptor(sa.Numeric(self.precision, 2, asdecimal=True))

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        if dialect.name == "postgresql":
            return None  # psycopg already gives a Decimal with the column's two places
        return super().result_processor(dialect, coltype)

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return int(value.quantize(CENT).scaleb(2))
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(value).scaleb(-2).quantize(CENT)
        return Decimal(value).quantize(CENT)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes in, timezone-aware UTC datetimes out.

    SQLite keeps no offset, so values are stored as naive UTC there. PostgreSQL sessions
    are set to UTC (see ``engine.py``), so its values need no conversion on the way out.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        if dialect.name == "postgresql":
            return None  # sessions run with TimeZone=UTC: psycopg gives aware UTC values
        return super().result_processor(dialect, coltype)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
