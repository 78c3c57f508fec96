"""The facade a script holds: one shop on one database, its services as attributes."""

from __future__ import annotations

import secrets
from types import TracebackType
from typing import Self, TypedDict, Unpack

import sqlalchemy as sa

from minicommerce.accounts.auth import AuthService, LoginThrottle
from minicommerce.accounts.passwords import Argon2Parameters, PasswordHasher
from minicommerce.accounts.service import AccountService
from minicommerce.accounts.tokens import AccessTokenCodec
from minicommerce.carts.service import CartService
from minicommerce.catalog.service import CatalogService, ImageLimits
from minicommerce.clock import Clock, utcnow
from minicommerce.errors import ConfigurationError
from minicommerce.media import DirectoryMediaStorage, MediaStorage, UnconfiguredMediaStorage
from minicommerce.orders.service import OrderService
from minicommerce.settings import Settings, default_media_dir
from minicommerce.storage.engine import Database, open_database
from minicommerce.storage.migrate import current_revision, head_revision, upgrade
from minicommerce.storage.unit_of_work import SqlUnitOfWorkFactory


class ShopOptions(TypedDict, total=False):
    """Keyword options of :class:`Shop` (and of :meth:`Shop.open`)."""

    secret_key: str | None
    currency: str
    access_token_ttl: int
    refresh_token_ttl: int
    issuer: str
    audience: str
    argon2: Argon2Parameters | None
    throttle: LoginThrottle | None
    clock: Clock
    media: MediaStorage | None
    image_limits: ImageLimits | None
    low_stock_threshold: int


class Shop:
    """A shop: ``catalog``, ``carts``, ``accounts`` and ``auth`` over one database.

    Open one with :meth:`open` (a URL) or :meth:`from_settings`, use it as a context
    manager or call :meth:`close`. Services are thread-safe; share one shop per process.
    """

    def __init__(
        self,
        database: Database,
        *,
        secret_key: str | None = None,
        currency: str = "USD",
        access_token_ttl: int = 900,
        refresh_token_ttl: int = 1_209_600,
        issuer: str = "minicommerce",
        audience: str = "minicommerce-api",
        argon2: Argon2Parameters | None = None,
        throttle: LoginThrottle | None = None,
        clock: Clock = utcnow,
        media: MediaStorage | None = None,
        image_limits: ImageLimits | None = None,
        low_stock_threshold: int = 5,
    ) -> None:
        self.database = database
        self.currency = currency
        self.media: MediaStorage = media or UnconfiguredMediaStorage()
        uow = SqlUnitOfWorkFactory(database, currency)
        hasher = PasswordHasher(argon2)
        tokens = AccessTokenCodec(
            secret_key or secrets.token_hex(32),
            ttl=access_token_ttl,
            issuer=issuer,
            audience=audience,
        )
        self.catalog = CatalogService(uow, clock, media=self.media, image_limits=image_limits)
        self.carts = CartService(uow, currency, clock)
        self.orders = OrderService(uow, currency, clock, low_stock_threshold=low_stock_threshold)
        self.accounts = AccountService(uow, hasher, clock)
        self.auth = AuthService(
            uow, hasher, tokens, refresh_ttl=refresh_token_ttl, throttle=throttle, clock=clock
        )

    @classmethod
    def open(
        cls,
        url: str = "sqlite:///minicommerce.db",
        *,
        migrate: bool = True,
        pool_size: int = 10,
        **options: Unpack[ShopOptions],
    ) -> Self:
        """Open the shop at ``url`` (``sqlite:///path`` or ``postgresql://...``).

        With ``migrate`` (the default) the schema is brought up to date first: safe to run
        at every start, from several processes at once. Without it, an out-of-date schema
        raises :class:`~minicommerce.errors.ConfigurationError`. Without ``secret_key``,
        access tokens are signed with a random secret that lives as long as the shop.
        Without ``media``, product images go to ``media`` beside a SQLite database file;
        elsewhere uploads raise :class:`~minicommerce.errors.MediaNotConfigured`.
        """
        if options.get("media") is None:
            directory = default_media_dir(url)
            if directory is not None:
                options["media"] = DirectoryMediaStorage(directory)
        database = open_database(url, pool_size=pool_size)
        try:
            if migrate:
                upgrade(database)
            elif current_revision(database) != head_revision():
                raise ConfigurationError(
                    "The database schema is not up to date: run `minicommerce db upgrade`."
                )
            return cls(database, **options)
        except BaseException:
            database.dispose()
            raise

    @classmethod
    def from_settings(cls, settings: Settings | None = None, *, migrate: bool = True) -> Self:
        """Open the shop that ``MINICOMMERCE_*`` settings describe."""
        settings = settings or Settings()
        return cls.open(
            settings.database_url,
            migrate=migrate,
            pool_size=settings.db_pool_size,
            secret_key=settings.resolve_secret(),
            currency=settings.currency,
            access_token_ttl=settings.access_token_ttl,
            refresh_token_ttl=settings.refresh_token_ttl,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            argon2=Argon2Parameters(
                time_cost=settings.argon2_time_cost,
                memory_cost=settings.argon2_memory_cost,
                parallelism=settings.argon2_parallelism,
            ),
            throttle=LoginThrottle(settings.login_max_failures, settings.login_failure_window),
            media=_media(settings),
            image_limits=ImageLimits(settings.media_max_bytes, settings.media_max_pixels),
            low_stock_threshold=settings.low_stock_threshold,
        )

    def migrate(self) -> None:
        """Bring the schema up to date (idempotent)."""
        upgrade(self.database)

    def ping(self) -> None:
        """Raise if the database does not answer."""
        with self.database.reader.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def close(self) -> None:
        self.database.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _media(settings: Settings) -> MediaStorage:
    directory = settings.resolve_media_dir()
    if directory is None:
        return UnconfiguredMediaStorage(settings.media_url)
    return DirectoryMediaStorage(directory, settings.media_url)
