from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import ValidationError as SettingsError

from minicommerce import ConfigurationError, Settings
from minicommerce_server.settings import ServerSettings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "SECRET_KEY", "REDIS_URL", "CURRENCY", "RATE_LIMIT_ANON"):
        monkeypatch.delenv(f"MINICOMMERCE_{name}", raising=False)
    settings = Settings(_env_file=None)
    assert settings.database_url == "sqlite:///minicommerce.db"
    assert settings.redis_url is None
    assert settings.access_token_ttl == 900
    assert settings.refresh_token_ttl == 1_209_600
    assert settings.session_max_age == 2_592_000
    assert settings.argon2_max_concurrent is None
    assert settings.currency == "USD"


def test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINICOMMERCE_CURRENCY", "EUR")
    assert Settings(_env_file=None).currency == "EUR"


def test_the_core_has_no_server_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    # A library user never sees, nor has validated, what only an HTTP server uses.
    server_only = {
        "rate_limit_anon",
        "rate_limit_user",
        "cors_origins",
        "trust_forwarded_for",
        "trusted_proxies",
        "log_level",
    }
    assert server_only.isdisjoint(Settings.model_fields)
    monkeypatch.setenv("MINICOMMERCE_RATE_LIMIT_ANON", "not a rate")
    assert Settings(_env_file=None).currency == "USD"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("currency", "usd"),
        ("secret_key", "short"),
        ("database_url", "mysql://x/y"),
        ("access_token_ttl", 5),
    ],
)
def test_bad_settings(field: str, value: object) -> None:
    with pytest.raises(SettingsError):
        Settings.model_validate({field: value})


def test_secret_is_required_on_postgres() -> None:
    settings = Settings.model_validate({"database_url": "postgresql://u@h/db"})
    with pytest.raises(ConfigurationError, match="MINICOMMERCE_SECRET_KEY"):
        settings.resolve_secret()


def test_secret_is_generated_once_beside_sqlite(tmp_path: Path) -> None:
    settings = Settings.model_validate({"database_url": f"sqlite:///{tmp_path}/shop.db"})
    first = settings.resolve_secret()
    assert len(first) >= 32
    path = tmp_path / "shop.db.secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert settings.resolve_secret() == first


def test_configured_secret_wins(tmp_path: Path) -> None:
    settings = Settings.model_validate(
        {"database_url": f"sqlite:///{tmp_path}/shop.db", "secret_key": "k" * 32}
    )
    assert settings.resolve_secret() == "k" * 32
    assert not (tmp_path / "shop.db.secret").exists()


def test_database_label_hides_the_password() -> None:
    settings = Settings.model_validate({"database_url": "postgresql://u:hunter2@h/db"})
    assert "hunter2" not in settings.database_label
    assert not settings.is_in_memory
    assert Settings.model_validate({"database_url": "sqlite://"}).is_in_memory


def test_every_wait_on_a_backing_service_is_bounded_by_default() -> None:
    settings = Settings.model_validate({})
    timeouts = settings.database_timeouts
    assert (timeouts.connect, timeouts.statement, timeouts.pool) == (5, 10, 5)
    assert timeouts.sqlite_busy == 5
    assert settings.sqlite_synchronous == "full"
    assert ServerSettings.model_validate({}).redis_timeout == 0.05


def test_timeouts_and_sqlite_durability_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MINICOMMERCE_DB_CONNECT_TIMEOUT", "2")
    monkeypatch.setenv("MINICOMMERCE_DB_STATEMENT_TIMEOUT", "0.5")
    monkeypatch.setenv("MINICOMMERCE_DB_POOL_TIMEOUT", "1.5")
    monkeypatch.setenv("MINICOMMERCE_SQLITE_BUSY_TIMEOUT", "0.25")
    monkeypatch.setenv("MINICOMMERCE_SQLITE_SYNCHRONOUS", "NORMAL")
    monkeypatch.setenv("MINICOMMERCE_REDIS_TIMEOUT", "0.02")
    settings = Settings(_env_file=None)
    timeouts = settings.database_timeouts
    assert (timeouts.connect, timeouts.statement, timeouts.pool) == (2, 0.5, 1.5)
    assert timeouts.sqlite_busy == 0.25
    assert settings.sqlite_synchronous == "normal"
    assert ServerSettings(_env_file=None).redis_timeout == 0.02
    with pytest.raises(SettingsError):
        Settings.model_validate({"sqlite_synchronous": "off"})
    with pytest.raises(SettingsError):
        Settings.model_validate({"db_statement_timeout": 0})


def test_idempotency_keys_are_kept_at_least_a_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MINICOMMERCE_IDEMPOTENCY_KEY_TTL", raising=False)
    assert Settings(_env_file=None).idempotency_key_ttl == 86_400
    monkeypatch.setenv("MINICOMMERCE_IDEMPOTENCY_KEY_TTL", "172800")
    assert Settings(_env_file=None).idempotency_key_ttl == 172_800
    monkeypatch.setenv("MINICOMMERCE_IDEMPOTENCY_KEY_TTL", "86399")
    with pytest.raises(SettingsError, match="idempotency_key_ttl"):
        Settings(_env_file=None)
