"""The server's settings: the shop's, plus what only an HTTP server has (rate limits, CORS,
proxies, log level). Same ``MINICOMMERCE_`` variables and ``.env`` as the core's."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, field_validator, model_validator

from minicommerce.errors import ConfigurationError
from minicommerce.ratelimit import Rate
from minicommerce.settings import Settings
from minicommerce_server.proxies import Network, parse_networks


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
    # The reverse proxies whose X-Forwarded-For is believed (see proxies.py).
    trusted_proxies: str = ""
    # Removed (it believed the left-most X-Forwarded-For entry, which the client writes):
    # read only to refuse it, so that nobody keeps relying on it unknowingly.
    trust_forwarded_for: Annotated[str | None, Field(exclude=True, repr=False)] = None
    log_level: str = "INFO"
    # Threads per process for the catalog reads the cache does not answer (offload.py).
    read_threads: Annotated[int, Field(ge=1, le=200)] = 4

    @field_validator("trusted_proxies")
    @classmethod
    def _known_networks(cls, value: str) -> str:
        parse_networks(value)
        return value

    @model_validator(mode="after")
    def _no_removed_settings(self) -> ServerSettings:
        if self.trust_forwarded_for is not None:
            raise ConfigurationError(
                "MINICOMMERCE_TRUST_FORWARDED_FOR is no longer supported: it believed the "
                "first X-Forwarded-For address, which any client can write. Remove it and set "
                "MINICOMMERCE_TRUSTED_PROXIES to the addresses or CIDR blocks of your reverse "
                "proxies (e.g. 10.0.0.0/8,::1)."
            )
        return self

    @property
    def trusted_proxy_networks(self) -> tuple[Network, ...]:
        return parse_networks(self.trusted_proxies)

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]
