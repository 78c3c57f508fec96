"""What the app holds for its lifetime besides the shop: Redis and the rate limiter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from minicommerce.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter

if TYPE_CHECKING:
    import redis


@dataclass(frozen=True, slots=True)
class Backends:
    redis: redis.Redis | None
    limiter: RateLimiter

    @classmethod
    def connect(cls, redis_url: str | None) -> Backends:
        if redis_url is None:
            return cls(redis=None, limiter=MemoryRateLimiter())
        try:
            import redis as redis_lib
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "MINICOMMERCE_REDIS_URL is set but redis is not installed: "
                "pip install 'minicommerce[redis]'"
            ) from exc
        client = redis_lib.Redis.from_url(
            redis_url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30
        )
        return cls(redis=client, limiter=RedisRateLimiter(client))

    def close(self) -> None:
        if self.redis is not None:
            self.redis.close()
