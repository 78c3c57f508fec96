from minicommerce import Shop


def test_shop_opens(sqlite_shop: Shop) -> None:
    assert sqlite_shop.catalog.count() == 0


def test_shop_on_every_backend(shop: Shop) -> None:
    assert shop.catalog.count() == 0
