"""The library on PostgreSQL, with a login guard shared through Redis.

    MINICOMMERCE_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test \\
    MINICOMMERCE_REDIS_URL=redis://127.0.0.1:6379/0 \\
    MINICOMMERCE_SECRET_KEY=$(openssl rand -hex 32) \\
    python examples/postgres_redis.py

Settings come from the same MINICOMMERCE_* variables the server reads.
"""

from __future__ import annotations

from contextlib import suppress
from decimal import Decimal

from minicommerce import (
    Credentials,
    EmailTaken,
    InvalidCredentials,
    NewProduct,
    ProductQuery,
    Registration,
    Settings,
    Shop,
    SkuTaken,
)
from minicommerce.drivers import open_redis
from minicommerce.ratelimit import Rate, RedisRateLimiter


def main() -> None:
    settings = Settings()
    if settings.redis_url is None:
        raise SystemExit("set MINICOMMERCE_REDIS_URL (and a PostgreSQL MINICOMMERCE_DATABASE_URL)")
    limiter = RedisRateLimiter(open_redis(settings.redis_url))
    # Every process of this app shares the count: 5 attempts a minute per address.
    per_address = Rate(5, 60)

    with Shop.from_settings(settings) as shop:  # migrates the schema, if needed
        with suppress(SkuTaken):  # the script ran before
            bottle = NewProduct(
                sku="BTL-750", name="Steel bottle", price=Decimal("19.99"), stock_quantity=40
            )
            shop.catalog.create(bottle)
        with suppress(EmailTaken):
            grace = Registration(email="grace@example.com", password="cobol compiler")
            shop.accounts.register(grace)

        for attempt, password in enumerate(["wrong", "cobol compiler"], start=1):
            decision = limiter.hit("login:203.0.113.7", per_address)
            if not decision.allowed:
                print(f"attempt {attempt}: slow down, retry in {decision.retry_after} s")
                continue
            try:
                shop.auth.login(Credentials(email="grace@example.com", password=password))
                print(f"attempt {attempt}: signed in ({decision.remaining} attempts left)")
            except InvalidCredentials:
                print(f"attempt {attempt}: wrong password")

        cheap = shop.catalog.list(ProductQuery(max_price="20.00", sort="price_desc", limit=5))
        print("under 20:", ", ".join(f"{p.name} {p.price}" for p in cheap.items))


if __name__ == "__main__":
    main()
