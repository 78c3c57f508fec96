"""Ids are positive 64-bit integers; anything else names nothing."""

from __future__ import annotations

MAX_ID = 2**63 - 1


def is_valid_id(value: int) -> bool:
    """Whether ``value`` could be the id of a stored row (others are simply not found)."""
    return 0 < value <= MAX_ID
