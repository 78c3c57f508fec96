"""The catalog on every backend: the same tests on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from minicommerce import (
    DirectoryMediaStorage,
    NewProduct,
    NotFound,
    PreconditionFailed,
    Product,
    ProductChanges,
    ProductQuery,
    ProductSort,
    Shop,
    SkuTaken,
)


def add(shop: Shop, name: str, price: str, stock: int = 5, **kw: str) -> Product:
    return shop.catalog.create(NewProduct(name=name, price=price, stock_quantity=stock, **kw))


def test_create_and_get(shop: Shop) -> None:
    p = add(shop, "Mug", "9.50", 3, sku="MUG-1", description="Enamel")
    assert p.price == Decimal("9.50")
    assert p.currency == "USD"
    assert p.in_stock
    assert p.version == 1
    assert p.created_at.tzinfo is not None
    assert shop.catalog.get(p.id) == p


def test_prices_are_exact_at_the_extremes(shop: Shop) -> None:
    for price in ("0.01", "99999999.99", "12345678.91"):
        p = add(shop, price, price)
        assert shop.catalog.get(p.id).price == Decimal(price)
        assert str(shop.catalog.get(p.id).price) == price


def test_unknown_product(shop: Shop) -> None:
    with pytest.raises(NotFound):
        shop.catalog.get(12345)


def test_sku_is_unique(shop: Shop) -> None:
    add(shop, "A", "1.00", sku="X-1")
    with pytest.raises(SkuTaken):
        add(shop, "B", "1.00", sku="X-1")
    b = add(shop, "B", "1.00", sku="X-2")
    with pytest.raises(SkuTaken):
        shop.catalog.update(b.id, ProductChanges(sku="X-1"))
    assert shop.catalog.count() == 2


def test_products_without_sku_may_coexist(shop: Shop) -> None:
    add(shop, "A", "1.00")
    add(shop, "B", "1.00")
    assert shop.catalog.count() == 2


def test_partial_update_bumps_version(shop: Shop) -> None:
    p = add(shop, "Mug", "9.50", 3, description="old")
    q = shop.catalog.update(p.id, ProductChanges(price="10.00"))
    assert (q.price, q.name, q.description, q.version) == (Decimal("10.00"), "Mug", "old", 2)
    assert q.updated_at >= p.updated_at
    assert q.created_at == p.created_at


def test_optimistic_concurrency(shop: Shop) -> None:
    p = add(shop, "Mug", "9.50")
    shop.catalog.update(p.id, ProductChanges(stock_quantity=7), if_match={p.version})
    with pytest.raises(PreconditionFailed) as info:
        shop.catalog.update(p.id, ProductChanges(stock_quantity=1), if_match={p.version})
    assert info.value.current_version == 2
    assert shop.catalog.get(p.id).stock_quantity == 7
    with pytest.raises(PreconditionFailed):
        shop.catalog.delete(p.id, if_match={1})
    with pytest.raises(PreconditionFailed):
        shop.catalog.update(p.id, ProductChanges(), if_match={1})


def test_update_of_missing_product(shop: Shop) -> None:
    with pytest.raises(NotFound):
        shop.catalog.update(999, ProductChanges(name="x"))
    with pytest.raises(NotFound):
        shop.catalog.update(999, ProductChanges(name="x"), if_match={1})


def test_delete_archives(shop: Shop) -> None:
    p = add(shop, "Mug", "9.50", sku="MUG")
    shop.catalog.delete(p.id)
    with pytest.raises(NotFound):
        shop.catalog.get(p.id)
    with pytest.raises(NotFound):
        shop.catalog.delete(p.id)
    with pytest.raises(NotFound):
        shop.catalog.update(p.id, ProductChanges(name="x"))
    assert shop.catalog.list().items == []
    # The SKU is free again; the archived row is kept for the order lines that name it.
    assert add(shop, "Mug 2", "9.50", sku="MUG").sku == "MUG"


def test_stock_can_never_be_negative_in_storage(shop: Shop) -> None:
    import sqlalchemy as sa

    from minicommerce.storage.tables import products

    p = add(shop, "Mug", "9.50", 1)
    with pytest.raises(sa.exc.IntegrityError), shop.database.writer.begin() as conn:
        conn.execute(sa.update(products).where(products.c.id == p.id).values(stock_quantity=-1))


@pytest.fixture
def catalog(shop: Shop) -> list[Product]:
    specs = [
        ("pear", "3.00", 0),
        ("Apple", "1.50", 4),
        ("banana", "1.50", 2),
        ("cherry", "12.00", 9),
        ("date", "0.99", 1),
        ("elder", "3.00", 0),
        ("fig", "7.25", 3),
    ]
    return [
        add(shop, n, p, s, sku=f"SKU-{n.upper()}", description=f"fresh {n}") for n, p, s in specs
    ]


def walk(shop: Shop, **query: object) -> list[Product]:
    items: list[Product] = []
    cursor: str | None = None
    while True:
        page = shop.catalog.list(ProductQuery(limit=2, cursor=cursor, **query))
        items += page.items
        if page.next_cursor is None:
            return items
        assert len(page.items) == 2
        cursor = page.next_cursor


@pytest.mark.parametrize("sort", list(ProductSort))
def test_every_sort_pages_through_each_product_once(
    shop: Shop, catalog: list[Product], sort: ProductSort
) -> None:
    items = walk(shop, sort=sort)
    assert sorted(p.id for p in items) == sorted(p.id for p in catalog)
    keys = {
        ProductSort.NEWEST: lambda p: (-p.id,),
        ProductSort.PRICE_ASC: lambda p: (p.price, p.id),
        ProductSort.PRICE_DESC: lambda p: (-p.price, -p.id),
        ProductSort.NAME: lambda p: (p.name, p.id),
    }
    assert items == sorted(catalog, key=keys[sort])


def test_filters(shop: Shop, catalog: list[Product]) -> None:
    def names(**query: object) -> list[str]:
        return sorted(p.name for p in walk(shop, **query))

    assert names(in_stock=True) == ["Apple", "banana", "cherry", "date", "fig"]
    assert names(in_stock=False) == ["elder", "pear"]
    assert names(min_price="1.50", max_price="3.00") == ["Apple", "banana", "elder", "pear"]
    assert names(q="APPL") == ["Apple"]
    assert names(q="sku-fig") == ["fig"]
    assert names(q="fresh") == sorted(p.name for p in catalog)
    assert names(q="%") == []
    assert names(q="_") == []
    assert names(q="\\") == []
    ordered = [p.name for p in walk(shop, q="a", in_stock=True, sort="price_asc")]
    assert ordered == ["date", "Apple", "banana"]


def test_list_is_one_statement_per_page_images_included(
    shop: Shop, catalog: list[Product], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import sqlalchemy as sa

    from tests.images import photo

    shop.catalog.media = DirectoryMediaStorage(tmp_path / "media")
    by_price = sorted(catalog, key=lambda p: (p.price, p.id), reverse=True)
    for p in by_price[:5]:  # on both pages
        shop.catalog.add_image(p.id, photo(200 + p.id, 100), f"image of {p.name}")
        shop.catalog.add_image(p.id, photo(100, 100 + p.id), "second")

    statements: list[str] = []

    def count(_conn: object, _cur: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    if shop.database.backend == "postgresql":
        # Hot reads go straight to psycopg's cursor (storage/reads.py): count there.
        import psycopg

        execute = psycopg.Cursor.execute

        def counting(self: Any, query: Any, *args: Any, **kw: Any) -> Any:
            statements.append(str(query))
            return execute(self, query, *args, **kw)

        monkeypatch.setattr(psycopg.Cursor, "execute", counting)
    else:
        sa.event.listen(shop.database.reader, "before_cursor_execute", count)
    page = shop.catalog.list(ProductQuery(limit=3, sort=ProductSort.PRICE_DESC))
    following = shop.catalog.list(
        ProductQuery(limit=3, sort=ProductSort.PRICE_DESC, cursor=page.next_cursor)
    )
    # One statement per page: the images come with their products, not a round trip later.
    assert len(statements) == 2
    assert all("FROM products" in s and "FROM product_images" in s for s in statements)
    with_images = {p.id for p in by_price[:5]}
    for item in page.items + following.items:
        expected = [f"image of {item.name}", "second"] if item.id in with_images else []
        assert [i.alt for i in item.images] == expected
