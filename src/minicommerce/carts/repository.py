"""What carts need from storage."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from minicommerce.carts.models import StoredLine


class CartRepository(Protocol):
    """A cart's lines. :meth:`put` and :meth:`take_out` are each one write with the lines
    after it: on PostgreSQL one statement, which commits by itself when it is the unit of
    work's first (``storage/autocommit.py``)."""

    def lines(self, user_id: int) -> list[StoredLine]:
        """The user's lines whose products are live, oldest first."""
        ...

    def put(
        self, user_id: int, product_id: int, quantity: int, now: datetime, max_lines: int
    ) -> list[StoredLine] | None:
        """Set the line's quantity, adding the line unless the cart already holds
        ``max_lines`` live products: then nothing is written and the answer is ``None``.
        Otherwise the user's lines after (as :meth:`lines`)."""
        ...

    def take_out(self, user_id: int, product_id: int) -> list[StoredLine]:
        """Remove the line if it is there; the user's lines after (as :meth:`lines`)."""
        ...

    def clear(self, user_id: int) -> None: ...
