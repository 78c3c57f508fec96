"""What carts need from storage."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from minicommerce.carts.models import StoredLine


class CartRepository(Protocol):
    def lines(self, user_id: int) -> list[StoredLine]:
        """The user's lines whose products are live, oldest first."""
        ...

    def set(self, user_id: int, product_id: int, quantity: int, now: datetime) -> None: ...

    def remove(self, user_id: int, product_id: int) -> None: ...

    def clear(self, user_id: int) -> None: ...
