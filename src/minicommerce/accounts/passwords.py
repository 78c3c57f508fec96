"""Password hashing with argon2id (argon2-cffi)."""

from __future__ import annotations

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


class PasswordHasher:
    """Hashes and checks passwords; knows when a stored hash is due for a rehash."""

    def __init__(self, params: Argon2Parameters | None = None) -> None:
        self.params = params or Argon2Parameters()
        self._hasher = argon2.PasswordHasher(
            time_cost=self.params.time_cost,
            memory_cost=self.params.memory_cost,
            parallelism=self.params.parallelism,
            type=argon2.Type.ID,
        )

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
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
        return self._hasher.hash("not a real password; equalises timing")
