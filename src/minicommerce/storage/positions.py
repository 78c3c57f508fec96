"""Where each user's last write left the primary's WAL: what a replica must have replayed
before it may answer that user's reads (read-your-writes across instances).

A position is kept ``ttl`` seconds: the replica lag bound and a margin. After that any
replica the shop still uses has replayed it (a replica is used only while it lags at most
the bound), so forgetting it changes nothing. In process by default; in Redis, shared by
every worker and instance, when the shop has a Redis URL.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Protocol

from minicommerce.storage.replicas import UNREACHABLE

if TYPE_CHECKING:
    import redis

log = logging.getLogger("minicommerce.storage.positions")

MAX_LOCAL = 100_000
REDIS_TIMEOUT_S = 0.1
REDIS_PAUSE_S = 1.0
"""After a Redis failure, reads go to the primary this long without asking Redis again."""

# Keep the larger position: two instances may record one user's writes out of order.
_REMEMBER = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local new = tonumber(ARGV[1])
if new > current then current = new end
redis.call('SET', KEYS[1], string.format('%.0f', current), 'PX', ARGV[2])
return 1
"""


class WritePositions(Protocol):
    def remember(self, user_id: int, lsn: int) -> None: ...

    def position(self, user_id: int) -> int:
        """The position a replica must have replayed for this user (0: any will do;
        :data:`~minicommerce.storage.replicas.UNREACHABLE`: only the primary)."""
        ...

    def close(self) -> None: ...


class LocalPositions:
    """Positions in this process: read-your-writes for requests this process serves."""

    def __init__(self, ttl: float, max_size: int = MAX_LOCAL) -> None:
        self._ttl = ttl
        self._max = max_size
        self._lock = threading.Lock()
        self._entries: OrderedDict[int, tuple[int, float]] = OrderedDict()

    def remember(self, user_id: int, lsn: int) -> None:
        expires = time.monotonic() + self._ttl
        with self._lock:
            old = self._entries.pop(user_id, None)
            self._entries[user_id] = (max(lsn, old[0]) if old else lsn, expires)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def position(self, user_id: int) -> int:
        entry = self._entries.get(user_id)
        if entry is None or entry[1] < time.monotonic():
            return 0
        return entry[0]

    def close(self) -> None:
        self._entries.clear()


class RedisPositions:
    """Positions in Redis, so that a write through one instance is seen by the user's next
    read through any other. One round trip per write and per read that needs it, bounded by
    a short timeout; while Redis fails, those reads go to the primary (never a stale read,
    never an error) and Redis is asked again after a pause."""

    def __init__(self, client: redis.Redis, ttl: float, prefix: str = "minicommerce:wal:") -> None:
        self._client = client
        self._ttl_ms = max(1, round(ttl * 1000))
        self._prefix = prefix
        self._script = client.register_script(_REMEMBER)
        self._paused_until = 0.0

    @classmethod
    def from_url(cls, url: str, ttl: float) -> RedisPositions:
        from minicommerce.drivers import open_redis

        client = open_redis(url, timeout=REDIS_TIMEOUT_S)
        return cls(client, ttl)

    def remember(self, user_id: int, lsn: int) -> None:
        if time.monotonic() < self._paused_until:
            return  # this user's reads go to the primary meanwhile: nothing to keep
        try:
            self._script(keys=[f"{self._prefix}{user_id}"], args=[lsn, self._ttl_ms])
        except Exception as exc:  # any Redis failure: the primary answers instead
            self._pause(exc)

    def position(self, user_id: int) -> int:
        if time.monotonic() < self._paused_until:
            return UNREACHABLE
        try:
            value = self._client.get(f"{self._prefix}{user_id}")
        except Exception as exc:  # any Redis failure: the primary answers instead
            self._pause(exc)
            return UNREACHABLE
        return int(value) if value is not None else 0

    def _pause(self, exc: BaseException) -> None:
        if time.monotonic() >= self._paused_until:
            log.warning("Redis failed (%s): users' reads go to the primary", exc)
        # Reads during and for a while after the outage use the primary: a write whose
        # position could not be kept must not be followed by a read on a stale replica.
        self._paused_until = time.monotonic() + max(REDIS_PAUSE_S, self._ttl_ms / 1000)

    def close(self) -> None:
        self._client.close()
