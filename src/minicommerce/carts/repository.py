"""What carts need from storage."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from minicommerce.accounts.models import SessionCheck, SignedOut
from minicommerce.carts.models import StoredLine


class CartRepository(Protocol):
    """A cart's lines. :meth:`put` and :meth:`take_out` are each one write with the lines
    after it: on PostgreSQL one statement, which commits by itself when it is the unit of
    work's first (``storage/autocommit.py``).

    Where storage ``checks_session``, :meth:`lines` and :meth:`put` take the caller's
    session and check it in the same statement (``accounts.auth.signed_in``'s rule),
    answering :class:`SignedOut`, having read or written nothing, when it is not live.
    Elsewhere the service checks it first, and ``session`` must not be given."""

    checks_session: bool

    def lines(
        self, user_id: int, *, session: SessionCheck | None = None
    ) -> list[StoredLine] | SignedOut:
        """The user's lines whose products are live, oldest first."""
        ...

    def put(
        self,
        user_id: int,
        product_id: int,
        quantity: int,
        now: datetime,
        max_lines: int,
        *,
        session: SessionCheck | None = None,
    ) -> list[StoredLine] | SignedOut | None:
        """Set the line's quantity, adding the line unless the cart already holds
        ``max_lines`` live products: then nothing is written and the answer is ``None``.
        Otherwise the user's lines after (as :meth:`lines`)."""
        ...

    def take_out(self, user_id: int, product_id: int) -> list[StoredLine]:
        """Remove the line if it is there; the user's lines after (as :meth:`lines`)."""
        ...

    def clear(self, user_id: int) -> None: ...


def refuse_session(session: SessionCheck | None) -> None:
    """What storage that does not check sessions does when handed one, which would
    otherwise go unchecked."""
    if session is not None:
        raise ValueError("this storage does not check sessions: check it first (signed_in)")
