"""The server's rate limiters: awaited on the event loop, and never the reason a request fails.

With Redis configured, limits are shared by every process and instance. Each Redis call is
asynchronous and bounded by ``MINICOMMERCE_REDIS_TIMEOUT`` (tens of milliseconds), so a
Redis that is down or stalls neither blocks the event loop nor holds a request for long.
When a call fails or times out, :class:`SharedRateLimiter` degrades to the documented
policy: per-process limits (the in-process limiter), one warning in the log, and every
request so decided counted in ``minicommerce_ratelimit_degraded_total``. It retries Redis
after a short back-off (a circuit breaker), so shared limits return without a restart.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import Protocol

from minicommerce.ratelimit import Decision, MemoryRateLimiter, Rate, decide
from minicommerce.redis_pipe import PipelinedRedis, RedisReplyError

log = logging.getLogger("minicommerce.server")

REDIS_RETRY_INTERVAL_S = 5.0
FAILURES_TO_DEGRADE = 3

# One command instead of a pipelined INCR and EXPIRE: atomic (no counter is ever left
# without its expiry) and a third less client CPU per request (docs/architecture.md).
_HIT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""


class AsyncRateLimiter(Protocol):
    """Counts hits per key in fixed windows of ``rate.period`` seconds."""

    async def hit(self, key: str, rate: Rate) -> Decision: ...


class InProcessRateLimiter:
    """The in-process limiter behind the async interface (no Redis configured)."""

    def __init__(self, limiter: MemoryRateLimiter | None = None) -> None:
        self._limiter = limiter or MemoryRateLimiter()

    async def hit(self, key: str, rate: Rate) -> Decision:
        return self._limiter.hit(key, rate)


class AsyncRedisRateLimiter:
    """A counter per key and window in Redis, one script call per hit on the loop's one
    pipelined connection (``minicommerce.redis_pipe``); raises ``TimeoutError``
    after ``timeout`` seconds, and any failure of Redis or the connection."""

    def __init__(self, url: str, *, timeout: float, prefix: str = "minicommerce:rl:") -> None:
        self._redis = PipelinedRedis(url, timeout=timeout)
        self._prefix = prefix
        # The script's name in Redis is its SHA-1 (not a security use).
        self._sha = hashlib.sha1(_HIT.encode(), usedforsecurity=False).hexdigest()

    async def hit(self, key: str, rate: Rate) -> Decision:
        now = time.time()
        window = int(now // rate.period)
        name = f"{self._prefix}{key}:{rate.period}:{window}"
        try:
            count = await self._redis.call("EVALSHA", self._sha, 1, name, rate.period + 1)
        except RedisReplyError as exc:
            if not exc.noscript:
                raise
            # A Redis that restarted or flushed its scripts: EVAL loads it again.
            count = await self._redis.call("EVAL", _HIT, 1, name, rate.period + 1)
        if not isinstance(count, int):
            raise RedisReplyError(f"the limit script answered {count!r}")
        return decide(count, rate, now, window)

    async def aclose(self) -> None:
        await self._redis.aclose()


class SharedRateLimiter:
    """Redis first; per-process limits while Redis fails, retried every ``retry_interval``
    seconds (one request probes it, the others keep to the fallback meanwhile).

    A request whose Redis call fails is always decided by the fallback, but it takes
    ``failures_to_degrade`` failures in a row to stop asking Redis: one slow answer on a
    busy machine is no outage, and must not switch limits for the next seconds. Calls that
    were under way together when one of them failed count as that one failure.
    """

    def __init__(
        self,
        shared: AsyncRateLimiter,
        fallback: MemoryRateLimiter | None = None,
        *,
        retry_interval: float = REDIS_RETRY_INTERVAL_S,
        failures_to_degrade: int = FAILURES_TO_DEGRADE,
        on_degraded: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._shared = shared
        self._fallback = fallback or MemoryRateLimiter()
        self._retry_interval = retry_interval
        self._failures_to_degrade = failures_to_degrade
        self._failures = 0
        self._streak = 0  # failures counted so far; a call knows which it began after
        self.on_degraded = on_degraded
        self._clock = clock
        self._retry_at = 0.0  # while in the future, Redis is not tried
        self._degraded = False
        self._probing = False

    @property
    def degraded(self) -> bool:
        return self._degraded

    async def hit(self, key: str, rate: Rate) -> Decision:
        if self._degraded:
            if self._probing or self._clock() < self._retry_at:
                return self._fall_back(key, rate)
            self._probing = True
        streak = self._streak
        try:
            decision = await self._shared.hit(key, rate)
        except Exception as exc:  # any failure of Redis, its client or the timeout
            # Calls that were under way together when one failed failed for the same
            # moment (a stall of a few tens of milliseconds fails them all at once): they
            # count once towards an outage.
            if streak == self._streak:
                self._streak += 1
                self._failed(exc)
            return self._fall_back(key, rate)
        finally:
            self._probing = False
        self._failures = 0
        if self._degraded:
            self._degraded = False
            log.warning("rate limits: Redis answers again; limits are shared again")
        return decision

    def _failed(self, exc: Exception) -> None:
        self._failures += 1
        if not self._degraded and self._failures < self._failures_to_degrade:
            return
        self._retry_at = self._clock() + self._retry_interval
        if not self._degraded:
            self._degraded = True
            log.warning(
                "rate limits: Redis failed (%s); limiting per process until it answers "
                "(retried every %g s)",
                type(exc).__name__,
                self._retry_interval,
            )

    def _fall_back(self, key: str, rate: Rate) -> Decision:
        self.on_degraded()
        return self._fallback.hit(key, rate)
