"""Request rate limits: a rate (``100/minute``), and limiters in process or on Redis."""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import redis

_PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_RATE = re.compile(r"\s*(\d+)\s*/\s*(second|minute|hour|day)s?\s*")


@dataclass(frozen=True, slots=True)
class Rate:
    """``limit`` requests per ``period`` seconds."""

    limit: int
    period: int

    @classmethod
    def parse(cls, text: str) -> Rate | None:
        """``"100/minute"`` -> Rate(100, 60); ``"0"`` -> None (no limit)."""
        if text.strip() == "0":
            return None
        match = _RATE.fullmatch(text)
        if not match or int(match.group(1)) == 0:
            raise ValueError(f"{text!r} is not a rate such as '100/minute' (or '0' for none)")
        return cls(int(match.group(1)), _PERIODS[match.group(2)])

    def __str__(self) -> str:
        unit = {v: k for k, v in _PERIODS.items()}.get(self.period, f"{self.period}s")
        return f"{self.limit}/{unit}"


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    remaining: int
    retry_after: int  # seconds until the window resets (0 when allowed)


class RateLimiter(Protocol):
    """Counts hits per key in fixed windows of ``rate.period`` seconds."""

    def hit(self, key: str, rate: Rate) -> Decision: ...


class MemoryRateLimiter:
    """Limits within one process. With several worker processes each counts on its own:
    configure Redis for limits that hold across workers and instances."""

    def __init__(self, clock: Callable[[], float] = time.time, max_keys: int = 100_000) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, int], tuple[int, int]] = {}  # (key, period) -> (window, n)

    def hit(self, key: str, rate: Rate) -> Decision:
        now = self._clock()
        window = int(now // rate.period)
        slot = (key, rate.period)
        with self._lock:
            seen_window, count = self._counts.get(slot, (window, 0))
            count = count + 1 if seen_window == window else 1
            if slot not in self._counts and len(self._counts) >= self._max_keys:
                self._forget_finished(now)
            self._counts[slot] = (window, count)
        return decide(count, rate, now, window)

    def _forget_finished(self, now: float) -> None:
        # A flood of distinct keys cannot grow memory without bound.
        self._counts = {
            slot: entry for slot, entry in self._counts.items() if (entry[0] + 1) * slot[1] > now
        }
        if len(self._counts) >= self._max_keys:
            self._counts.clear()


class RedisRateLimiter:
    """Limits shared by every process and instance that uses the same Redis."""

    def __init__(self, client: redis.Redis, prefix: str = "minicommerce:rl:") -> None:
        self._client = client
        self._prefix = prefix

    def hit(self, key: str, rate: Rate) -> Decision:
        now = time.time()
        window = int(now // rate.period)
        name = f"{self._prefix}{key}:{rate.period}:{window}"
        pipe = self._client.pipeline(transaction=False)
        pipe.incr(name)
        pipe.expire(name, rate.period + 1)
        count = int(pipe.execute()[0])
        return decide(count, rate, now, window)


def decide(count: int, rate: Rate, now: float, window: int) -> Decision:
    if count <= rate.limit:
        return Decision(True, rate.limit - count, 0)
    retry = math.ceil((window + 1) * rate.period - now)
    return Decision(False, 0, max(1, retry))
