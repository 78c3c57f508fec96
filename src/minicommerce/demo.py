"""A small sample catalog, for trying the shop out."""

from __future__ import annotations

from decimal import Decimal

from minicommerce.catalog.models import NewProduct
from minicommerce.errors import SkuTaken
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
    """Add the sample products that are not there yet (by SKU); returns how many were added."""
    added = 0
    for sku, name, price, stock, description in DEMO_PRODUCTS:
        try:
            shop.catalog.create(
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
    return added
