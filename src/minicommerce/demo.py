"""A small sample catalog and a customer with a few orders, for trying the shop out."""

from __future__ import annotations

import functools
import secrets
from decimal import Decimal
from typing import Any

from minicommerce.accounts.models import Registration
from minicommerce.catalog.models import NewProduct, ProductQuery
from minicommerce.errors import ConfigurationError, InsufficientStock, SkuTaken
from minicommerce.orders.models import OrderStatus, PlaceOrder, StatusChange
from minicommerce.shop import Shop

DEMO_PRODUCTS: tuple[tuple[str, str, str, int, str], ...] = (
    ("MUG-001", "Enamel camp mug", "9.50", 120, "A 350 ml enamel mug that survives the campfire."),
    ("TEE-BLK-M", "Organic cotton tee, black, M", "24.00", 45, "Heavyweight organic cotton."),
    ("TEE-WHT-M", "Organic cotton tee, white, M", "24.00", 0, "Heavyweight organic cotton."),
    ("BTL-750", "Steel water bottle 750 ml", "19.99", 80, "Double-walled; cold for 24 hours."),
    ("NB-A5-DOT", "A5 dotted notebook", "12.50", 200, "120 g paper, lies flat."),
    ("PEN-FTN-F", "Fountain pen, fine nib", "34.90", 25, "Steel nib, converter included."),
    ("BAG-TOTE", "Canvas tote bag", "15.00", 60, "Waxed canvas, leather handles."),
    ("CAP-NVY", "Six-panel cap, navy", "21.00", 30, "Adjustable brass buckle."),
    ("SOCK-WOOL", "Merino hiking socks", "17.95", 90, "Cushioned sole, sizes 39-46."),
    ("TORCH-USB", "USB-C head torch", "39.00", 15, "400 lumens, red night mode."),
    ("COFFEE-1KG", "Espresso beans 1 kg", "27.80", 40, "Medium roast, chocolate notes."),
    ("POSTER-A2", "Mountain map poster A2", "29.00", 10, "Printed on recycled paper."),
)


def load_demo_data(shop: Shop) -> int:
    """Add the sample products that are not there yet (by SKU), and the demo customer with
    its orders if it does not exist yet; returns how many products were added."""
    added = 0
    images = True
    # The products made here, by SKU: a read of them just after their writes could run
    # on a read replica that has not replayed them yet.
    made: dict[str, int] = {}
    for sku, name, price, stock, description in DEMO_PRODUCTS:
        try:
            product = shop.catalog.create(
                NewProduct(
                    sku=sku,
                    name=name,
                    price=Decimal(price),
                    stock_quantity=stock,
                    description=description,
                )
            )
        except SkuTaken:
            continue
        added += 1
        made[sku] = product.id
        if images:
            images = _add_demo_image(shop, product.id, sku, name)
    _demo_customer(shop, made)
    return added


def _add_demo_image(shop: Shop, product_id: int, sku: str, name: str) -> bool:
    """Give a demo product a drawn image (no downloads); ``False`` when images cannot be
    stored here (no Pillow, no media directory), so that the others are not tried."""
    try:
        data = _draw(sku, name)
        shop.catalog.add_image(product_id, data, f"{name} (illustration)")
    except (ImportError, ConfigurationError):
        return False
    return True


@functools.cache
def _font() -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(72)
    except (OSError, ImportError):  # Pillow without FreeType: the small bitmap font
        return ImageFont.load_default()


def _draw(sku: str, name: str) -> bytes:
    """A flat illustration: a colour from the SKU, a circle, and the product's initials."""
    import hashlib
    import io

    from PIL import Image, ImageDraw

    digest = hashlib.sha256(sku.encode()).digest()
    background = (90 + digest[0] % 120, 90 + digest[1] % 120, 90 + digest[2] % 120)
    # Small (one size, two files) so that loading the demo, which a first `serve` does,
    # stays quick.
    image = Image.new("RGB", (320, 320), background)
    draw = ImageDraw.Draw(image)
    draw.ellipse((64, 64, 256, 256), fill=(250, 248, 240))
    initials = "".join(word[0] for word in name.split()[:2]).upper()
    draw.text((160, 160), initials, fill=background, font=_font(), anchor="mm")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


DEMO_CUSTOMER = "demo.customer@example.com"
_DEMO_ORDERS = ((("MUG-001", 2), ("NB-A5-DOT", 1)), (("BTL-750", 1),), (("TEE-BLK-M", 2),))
_DEMO_PROGRESS = ((), (OrderStatus.PAID,), (OrderStatus.PAID, OrderStatus.SHIPPED))


def _demo_customer(shop: Shop, made: dict[str, int]) -> None:
    """A customer with a few orders, so the admin has something to show. Its password is
    random and never shown: no default credentials, even in a demo."""
    if shop.accounts.find_by_email(DEMO_CUSTOMER) is not None:
        return
    customer = shop.accounts.register(
        Registration(
            email=DEMO_CUSTOMER,
            password=secrets.token_urlsafe(24),
            first_name="Demo",
            last_name="Customer",
        )
    )
    by_sku = {p.sku: p.id for p in shop.catalog.list(ProductQuery(limit=100)).items} | made
    address = {
        "full_name": "Demo Customer",
        "line1": "1 Example Street",
        "city": "Berlin",
        "postal_code": "10115",
        "country": "DE",
    }
    for lines, progress in zip(_DEMO_ORDERS, _DEMO_PROGRESS, strict=True):
        items = [{"product_id": by_sku[sku], "quantity": n} for sku, n in lines if sku in by_sku]
        if not items:
            continue
        try:
            order, _ = shop.orders.place(
                customer.id, PlaceOrder.parse({"shipping_address": address, "items": items})
            )
        except InsufficientStock:
            continue
        for status in progress:
            shop.orders.set_status(order.id, StatusChange(status=status))
