"""The Redis rate limiter: limits shared by every process that uses the same Redis."""

from __future__ import annotations

import redis

from minicommerce.ratelimit import Rate, RedisRateLimiter


def test_limits_are_shared_between_limiters(redis_url: str) -> None:
    a = RedisRateLimiter(redis.Redis.from_url(redis_url))
    b = RedisRateLimiter(redis.Redis.from_url(redis_url))
    rate = Rate(4, 60)
    results = [limiter.hit("addr:1.2.3.4", rate).allowed for limiter in (a, b, a, b, a, b)]
    assert results == [True, True, True, True, False, False]
    denied = a.hit("addr:1.2.3.4", rate)
    assert 1 <= denied.retry_after <= 60
    assert a.hit("addr:5.6.7.8", rate).allowed


def test_keys_expire(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    RedisRateLimiter(client, prefix="t:").hit("k", Rate(1, 60))
    (key,) = client.keys("t:*")
    assert 0 < client.ttl(key) <= 61


def test_the_servers_async_limiter_counts_and_expires_in_one_command(redis_url: str) -> None:
    import asyncio

    from minicommerce_server.ratelimit import AsyncRedisRateLimiter

    limiter = AsyncRedisRateLimiter(redis_url, timeout=1, prefix="a:")

    async def burst() -> list[bool]:
        try:
            return [(await limiter.hit("k", Rate(2, 60))).allowed for _ in range(3)]
        finally:
            await limiter.aclose()

    assert asyncio.run(burst()) == [True, True, False]
    client = redis.Redis.from_url(redis_url)
    (key,) = client.keys("a:*")
    assert int(client.get(key) or 0) == 3
    assert 0 < client.ttl(key) <= 61
