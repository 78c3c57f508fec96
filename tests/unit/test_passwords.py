"""Password hashing: argon2id, and never more hashes at once than allowed."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from minicommerce import Argon2Parameters
from minicommerce.accounts.passwords import PasswordHasher, available_cores

FAST = Argon2Parameters(time_cost=1, memory_cost=1024, parallelism=1)


class WatchedHasher(PasswordHasher):
    """The real hasher, recording how many hashes run at the same moment (each is held
    long enough for every thread to pile up behind the limit)."""

    def __init__(self, params: Argon2Parameters) -> None:
        super().__init__(params)
        self._lock = threading.Lock()
        self.running = 0
        self.most = 0

    def _enter(self) -> None:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.05)

    def _leave(self) -> None:
        with self._lock:
            self.running -= 1

    def _compute(self, password: str) -> str:
        self._enter()
        try:
            return super()._compute(password)
        finally:
            self._leave()

    def _check(self, password_hash: str, password: str) -> bool:
        self._enter()
        try:
            return super()._check(password_hash, password)
        finally:
            self._leave()


@pytest.mark.parametrize("limit", [1, 3])
def test_no_more_hashes_run_at_once_than_the_limit(limit: int) -> None:
    hasher = WatchedHasher(Argon2Parameters(time_cost=1, memory_cost=1024, max_concurrent=limit))
    stored = hasher.hash("a password")
    start = threading.Barrier(12)

    def work(n: int) -> bool:
        start.wait()
        if n % 3 == 0:
            return hasher.hash("a password").startswith("$argon2id$")
        if n % 3 == 1:
            return hasher.verify(stored, "a password")
        hasher.waste_time("whatever")
        return True

    with ThreadPoolExecutor(12) as pool:
        assert all(pool.map(work, range(12)))
    assert hasher.most == limit  # reached, never passed
    assert hasher.running == 0


def test_the_limit_defaults_to_the_cores_available() -> None:
    assert PasswordHasher(FAST).max_concurrent == available_cores() >= 1
    assert PasswordHasher(Argon2Parameters(max_concurrent=7)).max_concurrent == 7


def test_a_slot_is_given_back_when_verification_fails() -> None:
    hasher = PasswordHasher(Argon2Parameters(time_cost=1, memory_cost=1024, max_concurrent=1))
    assert not hasher.verify("not a hash", "a password")
    assert not hasher.verify(hasher.hash("a password"), "another password")
    assert hasher.verify(hasher.hash("a password"), "a password")
