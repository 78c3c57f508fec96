"""The optional drivers: psycopg for PostgreSQL, redis for Redis.

The core installs without them (``pip install minicommerce`` runs on SQLite); they come with
the ``postgres`` and ``redis`` extras, and both with ``server``. They are imported only when a
URL needs them, and a missing one is a :class:`~minicommerce.errors.ConfigurationError` that
names the extra to install, never an import traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from minicommerce.errors import ConfigurationError

if TYPE_CHECKING:
    import redis


def _missing(driver: str, extra: str, needed_for: str) -> ConfigurationError:
    return ConfigurationError(
        f"{needed_for} needs the {driver} package, which is not installed: "
        f"pip install 'minicommerce[{extra}]' (or 'minicommerce[server]' for the server)."
    )


def require_psycopg() -> None:
    """Raise :class:`ConfigurationError` unless psycopg 3 can be imported."""
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise _missing("psycopg", "postgres", "A PostgreSQL database URL") from exc


def require_redis() -> None:
    """Raise :class:`ConfigurationError` unless the redis client can be imported."""
    try:
        import redis  # noqa: F401
    except ImportError as exc:
        raise _missing("redis", "redis", "A Redis URL") from exc


def open_redis(url: str, timeout: float = 2.0) -> redis.Redis:
    """A Redis client for ``url`` (``redis://host:port/db``), with short timeouts (seconds)
    so that a Redis that does not answer fails a request quickly instead of holding it."""
    try:
        from redis import Redis
    except ImportError as exc:
        raise _missing("redis", "redis", "A Redis URL") from exc
    return Redis.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=timeout, health_check_interval=30
    )
