"""Settings: environment variables prefixed ``MINICOMMERCE_`` (and an optional ``.env``)."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from minicommerce.errors import ConfigurationError
from minicommerce.ratelimit import Rate
from minicommerce.storage.engine import is_memory_sqlite, normalise_url

log = logging.getLogger("minicommerce.settings")


def _rate(value: Any) -> Rate | None:
    if value is None or isinstance(value, Rate):
        return value
    return Rate.parse(str(value))


RateSetting = Annotated[Rate | None, BeforeValidator(_rate)]


class Settings(BaseSettings):
    """Every setting has a safe default except the secret key on PostgreSQL."""

    model_config = SettingsConfigDict(
        env_prefix="MINICOMMERCE_", env_file=".env", extra="ignore", frozen=True
    )

    database_url: str = "sqlite:///minicommerce.db"
    redis_url: str | None = None
    secret_key: SecretStr | None = None
    access_token_ttl: Annotated[int, Field(ge=30, le=86_400)] = 900
    refresh_token_ttl: Annotated[int, Field(ge=60, le=31_536_000)] = 1_209_600
    rate_limit_anon: RateSetting = Rate(100, 60)
    rate_limit_user: RateSetting = Rate(1000, 60)
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    cors_origins: str = ""
    # Beyond API.md:
    jwt_issuer: str = "minicommerce"
    jwt_audience: str = "minicommerce-api"
    db_pool_size: Annotated[int, Field(ge=1, le=200)] = 10
    argon2_time_cost: Annotated[int, Field(ge=1, le=20)] = 3
    argon2_memory_cost: Annotated[int, Field(ge=1024, le=4_194_304)] = 65_536
    argon2_parallelism: Annotated[int, Field(ge=1, le=64)] = 4
    login_max_failures: Annotated[int, Field(ge=1)] = 10
    login_failure_window: Annotated[int, Field(ge=1)] = 900
    trust_forwarded_for: bool = False
    idempotency_key_ttl: Annotated[int, Field(ge=86_400)] = 86_400
    log_level: str = "INFO"

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        normalise_url(value)
        return value

    @field_validator("secret_key")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (try: openssl rand -hex 32)")
        return value

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    @property
    def is_sqlite(self) -> bool:
        return normalise_url(self.database_url).get_backend_name() == "sqlite"

    @property
    def is_in_memory(self) -> bool:
        """An in-memory SQLite database: it lives and dies with one process."""
        return is_memory_sqlite(normalise_url(self.database_url))

    @property
    def database_label(self) -> str:
        """The database URL with any password hidden, for messages."""
        return normalise_url(self.database_url).render_as_string(hide_password=True)

    def secret_file(self) -> Path | None:
        """Where a generated secret is kept: beside a SQLite database file."""
        url = normalise_url(self.database_url)
        if url.get_backend_name() != "sqlite" or is_memory_sqlite(url) or not url.database:
            return None
        return Path(url.database + ".secret")

    def resolve_secret(self) -> str:
        """The token-signing secret: configured, or generated once beside a SQLite database."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        url = normalise_url(self.database_url)
        if url.get_backend_name() != "sqlite":
            raise ConfigurationError(
                "MINICOMMERCE_SECRET_KEY is required with PostgreSQL "
                "(at least 32 characters; try: openssl rand -hex 32)."
            )
        path = self.secret_file()
        if path is None:
            log.warning("no MINICOMMERCE_SECRET_KEY: using a random secret for this process only")
            return secrets.token_hex(32)
        if path.exists():
            return path.read_text().strip()
        secret = secrets.token_hex(32)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return path.read_text().strip()
        with os.fdopen(fd, "w") as handle:
            handle.write(secret + "\n")
        log.warning(
            "no MINICOMMERCE_SECRET_KEY: generated one and kept it in %s; "
            "set MINICOMMERCE_SECRET_KEY in production",
            path,
        )
        return secret
