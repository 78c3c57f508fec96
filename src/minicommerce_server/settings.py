"""The server's settings: the shop's, plus what only an HTTP server has (rate limits, CORS,
proxies, log level). Same ``MINICOMMERCE_`` variables and ``.env`` as the core's."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator

from minicommerce.ratelimit import Rate
from minicommerce.settings import Settings


def _rate(value: Any) -> Rate | None:
    if value is None or isinstance(value, Rate):
        return value
    return Rate.parse(str(value))


RateSetting = Annotated[Rate | None, BeforeValidator(_rate)]


class ServerSettings(Settings):
    """:class:`~minicommerce.Settings` and the settings of the HTTP server."""

    rate_limit_anon: RateSetting = Rate(100, 60)
    rate_limit_user: RateSetting = Rate(1000, 60)
    cors_origins: str = ""
    trust_forwarded_for: bool = False
    log_level: str = "INFO"

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]
