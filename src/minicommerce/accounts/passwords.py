"""Password hashing with argon2id (argon2-cffi)."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from functools import cached_property

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


@dataclass(frozen=True, slots=True)
class Argon2Parameters:
    """argon2id cost parameters. The defaults are RFC 9106's second recommendation
    (the "low memory" profile): t=3, 64 MiB, 4 lanes."""

    time_cost: int = 3
    memory_cost: int = 65536  # KiB
    parallelism: int = 4
    #: How many hashes may run at once (each holds ``memory_cost`` while it runs);
    #: ``None``: one per CPU core available to the process.
    max_concurrent: int | None = None


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class PasswordHasher:
    """Hashes and checks passwords; knows when a stored hash is due for a rehash.

    At most ``max_concurrent`` hashes run at once; the others wait their turn. A hash is
    CPU-bound and holds its memory (64 MiB by default) while it runs: more of them at once
    than there are cores finish no sooner, only use more memory, and a burst of logins
    could exhaust it.
    """

    def __init__(self, params: Argon2Parameters | None = None) -> None:
        self.params = params or Argon2Parameters()
        self.max_concurrent = self.params.max_concurrent or available_cores()
        if self.max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        self._slots = threading.BoundedSemaphore(self.max_concurrent)
        self._hasher = argon2.PasswordHasher(
            time_cost=self.params.time_cost,
            memory_cost=self.params.memory_cost,
            parallelism=self.params.parallelism,
            type=argon2.Type.ID,
        )

    def hash(self, password: str) -> str:
        with self._slots:
            return self._compute(password)

    def verify(self, password_hash: str, password: str) -> bool:
        with self._slots:
            return self._check(password_hash, password)

    def _compute(self, password: str) -> str:
        """The argon2 work of :meth:`hash` (runs holding a slot)."""
        return self._hasher.hash(password)

    def _check(self, password_hash: str, password: str) -> bool:
        """The argon2 work of :meth:`verify` (runs holding a slot)."""
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

    def waste_time(self, password: str) -> None:
        """Verify against a throwaway hash so that an unknown email costs what a wrong
        password costs: the answer's timing must not reveal which accounts exist."""
        self.verify(self._dummy_hash, password)

    @cached_property
    def _dummy_hash(self) -> str:
        return self.hash("not a real password; equalises timing")
