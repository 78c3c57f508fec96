"""The server's own settings: on ServerSettings, read from the same MINICOMMERCE_ names."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError as SettingsError

from minicommerce import ConfigurationError, Settings
from minicommerce.ratelimit import Rate
from minicommerce_server.settings import ServerSettings

SERVER_VARIABLES = (
    "RATE_LIMIT_ANON",
    "RATE_LIMIT_USER",
    "CORS_ORIGINS",
    "TRUSTED_PROXIES",
    "LOG_LEVEL",
)


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*SERVER_VARIABLES, "TRUST_FORWARDED_FOR", "DATABASE_URL"):
        monkeypatch.delenv(f"MINICOMMERCE_{name}", raising=False)
    settings = ServerSettings(_env_file=None)
    assert settings.rate_limit_anon == Rate(100, 60)
    assert settings.rate_limit_user == Rate(1000, 60)
    assert settings.cors_origin_list == []
    assert settings.trusted_proxies == ""
    assert settings.log_level == "INFO"
    assert settings.database_url == "sqlite:///minicommerce.db"


def test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINICOMMERCE_RATE_LIMIT_ANON", "0")
    monkeypatch.setenv("MINICOMMERCE_RATE_LIMIT_USER", "5/second")
    monkeypatch.setenv("MINICOMMERCE_CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("MINICOMMERCE_TRUSTED_PROXIES", "10.0.0.1")
    monkeypatch.setenv("MINICOMMERCE_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("MINICOMMERCE_CURRENCY", "EUR")
    settings = ServerSettings(_env_file=None)
    assert settings.rate_limit_anon is None
    assert settings.rate_limit_user == Rate(5, 1)
    assert settings.cors_origin_list == ["https://a.example", "https://b.example"]
    assert settings.trusted_proxies == "10.0.0.1"
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


def test_trusted_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINICOMMERCE_TRUSTED_PROXIES", "10.0.0.0/8, 2001:db8::/32")
    settings = ServerSettings(_env_file=None)
    assert [str(n) for n in settings.trusted_proxy_networks] == ["10.0.0.0/8", "2001:db8::/32"]
    assert ServerSettings(_env_file=None, trusted_proxies="").trusted_proxy_networks == ()
    with pytest.raises(SettingsError, match="not an IP address"):
        ServerSettings(_env_file=None, trusted_proxies="10.0.0.0/8, proxy.internal")


@pytest.mark.parametrize("value", ["true", "false", "1"])
def test_the_removed_trust_forwarded_for_is_refused_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("MINICOMMERCE_TRUST_FORWARDED_FOR", value)
    with pytest.raises(ConfigurationError, match="MINICOMMERCE_TRUSTED_PROXIES"):
        ServerSettings(_env_file=None)


def test_the_removed_trust_forwarded_for_is_refused_from_a_dotenv(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("MINICOMMERCE_TRUST_FORWARDED_FOR", raising=False)
    env = tmp_path / ".env"
    env.write_text("MINICOMMERCE_TRUST_FORWARDED_FOR=true\n")
    with pytest.raises(ConfigurationError, match="no longer supported"):
        ServerSettings(_env_file=env)
