from __future__ import annotations

import pytest

from minicommerce.ratelimit import MemoryRateLimiter, Rate


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("100/minute", Rate(100, 60)),
        ("5/second", Rate(5, 1)),
        ("10 / hours", Rate(10, 3600)),
        ("0", None),
    ],
)
def test_parse(text: str, rate: Rate | None) -> None:
    assert Rate.parse(text) == rate


@pytest.mark.parametrize("text", ["", "abc", "10/fortnight", "-1/minute", "0/minute"])
def test_parse_errors(text: str) -> None:
    with pytest.raises(ValueError, match="rate"):
        Rate.parse(text)


def test_memory_limiter_counts_per_key_and_window() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock)
    rate = Rate(3, 60)
    assert [limiter.hit("a", rate).allowed for _ in range(4)] == [True, True, True, False]
    assert limiter.hit("b", rate).allowed
    denied = limiter.hit("a", rate)
    assert denied.retry_after == 60 - int(clock.now % 60) or denied.retry_after >= 1
    clock.now += 60
    assert limiter.hit("a", rate).allowed


def test_memory_limiter_is_bounded() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock, max_keys=10)
    for i in range(100):
        limiter.hit(f"k{i}", Rate(1, 60))
    assert len(limiter._counts) <= 10
