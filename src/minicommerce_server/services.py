"""What the app holds for its lifetime besides the shop: Redis and the rate limiter."""

from __future__ import annotations

from typing import TYPE_CHECKING

from minicommerce.drivers import open_redis
from minicommerce.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter

if TYPE_CHECKING:
    from redis import Redis


class Backends:
    """Optional Redis (shared rate limits across processes) and the rate limiter in use."""

    def __init__(self, redis_client: Redis | None, limiter: RateLimiter) -> None:
        self.redis = redis_client
        self.limiter = limiter

    @classmethod
    def connect(cls, redis_url: str | None) -> Backends:
        if redis_url is None:
            return cls(None, MemoryRateLimiter())
        client = open_redis(redis_url)
        return cls(client, RedisRateLimiter(client))

    def redis_answers(self) -> bool | None:
        """``None`` without Redis; else whether it answers a PING."""
        if self.redis is None:
            return None
        try:
            return bool(self.redis.ping())
        except Exception:  # any failure means it does not answer
            return False

    def close(self) -> None:
        if self.redis is not None:
            self.redis.close()
