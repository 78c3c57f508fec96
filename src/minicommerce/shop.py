"""The facade a script holds: one shop on one database, its services as attributes."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Self, TypedDict, Unpack

import sqlalchemy as sa
from sqlalchemy.pool import QueuePool

from minicommerce.accounts.auth import AuthService, LoginThrottle
from minicommerce.accounts.passwords import Argon2Parameters, PasswordHasher
from minicommerce.accounts.service import AccountService
from minicommerce.accounts.tokens import AccessTokenCodec
from minicommerce.carts.service import CartService
from minicommerce.catalog.cache import CatalogCache, NoCatalogCache, open_catalog_cache
from minicommerce.catalog.service import CatalogService, ImageLimits
from minicommerce.clock import Clock, utcnow
from minicommerce.errors import ConfigurationError
from minicommerce.media import DirectoryMediaStorage, MediaStorage, UnconfiguredMediaStorage
from minicommerce.orders.repository import AsyncOrderWriter
from minicommerce.orders.rowcache import ROW_CACHE_SIZE
from minicommerce.orders.service import DEFAULT_KEY_TTL, DEFAULT_PLACEMENT_CONCURRENCY, OrderService
from minicommerce.settings import Settings, default_media_dir
from minicommerce.storage.availability import database_unavailable, is_unavailable
from minicommerce.storage.engine import Database, Timeouts, check_session, open_database
from minicommerce.storage.migrate import current_revision, head_revision, upgrade
from minicommerce.storage.positions import RedisPositions, WritePositions
from minicommerce.storage.unit_of_work import SqlUnitOfWorkFactory, position_ttl
from minicommerce.uow import UnitOfWorkFactory


class ShopOptions(TypedDict, total=False):
    """Keyword options of :class:`Shop` (and of :meth:`Shop.open`)."""

    secret_key: str | None
    currency: str
    access_token_ttl: int
    refresh_token_ttl: int
    session_max_age: int
    issuer: str
    audience: str
    argon2: Argon2Parameters | None
    throttle: LoginThrottle | None
    clock: Clock
    idempotency_key_ttl: int
    idempotency_purge_every: int
    media: MediaStorage | None
    image_limits: ImageLimits | None
    low_stock_threshold: int
    order_row_cache: int
    placement_concurrency: int | None
    catalog_cache: CatalogCache | None


class Shop:
    """A shop: ``catalog``, ``carts``, ``orders``, ``accounts`` and ``auth`` over one store.

    Open one on a database with :meth:`open` (a URL) or :meth:`from_settings`, use it as a
    context manager or call :meth:`close`. Services are thread-safe; share one shop per
    process. ``Shop(uow=...)`` builds one over any unit of work (``minicommerce.uow``),
    such as an in-memory fake in tests; ``database`` is then the SQL database if any.

    ``catalog_cache`` (``minicommerce.catalog.cache``) serves product reads; the shop's
    writes keep it current, and the shop closes it. None by default; :meth:`from_settings`
    makes the one the settings describe (in process, or shared through Redis).

    ``async_orders`` (``orders.repository.AsyncOrderWriter``) lets
    ``orders.place_async`` place the common order on an event loop without a thread;
    :meth:`over` (and so :meth:`open`) gives a PostgreSQL shop one. The shop closes it.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        database: Database | None = None,
        secret_key: str | None = None,
        currency: str = "USD",
        access_token_ttl: int = 900,
        refresh_token_ttl: int = 1_209_600,
        session_max_age: int = 2_592_000,
        issuer: str = "minicommerce",
        audience: str = "minicommerce-api",
        argon2: Argon2Parameters | None = None,
        throttle: LoginThrottle | None = None,
        clock: Clock = utcnow,
        idempotency_key_ttl: int = DEFAULT_KEY_TTL,
        idempotency_purge_every: int = 1000,
        media: MediaStorage | None = None,
        image_limits: ImageLimits | None = None,
        low_stock_threshold: int = 5,
        order_row_cache: int = ROW_CACHE_SIZE,
        placement_concurrency: int | None = DEFAULT_PLACEMENT_CONCURRENCY,
        catalog_cache: CatalogCache | None = None,
        async_orders: AsyncOrderWriter | None = None,
    ) -> None:
        self._database = database
        self._positions: WritePositions | None = None
        self.catalog_cache: CatalogCache = catalog_cache or NoCatalogCache()
        self.currency = currency
        self.media: MediaStorage = media or UnconfiguredMediaStorage()
        hasher = PasswordHasher(argon2)
        tokens = AccessTokenCodec(
            secret_key or secrets.token_hex(32),
            ttl=access_token_ttl,
            issuer=issuer,
            audience=audience,
            clock=clock,
        )
        self.catalog = CatalogService(
            uow, clock, media=self.media, image_limits=image_limits, cache=self.catalog_cache
        )
        self.carts = CartService(uow, currency, clock)
        self.orders = OrderService(
            uow,
            currency,
            clock,
            key_ttl=idempotency_key_ttl,
            purge_every=idempotency_purge_every,
            low_stock_threshold=low_stock_threshold,
            row_cache=order_row_cache,
            catalog_cache=self.catalog_cache,
            placement_concurrency=placement_concurrency,
            async_writer=async_orders,
        )
        self.accounts = AccountService(uow, hasher, clock)
        self.auth = AuthService(
            uow,
            hasher,
            tokens,
            refresh_ttl=refresh_token_ttl,
            session_max_age=session_max_age,
            throttle=throttle,
            clock=clock,
        )

    @property
    def database(self) -> Database:
        """The SQL database under the shop."""
        if self._database is None:
            raise ConfigurationError("this shop has no SQL database (made with Shop(uow=...))")
        return self._database

    @classmethod
    def over(
        cls,
        database: Database,
        *,
        positions: WritePositions | None = None,
        **options: Unpack[ShopOptions],
    ) -> Self:
        """A shop on an open :class:`~minicommerce.storage.engine.Database` (its schema up
        to date); the shop disposes of it when closed. ``positions`` keeps where users'
        writes left the primary, for read replicas (in process when ``None``); the shop
        closes it too."""
        currency = options.get("currency", "USD")
        uow = SqlUnitOfWorkFactory(database, currency, positions)
        writer = None
        if database.backend == "postgresql":
            from minicommerce.storage.async_orders import AsyncPgOrderWriter

            # Placement from an event loop (OrderService.place_async) without a thread.
            bound = options.get("placement_concurrency", DEFAULT_PLACEMENT_CONCURRENCY)
            pool = database.writer.pool
            if bound is not None:
                size = bound
            else:  # no bound on placements: as many as the writer's pooled connections
                size = pool.size() if isinstance(pool, QueuePool) else DEFAULT_PLACEMENT_CONCURRENCY
            writer = AsyncPgOrderWriter(database, size=size, positions=uow.positions)
        shop = cls(uow=uow, database=database, async_orders=writer, **options)
        shop._positions = positions
        return shop

    @classmethod
    def open(
        cls,
        url: str = "sqlite:///minicommerce.db",
        *,
        migrate: bool = True,
        pool_size: int = 20,
        timeouts: Timeouts | None = None,
        sqlite_synchronous: str = "full",
        pgbouncer: bool = False,
        replica_urls: Sequence[str] = (),
        replica_max_lag: float = 5.0,
        replica_probe_interval: float = 0.5,
        positions: WritePositions | None = None,
        **options: Unpack[ShopOptions],
    ) -> Self:
        """Open the shop at ``url`` (``sqlite:///path`` or ``postgresql://...``).

        With ``migrate`` (the default) the schema is brought up to date first: safe to run
        at every start, from several processes at once. Without it, an out-of-date schema
        raises :class:`~minicommerce.errors.ConfigurationError`. Without ``secret_key``,
        access tokens are signed with a random secret that lives as long as the shop.
        ``timeouts`` bound every wait on the database (see
        :class:`~minicommerce.storage.engine.Timeouts`); ``sqlite_synchronous="normal"``
        trades the durability of the last commits on power loss for faster SQLite writes.
        Without ``media``, product images go to ``media`` beside a SQLite database file;
        elsewhere uploads raise :class:`~minicommerce.errors.MediaNotConfigured`.

        PostgreSQL only: ``pgbouncer=True`` when ``url`` goes through PgBouncer in
        transaction mode (see ``docs/deploy-database.md``); ``replica_urls``: streaming
        replicas for the catalog and order-history reads, skipped when down or more than
        ``replica_max_lag`` seconds behind (probed every ``replica_probe_interval``).
        """
        if options.get("media") is None:
            directory = default_media_dir(url)
            if directory is not None:
                options["media"] = DirectoryMediaStorage(directory)
        database = open_database(
            url,
            pool_size=pool_size,
            timeouts=timeouts,
            sqlite_synchronous=sqlite_synchronous,
            pgbouncer=pgbouncer,
            replica_urls=replica_urls,
            replica_max_lag=replica_max_lag,
            replica_probe_interval=replica_probe_interval,
        )
        try:
            check_session(database)
            if migrate:
                upgrade(database)
            elif current_revision(database) != head_revision():
                raise ConfigurationError(
                    "The database schema is not up to date: run `minicommerce db upgrade`."
                )
            return cls.over(database, positions=positions, **options)
        except BaseException:
            database.dispose()
            raise

    @classmethod
    def from_settings(
        cls,
        settings: Settings | None = None,
        *,
        migrate: bool = True,
        on_cache_error: Callable[[], None] = lambda: None,
    ) -> Self:
        """Open the shop that ``MINICOMMERCE_*`` settings describe (``on_cache_error`` is
        called for each Redis call of the catalog cache that fails)."""
        settings = settings or Settings()
        cache = open_catalog_cache(
            settings.redis_url,
            settings.catalog_cache_ttl,
            timeout=settings.redis_timeout,
            on_error=on_cache_error,
        )
        try:
            return cls._from_settings(settings, migrate, cache)
        except BaseException:
            cache.close()
            raise

    @classmethod
    def _from_settings(cls, settings: Settings, migrate: bool, cache: CatalogCache) -> Self:
        return cls.open(
            settings.database_url,
            migrate=migrate,
            pool_size=settings.db_pool_size,
            timeouts=settings.database_timeouts,
            sqlite_synchronous=settings.sqlite_synchronous,
            pgbouncer=settings.database_pgbouncer,
            replica_urls=settings.replica_urls,
            replica_max_lag=settings.replica_max_lag,
            replica_probe_interval=settings.replica_probe_interval,
            positions=_positions(settings),
            secret_key=settings.resolve_secret(),
            currency=settings.currency,
            access_token_ttl=settings.access_token_ttl,
            refresh_token_ttl=settings.refresh_token_ttl,
            session_max_age=settings.session_max_age,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            argon2=Argon2Parameters(
                time_cost=settings.argon2_time_cost,
                memory_cost=settings.argon2_memory_cost,
                parallelism=settings.argon2_parallelism,
                max_concurrent=settings.argon2_max_concurrent,
            ),
            throttle=LoginThrottle(settings.login_max_failures, settings.login_failure_window),
            idempotency_key_ttl=settings.idempotency_key_ttl,
            media=_media(settings),
            image_limits=ImageLimits(settings.media_max_bytes, settings.media_max_pixels),
            low_stock_threshold=settings.low_stock_threshold,
            placement_concurrency=settings.placement_concurrency,
            catalog_cache=cache,
        )

    def migrate(self) -> None:
        """Bring the schema up to date (idempotent); nothing to do without a database."""
        if self._database is not None:
            upgrade(self._database)

    def ping(self) -> None:
        """Raise :class:`~minicommerce.errors.ServiceUnavailable` if the database does not
        answer (within the configured timeouts); nothing to check without a database."""
        if self._database is None:
            return
        try:
            with self._database.reader.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except Exception as exc:
            if is_unavailable(exc):
                raise database_unavailable() from exc
            raise

    def close(self) -> None:
        self.orders.close()
        self.catalog_cache.close()
        if self._database is not None:
            self._database.dispose()
        if self._positions is not None:
            self._positions.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _positions(settings: Settings) -> WritePositions | None:
    """Users' write positions in Redis when there are replicas and Redis: read-your-writes
    then holds across instances; in process otherwise."""
    if not settings.replica_urls or settings.redis_url is None:
        return None
    return RedisPositions.from_url(settings.redis_url, position_ttl(settings.replica_max_lag))


def _media(settings: Settings) -> MediaStorage:
    directory = settings.resolve_media_dir()
    if directory is None:
        return UnconfiguredMediaStorage(settings.media_url)
    return DirectoryMediaStorage(directory, settings.media_url)
