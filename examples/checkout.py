"""A checkout in a script: a cart, an idempotent order, a cancellation. SQLite, no set-up.

python examples/checkout.py                       # uses ./checkout.db
"""

from __future__ import annotations

import os
import uuid

from minicommerce import (
    InsufficientStock,
    LineQuantity,
    NewProduct,
    PlaceOrder,
    Registration,
    Shop,
)


def main() -> None:
    url = os.environ.get("MINICOMMERCE_DATABASE_URL", "sqlite:///checkout.db")
    with Shop.open(url, secret_key=os.environ.get("MINICOMMERCE_SECRET_KEY")) as shop:
        mug = shop.catalog.create(NewProduct(name="Enamel mug", price="9.50", stock_quantity=3))
        tote = shop.catalog.create(NewProduct(name="Canvas tote", price="15.00", stock_quantity=1))
        email = f"grace-{uuid.uuid4().hex[:8]}@example.com"
        grace = shop.accounts.register(Registration(email=email, password="cobol compiler"))

        shop.carts.set_quantity(grace.id, mug.id, LineQuantity(quantity=2))
        cart = shop.carts.set_quantity(grace.id, tote.id, LineQuantity(quantity=1))
        print(f"cart: {cart.item_count} items, {cart.total} {cart.currency}")

        address = {
            "full_name": "Grace Hopper",
            "line1": "1 Navy Way",
            "city": "Arlington",
            "postal_code": "22202",
            "country": "US",
        }
        checkout = PlaceOrder(shipping_address=address)  # no items: the cart
        order, _ = shop.orders.place(grace.id, checkout, idempotency_key="checkout-1")
        again, created_again = shop.orders.place(grace.id, checkout, idempotency_key="checkout-1")
        print(f"order #{order.id}: {order.total_amount} {order.currency}, {order.status}")
        print(f"retried with the same key: same order {again.id == order.id}, "
              f"created again {created_again}")  # fmt: skip

        one_tote = PlaceOrder(
            shipping_address=address, items=[{"product_id": tote.id, "quantity": 1}]
        )
        try:
            shop.orders.place(grace.id, one_tote)
        except InsufficientStock as exc:
            print(f"sold out: product {exc.items[0].product_id} has {exc.items[0].available} left")

        cancelled = shop.orders.cancel(grace.id, order.id)
        print(f"cancelled: {cancelled.status}; mugs back in stock: "
              f"{shop.catalog.get(mug.id).stock_quantity}")  # fmt: skip


if __name__ == "__main__":
    main()
