"""The breaker around the shared (Redis) limiter: degrade to per-process limits, log once,
count every degraded decision, and share again once Redis answers."""

from __future__ import annotations

import asyncio
import logging

import pytest

from minicommerce.ratelimit import Decision, MemoryRateLimiter, Rate
from minicommerce_server.ratelimit import SharedRateLimiter

RATE = Rate(2, 60)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FlakyShared:
    """A stand-in for the Redis limiter: answers, fails, or hangs until cancelled."""

    def __init__(self) -> None:
        self.mode = "up"
        self.calls = 0

    async def hit(self, key: str, rate: Rate) -> Decision:
        self.calls += 1
        if self.mode == "down":
            raise ConnectionError("refused")
        if self.mode == "stalled":
            async with asyncio.timeout(0.01):  # as the real limiter's timeout does
                await asyncio.sleep(10)
        return Decision(True, 99, 0)


def make() -> tuple[SharedRateLimiter, FlakyShared, FakeClock, list[int]]:
    shared, clock, degraded = FlakyShared(), FakeClock(), [0]

    def count() -> None:
        degraded[0] += 1

    limiter = SharedRateLimiter(
        shared, MemoryRateLimiter(), retry_interval=5, on_degraded=count, clock=clock
    )
    return limiter, shared, clock, degraded


def hits(limiter: SharedRateLimiter, n: int, key: str = "k") -> list[Decision]:
    async def run() -> list[Decision]:
        return [await limiter.hit(key, RATE) for _ in range(n)]

    return asyncio.run(run())


@pytest.mark.parametrize("failure", ["down", "stalled"])
def test_a_failing_redis_degrades_to_per_process_limits(
    failure: str, caplog: pytest.LogCaptureFixture
) -> None:
    limiter, shared, _, degraded = make()
    assert [d.remaining for d in hits(limiter, 2)] == [99, 99]
    shared.mode = failure
    with caplog.at_level(logging.WARNING, logger="minicommerce.server"):
        decisions = hits(limiter, 4)
    # Per-process limits still hold while Redis is away: 2 per minute, then refused.
    assert [d.allowed for d in decisions] == [True, True, False, False]
    assert degraded == [4]
    assert limiter.degraded
    assert shared.calls == 2 + 3, "after 3 failures, Redis waits for the back-off"
    assert len(caplog.records) == 1, "one line when degrading, not one per request"
    assert "per process" in caplog.records[0].getMessage()


def test_redis_is_retried_after_the_back_off_and_shared_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limiter, shared, clock, degraded = make()
    shared.mode = "down"
    hits(limiter, 3)
    clock.now += 4.9
    hits(limiter, 3)
    assert shared.calls == 3
    clock.now += 0.2  # the back-off is over: one probe, still failing, backs off again
    hits(limiter, 3)
    assert shared.calls == 4
    assert degraded == [9]
    shared.mode = "up"
    clock.now += 5.1
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="minicommerce.server"):
        assert [d.remaining for d in hits(limiter, 3)] == [99, 99, 99]
    assert not limiter.degraded
    assert degraded == [9]
    assert shared.calls == 7
    assert [r.getMessage() for r in caplog.records] == [
        "rate limits: Redis answers again; limits are shared again"
    ]


def test_only_one_request_probes_redis_at_a_time() -> None:
    limiter, shared, clock, degraded = make()
    shared.mode = "down"
    hits(limiter, 3)
    clock.now += 6
    shared.mode = "stalled"

    async def burst() -> list[Decision]:
        return list(await asyncio.gather(*(limiter.hit(f"k{i}", RATE) for i in range(5))))

    assert all(d.allowed for d in asyncio.run(burst()))
    assert shared.calls == 4  # three failures, then one probe for the whole burst
    assert degraded == [8]


def test_one_slow_answer_is_not_an_outage(caplog: pytest.LogCaptureFixture) -> None:
    limiter, shared, _, degraded = make()
    for _ in range(3):
        shared.mode = "stalled"
        hits(limiter, 2)  # that request is decided per process...
        shared.mode = "up"
        assert [d.remaining for d in hits(limiter, 1)] == [99]  # ...Redis is still asked
    assert degraded == [6]
    assert not limiter.degraded
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_calls_that_fail_together_count_as_one_failure() -> None:
    limiter, shared, _, degraded = make()
    shared.mode = "stalled"

    async def burst() -> list[Decision]:
        return list(await asyncio.gather(*(limiter.hit(f"k{i}", RATE) for i in range(10))))

    assert all(d.allowed for d in asyncio.run(burst()))
    assert degraded == [10]  # each decided per process...
    assert not limiter.degraded  # ...but one stall is one failure, not ten
    hits(limiter, 1)
    assert not limiter.degraded
    hits(limiter, 1)  # the third failure in a row, each begun after the one before
    assert limiter.degraded
