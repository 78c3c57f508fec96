"""Orders from asyncio code: ``shop.orders.place_async``, a flash sale of 20 buyers for 5 mugs.

python examples/async_orders.py                   # SQLite: ./async_orders.db
MINICOMMERCE_DATABASE_URL=postgresql://... python examples/async_orders.py

On PostgreSQL most orders are placed on the event loop itself, without a thread; anything
else (here, the refusals once the mugs are gone) runs ``place`` in the loop's default
executor. The answers are ``place``'s either way: exactly 5 orders, 15 refusals.
"""

from __future__ import annotations

import asyncio
import os
import uuid

from minicommerce import InsufficientStock, NewProduct, PlaceOrder, Registration, Shop

ADDRESS = {
    "full_name": "Flash Buyer",
    "line1": "1 Loop St",
    "city": "Localhost",
    "postal_code": "12345",
    "country": "DE",
}


async def flash_sale(shop: Shop, product_id: int, buyers: list[int]) -> tuple[int, int]:
    wanted = PlaceOrder(shipping_address=ADDRESS, items=[{"product_id": product_id, "quantity": 1}])

    async def buy(user_id: int) -> bool:
        try:
            await shop.orders.place_async(user_id, wanted)
        except InsufficientStock:
            return False
        return True

    bought = await asyncio.gather(*(buy(user_id) for user_id in buyers))
    return sum(bought), len(bought) - sum(bought)


def main() -> None:
    url = os.environ.get("MINICOMMERCE_DATABASE_URL", "sqlite:///async_orders.db")
    with Shop.open(url, secret_key=os.environ.get("MINICOMMERCE_SECRET_KEY")) as shop:
        mug = shop.catalog.create(NewProduct(name="Flash mug", price="5.00", stock_quantity=5))
        buyers = [
            shop.accounts.register(
                Registration(email=f"buyer-{uuid.uuid4().hex[:8]}@example.com", password="x" * 10)
            ).id
            for _ in range(20)
        ]
        sold, refused = asyncio.run(flash_sale(shop, mug.id, buyers))
        left = shop.catalog.get(mug.id).stock_quantity
        print(f"sold {sold}, refused {refused}, left {left}")


if __name__ == "__main__":
    main()
