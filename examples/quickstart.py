"""A shop in a script: a catalog, a customer, a login. Runs on SQLite with no set-up.

    python examples/quickstart.py                     # uses ./quickstart.db

On PostgreSQL, set MINICOMMERCE_DATABASE_URL=postgresql://... and MINICOMMERCE_SECRET_KEY.
"""

from __future__ import annotations

import os
from contextlib import suppress

from minicommerce import (
    Credentials,
    EmailTaken,
    NewProduct,
    ProductChanges,
    ProductQuery,
    Registration,
    Shop,
)


def main() -> None:
    url = os.environ.get("MINICOMMERCE_DATABASE_URL", "sqlite:///quickstart.db")
    with Shop.open(url, secret_key=os.environ.get("MINICOMMERCE_SECRET_KEY")) as shop:
        mug = shop.catalog.create(NewProduct(name="Enamel mug", price="9.50", stock_quantity=12))
        shop.catalog.create(NewProduct(name="Canvas tote", price="15.00", stock_quantity=3))
        mug = shop.catalog.update(mug.id, ProductChanges(price="8.90"), if_match={mug.version})
        print(f"{mug.name}: {mug.price} {mug.currency} (version {mug.version})")

        page = shop.catalog.list(ProductQuery(sort="price_asc", in_stock=True, limit=10))
        for p in page.items:
            print(f"  #{p.id} {p.name:<14} {p.price:>8}  stock {p.stock_quantity}")

        with suppress(EmailTaken):  # the script ran before
            ada = Registration(email="Ada@Example.com", password="analytical engine")
            shop.accounts.register(ada)
        tokens = shop.auth.login(Credentials(email="ada@example.com", password="analytical engine"))
        user = shop.auth.authenticate(tokens.access_token)
        print(f"signed in as {user.email}; the access token lives {tokens.expires_in} s")


if __name__ == "__main__":
    main()
