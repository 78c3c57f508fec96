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
