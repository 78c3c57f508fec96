"""The server's own settings: on ServerSettings, read from the same MINICOMMERCE_ names."""

from __future__ import annotations

import pytest
from pydantic import ValidationError as SettingsError

from minicommerce import Settings
from minicommerce.ratelimit import Rate
from minicommerce_server.settings import ServerSettings

SERVER_VARIABLES = ("RATE_LIMIT_ANON", "RATE_LIMIT_USER", "CORS_ORIGINS", "LOG_LEVEL")


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*SERVER_VARIABLES, "TRUST_FORWARDED_FOR", "DATABASE_URL"):
        monkeypatch.delenv(f"MINICOMMERCE_{name}", raising=False)
    settings = ServerSettings(_env_file=None)
    assert settings.rate_limit_anon == Rate(100, 60)
    assert settings.rate_limit_user == Rate(1000, 60)
    assert settings.cors_origin_list == []
    assert settings.trust_forwarded_for is False
    assert settings.log_level == "INFO"
    assert settings.database_url == "sqlite:///minicommerce.db"


def test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINICOMMERCE_RATE_LIMIT_ANON", "0")
    monkeypatch.setenv("MINICOMMERCE_RATE_LIMIT_USER", "5/second")
    monkeypatch.setenv("MINICOMMERCE_CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("MINICOMMERCE_TRUST_FORWARDED_FOR", "true")
    monkeypatch.setenv("MINICOMMERCE_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("MINICOMMERCE_CURRENCY", "EUR")
    settings = ServerSettings(_env_file=None)
    assert settings.rate_limit_anon is None
    assert settings.rate_limit_user == Rate(5, 1)
    assert settings.cors_origin_list == ["https://a.example", "https://b.example"]
    assert settings.trust_forwarded_for is True
    assert settings.log_level == "WARNING"
    assert settings.currency == "EUR"  # the core's settings come along


def test_server_settings_are_shop_settings() -> None:
    assert issubclass(ServerSettings, Settings)
    assert set(Settings.model_fields) < set(ServerSettings.model_fields)


@pytest.mark.parametrize(
    ("field", "value"),
    [("rate_limit_anon", "lots"), ("rate_limit_user", "0/minute"), ("currency", "usd")],
)
def test_bad_settings(field: str, value: object) -> None:
    with pytest.raises(SettingsError):
        ServerSettings.model_validate({field: value})
