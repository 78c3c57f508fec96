"""The replica and PgBouncer settings: parsed, checked, and wired into the shop."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from minicommerce import Settings
from minicommerce.shop import _positions
from minicommerce.storage.positions import RedisPositions

PG = "postgresql://shop@db:5432/shop"


def test_replica_urls_are_a_comma_separated_list() -> None:
    settings = Settings(
        database_url=PG,
        database_replica_urls=" postgresql://r1/shop, postgres://r2/shop ,",
    )
    assert settings.replica_urls == ["postgresql://r1/shop", "postgres://r2/shop"]
    assert (settings.replica_max_lag, settings.replica_probe_interval) == (5.0, 0.5)
    assert Settings(database_url=PG).replica_urls == []


@pytest.mark.parametrize(
    "values",
    [
        {"database_url": "sqlite:///x.db", "database_replica_urls": "postgresql://r/shop"},
        {"database_url": "sqlite:///x.db", "database_pgbouncer": True},
        {"database_url": PG, "database_replica_urls": "sqlite:///y.db"},
        {"database_url": PG, "replica_max_lag": 0},
        {"database_url": PG, "replica_probe_interval": 0.001},
    ],
)
def test_bad_replica_settings_are_refused(values: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Settings.model_validate(values)


def test_positions_are_shared_through_redis_only_with_replicas_and_redis() -> None:
    assert _positions(Settings(database_url=PG, redis_url="redis://r:6379/0")) is None
    assert _positions(Settings(database_url=PG, database_replica_urls="postgresql://r/s")) is None
    shared = _positions(
        Settings(
            database_url=PG,
            database_replica_urls="postgresql://r/shop",
            redis_url="redis://127.0.0.1:6379/0",
        )
    )
    assert isinstance(shared, RedisPositions)
    shared.close()
