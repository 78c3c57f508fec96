"""Settings: environment variables prefixed ``MINICOMMERCE_`` (and an optional ``.env``)."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from minicommerce.errors import ConfigurationError
from minicommerce.orders.service import DEFAULT_PLACEMENT_CONCURRENCY
from minicommerce.storage.engine import Timeouts, is_memory_sqlite, normalise_url

log = logging.getLogger("minicommerce.settings")


class Settings(BaseSettings):
    """The shop's settings: what a script and the server both need. Every setting has a
    safe default except the secret key on PostgreSQL. The server's own (rate limits, CORS,
    proxies, log level) are on ``minicommerce_server.settings.ServerSettings``; here the
    variables they are read from are ignored."""

    model_config = SettingsConfigDict(
        env_prefix="MINICOMMERCE_", env_file=".env", extra="ignore", frozen=True
    )

    database_url: str = "sqlite:///minicommerce.db"
    redis_url: str | None = None
    secret_key: SecretStr | None = None
    access_token_ttl: Annotated[int, Field(ge=30, le=86_400)] = 900
    refresh_token_ttl: Annotated[int, Field(ge=60, le=31_536_000)] = 1_209_600
    session_max_age: Annotated[int, Field(ge=60, le=31_536_000)] = 2_592_000
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    # Beyond API.md:
    jwt_issuer: str = "minicommerce"
    jwt_audience: str = "minicommerce-api"
    db_pool_size: Annotated[int, Field(ge=1, le=200)] = 20
    # Seconds; every wait on a backing service is bounded (docs/settings.md).
    db_connect_timeout: Annotated[float, Field(gt=0, le=300)] = 5.0
    db_statement_timeout: Annotated[float, Field(gt=0, le=86_400)] = 10.0
    db_pool_timeout: Annotated[float, Field(gt=0, le=300)] = 5.0
    sqlite_busy_timeout: Annotated[float, Field(ge=0, le=300)] = 5.0
    sqlite_synchronous: Literal["full", "normal"] = "full"
    argon2_time_cost: Annotated[int, Field(ge=1, le=20)] = 3
    argon2_memory_cost: Annotated[int, Field(ge=1024, le=4_194_304)] = 65_536
    argon2_parallelism: Annotated[int, Field(ge=1, le=64)] = 4
    argon2_max_concurrent: Annotated[int | None, Field(ge=1, le=1024)] = None
    login_max_failures: Annotated[int, Field(ge=1)] = 10
    login_failure_window: Annotated[int, Field(ge=1)] = 900
    idempotency_key_ttl: Annotated[int, Field(ge=86_400)] = 86_400
    media_dir: Path | None = None
    media_url: Annotated[str, Field(min_length=1)] = "/media/"
    database_replica_urls: str = ""
    # Seconds (docs/settings.md): a replica further behind is skipped; its health is
    # probed in the background this often.
    replica_max_lag: Annotated[float, Field(gt=0, le=3600)] = 5.0
    replica_probe_interval: Annotated[float, Field(ge=0.05, le=60)] = 0.5
    database_pgbouncer: bool = False
    media_max_bytes: Annotated[int, Field(ge=1024, le=1024**3)] = 10 * 1024 * 1024
    media_max_pixels: Annotated[int, Field(ge=1, le=1_000_000_000)] = 40_000_000
    low_stock_threshold: Annotated[int, Field(ge=0, le=100_000)] = 5
    # Order placements of one process in the database at once (docs/settings.md).
    placement_concurrency: Annotated[int, Field(ge=1, le=1000)] = DEFAULT_PLACEMENT_CONCURRENCY
    # Seconds a catalog cache entry lives at most; 0 turns the cache off.
    catalog_cache_ttl: Annotated[float, Field(ge=0, le=86_400)] = 300
    # Seconds one Redis call may take (the catalog cache here, the server's rate limiter).
    redis_timeout: Annotated[float, Field(gt=0, le=10)] = 0.05

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        normalise_url(value)
        return value

    @field_validator("database_replica_urls")
    @classmethod
    def _postgres_replicas(cls, value: str) -> str:
        for url in _split(value):
            if normalise_url(url).get_backend_name() != "postgresql":
                raise ValueError("read replicas must be postgresql:// URLs")
        return value

    @model_validator(mode="after")
    def _postgres_for_replicas(self) -> Settings:
        if (self.replica_urls or self.database_pgbouncer) and self.is_sqlite:
            raise ValueError(
                "MINICOMMERCE_DATABASE_REPLICA_URLS and MINICOMMERCE_DATABASE_PGBOUNCER "
                "need a PostgreSQL MINICOMMERCE_DATABASE_URL"
            )
        return self

    @property
    def replica_urls(self) -> list[str]:
        return _split(self.database_replica_urls)

    @field_validator("media_url")
    @classmethod
    def _usable_url(cls, value: str) -> str:
        if not value.startswith(("/", "https://", "http://")):
            raise ValueError("must start with / or be an http(s):// URL")
        return value if value.endswith("/") else value + "/"

    @field_validator("secret_key")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (try: openssl rand -hex 32)")
        return value

    @field_validator("sqlite_synchronous", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @property
    def database_timeouts(self) -> Timeouts:
        return Timeouts(
            connect=self.db_connect_timeout,
            statement=self.db_statement_timeout,
            pool=self.db_pool_timeout,
            sqlite_busy=self.sqlite_busy_timeout,
        )

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

    def resolve_media_dir(self) -> Path | None:
        """Where product images are stored: configured, or ``media`` beside a SQLite
        database file; ``None`` otherwise (uploads then raise ``MediaNotConfigured``)."""
        if self.media_dir is not None:
            return self.media_dir
        return default_media_dir(self.database_url)

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


def _split(urls: str) -> list[str]:
    return [url.strip() for url in urls.split(",") if url.strip()]


def default_media_dir(database_url: str) -> Path | None:
    """``media`` beside a SQLite database file; ``None`` for any other database."""
    url = normalise_url(database_url)
    if url.get_backend_name() != "sqlite" or is_memory_sqlite(url) or not url.database:
        return None
    return Path(url.database).parent / "media"
