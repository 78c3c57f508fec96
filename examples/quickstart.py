"""A shop in a script: a catalog, a customer, a login. Runs on SQLite with no set-up.

    python examples/quickstart.py            # uses ./quickstart.db
    MINICOMMERCE_DATABASE_URL=postgresql://... MINICOMMERCE_SECRET_KEY=... python examples/quickstart.py
"""

from __future__ import annotations

import os

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
        mug = shop.catalog.create(
            NewProduct(name="Enamel mug", price="9.50", stock_quantity=12, sku=None)
        )
        shop.catalog.create(NewProduct(name="Canvas tote", price="15.00", stock_quantity=3))
        mug = shop.catalog.update(mug.id, ProductChanges(price="8.90"), if_match={mug.version})
        print(f"{mug.name}: {mug.price} {mug.currency} (version {mug.version})")

        page = shop.catalog.list(ProductQuery(sort="price_asc", in_stock=True, limit=10))
        for product in page.items:
            print(f"  #{product.id} {product.name:<14} {product.price:>8}  stock {product.stock_quantity}")

        try:
            shop.accounts.register(Registration(email="Ada@Example.com", password="analytical engine"))
        except EmailTaken:
            pass  # the script ran before
        tokens = shop.auth.login(Credentials(email="ada@example.com", password="analytical engine"))
        user = shop.auth.authenticate(tokens.access_token)
        print(f"signed in as {user.email}; the access token lives {tokens.expires_in} s")


if __name__ == "__main__":
    main()
