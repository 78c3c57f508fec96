from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import ValidationError as SettingsError

from minicommerce import ConfigurationError, Settings
from minicommerce.ratelimit import Rate


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "SECRET_KEY", "REDIS_URL", "CURRENCY", "RATE_LIMIT_ANON"):
        monkeypatch.delenv(f"MINICOMMERCE_{name}", raising=False)
    settings = Settings(_env_file=None)
    assert settings.database_url == "sqlite:///minicommerce.db"
    assert settings.redis_url is None
    assert settings.access_token_ttl == 900
    assert settings.refresh_token_ttl == 1_209_600
    assert settings.rate_limit_anon == Rate(100, 60)
    assert settings.rate_limit_user == Rate(1000, 60)
    assert settings.currency == "USD"
    assert settings.cors_origin_list == []


def test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINICOMMERCE_RATE_LIMIT_ANON", "0")
    monkeypatch.setenv("MINICOMMERCE_CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("MINICOMMERCE_CURRENCY", "EUR")
    settings = Settings(_env_file=None)
    assert settings.rate_limit_anon is None
    assert settings.cors_origin_list == ["https://a.example", "https://b.example"]
    assert settings.currency == "EUR"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("currency", "usd"),
        ("secret_key", "short"),
        ("database_url", "mysql://x/y"),
        ("rate_limit_anon", "lots"),
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


def test_idempotency_keys_are_kept_at_least_a_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MINICOMMERCE_IDEMPOTENCY_KEY_TTL", raising=False)
    assert Settings(_env_file=None).idempotency_key_ttl == 86_400
    monkeypatch.setenv("MINICOMMERCE_IDEMPOTENCY_KEY_TTL", "172800")
    assert Settings(_env_file=None).idempotency_key_ttl == 172_800
    monkeypatch.setenv("MINICOMMERCE_IDEMPOTENCY_KEY_TTL", "86399")
    with pytest.raises(SettingsError, match="idempotency_key_ttl"):
        Settings(_env_file=None)
