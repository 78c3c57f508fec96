"""The ``minicommerce`` command: serve, db upgrade, db purge-idempotency-keys, create-admin,
demo-data."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from collections.abc import Sequence

from minicommerce import CommerceError, Shop, ValidationError
from minicommerce.demo import load_demo_data
from minicommerce.drivers import open_redis
from minicommerce_server.settings import ServerSettings

log = logging.getLogger("minicommerce.cli")


def _say(message: str) -> None:
    sys.stderr.write(message + "\n")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minicommerce",
        description="Run and administer a minicommerce shop. Settings come from "
        "MINICOMMERCE_* environment variables (and .env).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument(
        "--server", choices=("granian", "uvicorn"), default="granian", help="ASGI server"
    )
    demo = serve.add_mutually_exclusive_group()
    demo.add_argument(
        "--demo-data",
        dest="demo",
        action="store_const",
        const=True,
        help="load the demo catalog if the catalog is empty (default on SQLite)",
    )
    demo.add_argument(
        "--no-demo-data",
        dest="demo",
        action="store_const",
        const=False,
        help="never load demo data (default on PostgreSQL)",
    )

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply the schema migrations")
    db_sub.add_parser(
        "purge-idempotency-keys",
        help="forget idempotency keys older than MINICOMMERCE_IDEMPOTENCY_KEY_TTL (placing "
        "orders also does it, a batch every 1000 orders)",
    )

    admin = sub.add_parser("create-admin", help="create or promote a staff user")
    admin.add_argument("--email", required=True)
    admin.add_argument("--password", help="prompted for when omitted")

    sub.add_parser("demo-data", help="load the sample catalog (idempotent)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = ServerSettings()
        if args.command == "serve":
            return _serve(settings, args)
        if args.command == "db" and args.db_command == "purge-idempotency-keys":
            with Shop.from_settings(settings, migrate=settings.is_sqlite) as shop:
                purged = shop.orders.purge_idempotency_keys()
            _say(
                f"purged {purged} idempotency key(s) older than "
                f"{settings.idempotency_key_ttl} s ({settings.database_label})"
            )
            return 0
        if args.command == "db":
            with Shop.from_settings(settings, migrate=True):
                _say(f"database schema is up to date ({settings.database_label})")
            return 0
        if args.command == "create-admin":
            return _create_admin(settings, args.email, args.password)
        if args.command == "demo-data":
            with Shop.from_settings(settings, migrate=settings.is_sqlite) as shop:
                added = load_demo_data(shop)
            _say(f"demo data: {added} product(s) added")
            return 0
    except CommerceError as exc:
        _say(f"error: {exc.message}")
        return 2
    except ValueError as exc:  # settings that do not validate
        _say(f"error: {exc}")
        return 2
    return 1


def _create_admin(settings: ServerSettings, email: str, password: str | None) -> int:
    with Shop.from_settings(settings, migrate=settings.is_sqlite) as shop:
        if password is None and shop.accounts.find_by_email(email) is None:
            password = getpass.getpass("Password for the new staff user: ")
            if password != getpass.getpass("Repeat it: "):
                _say("error: the passwords differ")
                return 2
        try:
            user, created = shop.accounts.create_admin(email, password)
        except ValidationError as exc:
            _say(f"error: {exc.message}")
            return 2
    _say(f"{'created' if created else 'promoted'} staff user {user.email} (id {user.id})")
    return 0


def _serve(settings: ServerSettings, args: argparse.Namespace) -> int:
    if settings.is_in_memory and args.workers > 1:
        _say("error: an in-memory SQLite database cannot be shared by several workers")
        return 2
    # A Redis client that cannot be made (no driver) fails here, in one line, rather than
    # in a traceback from every worker.
    if settings.redis_url is not None:
        open_redis(settings.redis_url).close()
    # Done once here, before any worker starts: migrate the embedded database, make its
    # secret, and give a new shop something to show.
    with Shop.from_settings(settings, migrate=settings.is_sqlite) as shop:
        demo = settings.is_sqlite if args.demo is None else args.demo
        if demo and shop.catalog.count() == 0:
            added = load_demo_data(shop)
            _say(f"loaded the demo catalog ({added} products)")
    if args.workers > 1 and settings.redis_url is None and settings.catalog_cache_ttl > 0:
        # Each worker's in-process cache would hear only its own writes: without Redis to
        # tell them apart, the workers read the database (inherited by every worker).
        os.environ["MINICOMMERCE_CATALOG_CACHE_TTL"] = "0"
        log.warning(
            "catalog cache off: %d workers without MINICOMMERCE_REDIS_URL would not see "
            "each other's writes (set it to share the cache)",
            args.workers,
        )
    _say(
        f"minicommerce on http://{args.host}:{args.port} "
        f"({settings.database_label}, {args.workers} worker(s), {args.server})"
    )
    if args.server == "uvicorn":
        import uvicorn

        if args.workers > 1:
            log.warning(
                "uvicorn with several workers leaves TCP_NODELAY off, so keep-alive requests "
                "wait ~40 ms each (uvicorn issue #3149); granian, the default, has no such "
                "problem (docs/benchmarks.md)"
            )

        uvicorn.run(
            "minicommerce_server.asgi:create",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            access_log=False,
            log_level="warning",
        )
        return 0
    from granian import Granian
    from granian.constants import Interfaces

    Granian(
        "minicommerce_server.asgi:create",
        factory=True,
        address=args.host,
        port=args.port,
        workers=args.workers,
        interface=Interfaces.ASGI,
        log_access=False,
    ).serve()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
