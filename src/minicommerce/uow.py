"""The unit of work: one transaction and the repositories that share it."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self

if TYPE_CHECKING:
    from minicommerce.accounts.repository import (
        LoginFailureRepository,
        RefreshTokenRepository,
        SessionRepository,
        UserRepository,
    )
    from minicommerce.carts.repository import CartRepository
    from minicommerce.catalog.repository import ProductImageRepository, ProductRepository
    from minicommerce.orders.repository import OrderRepository


class UnitOfWork(Protocol):
    """A transaction. Leaving the ``with`` block without :meth:`commit` rolls it back.

    Where it differs, on PostgreSQL: a statement sent while nothing else has been commits
    by itself (``storage/autocommit.py``), to save ``BEGIN`` and ``COMMIT`` their round
    trips. That is exact for a read, and the repositories whose writes go so say it
    (placement's ``add``, a cart's ``put`` and ``take_out``): each is the whole write of
    its unit of work, in one statement."""

    @property
    def products(self) -> ProductRepository: ...

    @property
    def product_images(self) -> ProductImageRepository: ...

    @property
    def users(self) -> UserRepository: ...

    @property
    def refresh_tokens(self) -> RefreshTokenRepository: ...

    @property
    def sessions(self) -> SessionRepository: ...

    @property
    def login_failures(self) -> LoginFailureRepository: ...

    @property
    def carts(self) -> CartRepository: ...

    @property
    def orders(self) -> OrderRepository: ...

    def commit(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class UnitOfWorkFactory(Protocol):
    """Opens units of work. ``write=False`` promises that nothing will be written, which lets
    the storage use a cheaper read path (autocommit).

    ``may_lag=True`` (reads only) says that the read may see the data as it was a moment
    ago (up to the storage's replica lag bound), which lets the storage use a read replica,
    except for the writes of ``user_id``: a read for a user sees every write made for that
    user (``write=True`` with ``user_id``), whichever process made it. Without ``may_lag`` a
    read sees everything committed."""

    def __call__(
        self, *, write: bool, may_lag: bool = False, user_id: int | None = None
    ) -> UnitOfWork: ...
