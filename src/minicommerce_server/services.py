"""What the app holds for its lifetime besides the shop: Redis and the rate limiter."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from minicommerce.drivers import open_redis
from minicommerce_server.ratelimit import (
    AsyncRateLimiter,
    AsyncRedisRateLimiter,
    InProcessRateLimiter,
    SharedRateLimiter,
)

if TYPE_CHECKING:
    from redis import Redis

DEFAULT_REDIS_TIMEOUT_S = 0.05


class Backends:
    """Optional Redis (shared rate limits across processes) and the rate limiter in use.

    The limiter is awaited on the event loop (on its pipelined connection); the synchronous
    client only answers the readiness check, which runs in a worker thread.
    """

    def __init__(
        self,
        redis_client: Redis | None,
        limiter: AsyncRateLimiter,
        redis_limiter: AsyncRedisRateLimiter | None = None,
    ) -> None:
        self.redis = redis_client
        self.limiter = limiter
        self._redis_limiter = redis_limiter

    @classmethod
    def connect(
        cls,
        redis_url: str | None,
        *,
        timeout: float = DEFAULT_REDIS_TIMEOUT_S,
        on_degraded: Callable[[], None] = lambda: None,
    ) -> Backends:
        if redis_url is None:
            return cls(None, InProcessRateLimiter())
        client = open_redis(redis_url)
        redis_limiter = AsyncRedisRateLimiter(redis_url, timeout=timeout)
        return cls(client, SharedRateLimiter(redis_limiter, on_degraded=on_degraded), redis_limiter)

    def redis_answers(self) -> bool | None:
        """``None`` without Redis; else whether it answers a PING."""
        if self.redis is None:
            return None
        try:
            return bool(self.redis.ping())
        except Exception:  # any failure means it does not answer
            return False

    async def aclose(self) -> None:
        if self._redis_limiter is not None:
            await self._redis_limiter.aclose()
        if self.redis is not None:
            self.redis.close()
