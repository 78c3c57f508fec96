"""GET/POST /products, GET/PATCH/DELETE /products/{id}."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from minicommerce import Product, Shop
from tests.server.conftest import Account, Client
from tests.server.helpers import (
    API,
    MONEY,
    assert_problem,
    assert_timestamp,
    assert_validation,
    bearer,
    cursor_of,
    make_product,
)

PRODUCTS = f"{API}/products"
PRODUCT_FIELDS = {
    "id",
    "sku",
    "name",
    "description",
    "price",
    "currency",
    "stock_quantity",
    "in_stock",
    "images",
    "created_at",
    "updated_at",
}
NEW = {"name": "Teapot", "price": "24.90", "stock_quantity": 5, "sku": "TEA-1"}


def url(product_id: int) -> str:
    return f"{PRODUCTS}/{product_id}"


def assert_product(body: dict[str, Any]) -> None:
    assert set(body) >= PRODUCT_FIELDS, body
    assert isinstance(body["id"], int)
    assert isinstance(body["price"], str)
    assert MONEY.fullmatch(body["price"]), body["price"]
    assert body["currency"] == "USD"
    assert isinstance(body["stock_quantity"], int)
    assert body["in_stock"] is (body["stock_quantity"] > 0)
    assert isinstance(body["images"], list)
    assert_timestamp(body["created_at"])
    assert_timestamp(body["updated_at"])


def walk(client: Client, **params: Any) -> list[dict[str, Any]]:
    """Every item of a list, page by page, following ``next_cursor``."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(100):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get(PRODUCTS, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        assert set(page) == {"items", "next_cursor"}
        assert len(page["items"]) <= int(params.get("limit", 20))
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
        assert isinstance(cursor, str)
        assert cursor
        assert page["items"], "a page with a next cursor must not be empty"
    raise AssertionError("the cursor never ran out")


def ids(items: list[dict[str, Any]]) -> list[int]:
    return [item["id"] for item in items]


@pytest.fixture
def assorted(sqlite_shop: Shop) -> list[Product]:
    """Thirteen products with tied prices and tied names, some out of stock."""
    specs = [
        ("kettle", "19.99", 3),
        ("apron", "5.00", 0),
        ("mug", "9.50", 10),
        ("bowl", "9.50", 2),
        ("mug", "12.00", 0),
        ("plate", "9.50", 7),
        ("apron", "5.00", 1),
        ("spoon", "0.99", 100),
        ("fork", "0.99", 0),
        ("cup", "99999999.99", 1),
        ("mug", "9.50", 4),
        ("jar", "100.00", 9),
        ("lid", "1.00", 0),
    ]
    return [
        make_product(sqlite_shop, name, price, stock, sku=f"SKU-{i}")
        for i, (name, price, stock) in enumerate(specs)
    ]


# --- list -----------------------------------------------------------------------------------


def test_list_of_an_empty_catalog(client: Client) -> None:
    response = client.get(PRODUCTS)
    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}


def test_list_pages_by_twenty_by_default(client: Client, sqlite_shop: Shop) -> None:
    for i in range(25):
        make_product(sqlite_shop, f"product {i:02d}")
    first = client.get(PRODUCTS).json()
    assert len(first["items"]) == 20
    assert isinstance(first["next_cursor"], str)
    second = client.get(PRODUCTS, params={"cursor": first["next_cursor"]}).json()
    assert len(second["items"]) == 5
    assert second["next_cursor"] is None
    assert len(set(ids(first["items"]) + ids(second["items"]))) == 25


def test_list_items_are_products_with_money_as_strings(client: Client, sqlite_shop: Shop) -> None:
    make_product(sqlite_shop, "Mug", "9.5", 3, sku="MUG-1", description="A mug")
    response = client.get(PRODUCTS)
    assert '"price":"9.50"' in response.text.replace(" ", "")
    (item,) = response.json()["items"]
    assert_product(item)
    assert item["price"] == "9.50"
    assert (item["name"], item["sku"], item["description"]) == ("Mug", "MUG-1", "A mug")
    assert item["stock_quantity"] == 3
    assert item["in_stock"] is True


def test_limit_100_is_allowed(client: Client, assorted: list[Product]) -> None:
    page = client.get(PRODUCTS, params={"limit": 100}).json()
    assert len(page["items"]) == len(assorted)
    assert page["next_cursor"] is None


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "1.5"])
def test_bad_limit_is_422(client: Client, limit: str) -> None:
    assert_validation(client.get(PRODUCTS, params={"limit": limit}), "limit")


@pytest.mark.parametrize(
    ("sort", "key"),
    [
        ("newest", lambda p: -p.id),
        ("price_asc", lambda p: (p.price, p.id)),
        ("price_desc", lambda p: (-p.price, -p.id)),
        ("name", lambda p: (p.name, p.id)),
    ],
)
@pytest.mark.parametrize("limit", [1, 3, 20])
def test_walking_every_page_yields_each_product_once_in_order(
    client: Client, assorted: list[Product], sort: str, key: Any, limit: int
) -> None:
    items = walk(client, sort=sort, limit=limit)
    expected = sorted(assorted, key=key)
    assert ids(items) == [p.id for p in expected]


def test_newest_is_the_default_sort(client: Client, assorted: list[Product]) -> None:
    items = walk(client, limit=5)
    assert ids(items) == sorted(ids(items), reverse=True)
    created = [assert_timestamp(item["created_at"]) for item in items]
    assert created == sorted(created, reverse=True)


def test_price_sorts_compare_amounts_not_strings(client: Client, assorted: list[Product]) -> None:
    ascending = [Decimal(item["price"]) for item in walk(client, sort="price_asc", limit=4)]
    assert ascending == sorted(ascending)
    assert ascending[-1] == Decimal("99999999.99")
    descending = [Decimal(item["price"]) for item in walk(client, sort="price_desc", limit=4)]
    assert descending == sorted(descending, reverse=True)


def test_bad_sort_is_422(client: Client) -> None:
    assert_validation(client.get(PRODUCTS, params={"sort": "cheapest"}), "sort")


@pytest.mark.parametrize("cursor", ["zzz", "!!!", "e30", cursor_of("users", 5), "x" * 600])
def test_bad_cursor_is_422(client: Client, assorted: list[Product], cursor: str) -> None:
    assert_validation(client.get(PRODUCTS, params={"cursor": cursor}), "cursor")


@pytest.mark.parametrize(
    ("issued_by", "used_with"),
    [
        ("newest", "name"),
        ("price_asc", "price_desc"),
        ("name", "price_asc"),
        ("price_desc", "newest"),
    ],
)
def test_cursor_from_another_sort_is_422(
    client: Client, assorted: list[Product], issued_by: str, used_with: str
) -> None:
    page = client.get(PRODUCTS, params={"sort": issued_by, "limit": 2}).json()
    response = client.get(PRODUCTS, params={"sort": used_with, "cursor": page["next_cursor"]})
    assert_validation(response, "cursor")


@pytest.mark.parametrize(
    ("sort", "cursor"),
    [
        ("newest", cursor_of("newest", 10**30)),
        ("price_asc", cursor_of("price_asc", "NaN", 1)),
        ("price_desc", cursor_of("price_desc", "Infinity", 1)),
        ("price_asc", cursor_of("price_asc", "1e999", 1)),
    ],
    ids=["huge-id", "nan", "infinity", "huge-exponent"],
)
def test_crafted_cursor_is_422_not_500(
    client: Client, assorted: list[Product], sort: str, cursor: str
) -> None:
    response = client.get(PRODUCTS, params={"sort": sort, "cursor": cursor})
    assert_validation(response, "cursor")


@pytest.fixture
def searchable(sqlite_shop: Shop) -> dict[str, int]:
    return {
        "name": make_product(sqlite_shop, "Blue Enamel Mug", sku="MUG-BLUE").id,
        "description": make_product(
            sqlite_shop, "Saucer", description="Pairs with a CERAMIC cup", sku="SAU-1"
        ).id,
        "sku": make_product(sqlite_shop, "Plain plate", sku="XQ-Plate-77").id,
        "none": make_product(sqlite_shop, "Fork", sku=None).id,
    }


@pytest.mark.parametrize(
    ("q", "matches"),
    [
        ("enamel", ["name"]),
        ("ENAMEL MUG", ["name"]),
        ("ceramic", ["description"]),
        ("xq-plate", ["sku"]),
        ("XQ-PLATE-77", ["sku"]),
        ("plate", ["sku"]),
        ("a", ["name", "description", "sku"]),
        ("nothing like it", []),
        ("%", []),
        ("_", []),
    ],
)
def test_q_matches_name_description_and_sku_case_insensitively(
    client: Client, searchable: dict[str, int], q: str, matches: list[str]
) -> None:
    items = walk(client, q=q)
    assert sorted(ids(items)) == sorted(searchable[m] for m in matches)


def test_q_longer_than_200_is_422(client: Client) -> None:
    assert_validation(client.get(PRODUCTS, params={"q": "x" * 201}), "q")


@pytest.mark.parametrize(
    ("params", "low", "high"),
    [
        ({"min_price": "9.50"}, "9.50", None),
        ({"max_price": "1"}, None, "1.00"),
        ({"min_price": "5", "max_price": "9.5"}, "5.00", "9.50"),
        ({"min_price": "12.00", "max_price": "12.00"}, "12.00", "12.00"),
        ({"min_price": "20", "max_price": "10"}, "20", "10"),
        ({"min_price": "0"}, None, None),
        ({"max_price": "99999999.99"}, None, None),
    ],
)
def test_price_filters_are_inclusive(
    client: Client,
    assorted: list[Product],
    params: dict[str, str],
    low: str | None,
    high: str | None,
) -> None:
    items = walk(client, sort="price_asc", **params)
    expected = [
        p.id
        for p in assorted
        if (low is None or p.price >= Decimal(low)) and (high is None or p.price <= Decimal(high))
    ]
    assert sorted(ids(items)) == sorted(expected)
    if low is not None and high is not None and low == high:
        assert len(items) == 1


@pytest.mark.parametrize(
    ("value", "expected_stock"),
    [("true", lambda n: n > 0), ("false", lambda n: n == 0)],
)
def test_in_stock_filter(
    client: Client, assorted: list[Product], value: str, expected_stock: Any
) -> None:
    items = walk(client, in_stock=value)
    expected = [p.id for p in assorted if expected_stock(p.stock_quantity)]
    assert sorted(ids(items)) == sorted(expected)
    assert all(item["in_stock"] is (value == "true") for item in items)


@pytest.mark.parametrize("field", ["min_price", "max_price"])
@pytest.mark.parametrize("value", ["abc", "1.234", "-1", "1e3", "100000000"])
def test_bad_price_filter_is_422(client: Client, field: str, value: str) -> None:
    assert_validation(client.get(PRODUCTS, params={field: value}), field)


def test_bad_in_stock_is_422(client: Client) -> None:
    assert_validation(client.get(PRODUCTS, params={"in_stock": "maybe"}), "in_stock")


# --- GET one --------------------------------------------------------------------------------


def test_get_one_product_with_its_etag(client: Client, sqlite_shop: Shop) -> None:
    product = make_product(sqlite_shop, "Mug", "9.5", 3, sku="MUG-1")
    response = client.get(url(product.id))
    assert response.status_code == 200, response.text
    body = response.json()
    assert_product(body)
    assert body["id"] == product.id
    assert body["price"] == "9.50"
    etag = response.headers["ETag"]
    assert etag.startswith('"')
    assert etag.endswith('"')
    assert len(etag) > 2
    assert client.get(url(product.id)).headers["ETag"] == etag
    listed = client.get(PRODUCTS).json()["items"][0]
    assert listed == body


def test_get_unknown_product_is_404(client: Client) -> None:
    assert_problem(client.get(url(424242)), 404, "not_found")


@pytest.mark.parametrize("product_id", ["abc", "1.5", "0x10"])
def test_get_product_with_a_non_integer_id_is_404(client: Client, product_id: str) -> None:
    assert_problem(client.get(f"{PRODUCTS}/{product_id}"), 404, "not_found")


def test_get_product_with_a_huge_id_is_404(client: Client) -> None:
    assert_problem(client.get(url(10**20)), 404, "not_found")


# --- POST -----------------------------------------------------------------------------------


def test_staff_creates_a_product(client: Client, staff: Account) -> None:
    response = client.post(PRODUCTS, json=NEW, headers=staff.headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert_product(body)
    assert (body["name"], body["price"], body["stock_quantity"], body["sku"]) == (
        "Teapot",
        "24.90",
        5,
        "TEA-1",
    )
    assert body["description"] == ""
    fetched = client.get(url(body["id"]))
    assert fetched.json() == body
    assert response.headers.get("ETag") == fetched.headers["ETag"]


@pytest.mark.parametrize("price", ["0.01", "99999999.99", "7", "7.1"])
def test_create_accepts_prices_in_range(client: Client, staff: Account, price: str) -> None:
    response = client.post(PRODUCTS, json={**NEW, "price": price}, headers=staff.headers)
    assert response.status_code == 201, response.text
    assert Decimal(response.json()["price"]) == Decimal(price)
    assert MONEY.fullmatch(response.json()["price"])


def test_create_without_sku_and_with_zero_stock(client: Client, staff: Account) -> None:
    body = {"name": "Ghost", "price": "1.00", "stock_quantity": 0}
    response = client.post(PRODUCTS, json=body, headers=staff.headers)
    assert response.status_code == 201, response.text
    assert response.json()["sku"] is None
    assert response.json()["in_stock"] is False


def test_customer_cannot_create_a_product(client: Client, customer: Account) -> None:
    response = client.post(PRODUCTS, json=NEW, headers=customer.headers)
    assert_problem(response, 403, "permission_denied")
    assert client.get(PRODUCTS).json()["items"] == []


def test_anonymous_cannot_create_a_product(client: Client) -> None:
    assert_problem(client.post(PRODUCTS, json=NEW), 401, "unauthenticated")
    assert_problem(client.post(PRODUCTS, json=NEW, headers=bearer("nope")), 401, "invalid_token")
    assert client.get(PRODUCTS).json()["items"] == []


def test_create_with_a_taken_sku_is_409(client: Client, staff: Account, sqlite_shop: Shop) -> None:
    make_product(sqlite_shop, sku="TEA-1")
    response = client.post(PRODUCTS, json=NEW, headers=staff.headers)
    assert_problem(response, 409, "sku_taken")
    assert len(client.get(PRODUCTS).json()["items"]) == 1


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"price": 9.5}, ["price"]),
        ({"price": "0"}, ["price"]),
        ({"price": "0.00"}, ["price"]),
        ({"price": "100000000"}, ["price"]),
        ({"price": "1.999"}, ["price"]),
        ({"price": "-1.00"}, ["price"]),
        ({"price": "1e2"}, ["price"]),
        ({"price": "NaN"}, ["price"]),
        ({"price": None}, ["price"]),
        ({"stock_quantity": -1}, ["stock_quantity"]),
        ({"stock_quantity": "5"}, ["stock_quantity"]),
        ({"stock_quantity": 1.5}, ["stock_quantity"]),
        ({"stock_quantity": True}, ["stock_quantity"]),
        ({"stock_quantity": 2**31}, ["stock_quantity"]),
        ({"name": ""}, ["name"]),
        ({"name": "   "}, ["name"]),
        ({"name": "n" * 201}, ["name"]),
        ({"sku": "has space"}, ["sku"]),
        ({"sku": "s" * 65}, ["sku"]),
        ({"description": "d" * 5001}, ["description"]),
        ({"is_featured": True}, ["is_featured"]),
        ({"currency": "EUR"}, ["currency"]),
        ({"price": "1.999", "stock_quantity": "5"}, ["price", "stock_quantity"]),
    ],
)
def test_create_invalid_bodies_are_422(
    client: Client, staff: Account, changes: dict[str, Any], fields: list[str]
) -> None:
    response = client.post(PRODUCTS, json={**NEW, **changes}, headers=staff.headers)
    assert_validation(response, *fields)
    assert client.get(PRODUCTS).json()["items"] == []


@pytest.mark.parametrize("missing", ["name", "price", "stock_quantity"])
def test_create_without_a_required_field_is_422(
    client: Client, staff: Account, missing: str
) -> None:
    body = {k: v for k, v in NEW.items() if k != missing}
    assert_validation(client.post(PRODUCTS, json=body, headers=staff.headers), missing)


# --- PATCH ----------------------------------------------------------------------------------


@pytest.fixture
def teapot(sqlite_shop: Shop) -> Product:
    return make_product(sqlite_shop, "Teapot", "24.90", 5, sku="TEA-1", description="Brews")


def test_patch_changes_only_the_given_fields_and_bumps_the_etag(
    client: Client, staff: Account, teapot: Product
) -> None:
    before = client.get(url(teapot.id))
    response = client.patch(url(teapot.id), json={"price": "19.5"}, headers=staff.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert_product(body)
    assert body["price"] == "19.50"
    old = before.json()
    for field in ("name", "sku", "description", "stock_quantity", "created_at", "currency"):
        assert body[field] == old[field], field
    assert assert_timestamp(body["updated_at"]) >= assert_timestamp(old["updated_at"])
    assert response.headers["ETag"] != before.headers["ETag"]
    after = client.get(url(teapot.id))
    assert after.json() == body
    assert after.headers["ETag"] == response.headers["ETag"]


def test_patch_every_field(client: Client, staff: Account, teapot: Product) -> None:
    changes = {
        "name": "Kettle",
        "price": "30.00",
        "stock_quantity": 0,
        "sku": "KET-9",
        "description": "Boils",
    }
    body = client.patch(url(teapot.id), json=changes, headers=staff.headers).json()
    assert {k: body[k] for k in changes} == changes
    assert body["in_stock"] is False


def test_patch_sku_to_null(client: Client, staff: Account, teapot: Product) -> None:
    response = client.patch(url(teapot.id), json={"sku": None}, headers=staff.headers)
    assert response.status_code == 200, response.text
    assert response.json()["sku"] is None


def test_patch_with_an_empty_body_changes_nothing(
    client: Client, staff: Account, teapot: Product
) -> None:
    before = client.get(url(teapot.id))
    response = client.patch(url(teapot.id), json={}, headers=staff.headers)
    assert response.status_code == 200
    assert response.json() == before.json()
    assert response.headers["ETag"] == before.headers["ETag"]


def test_patch_with_the_current_etag(client: Client, staff: Account, teapot: Product) -> None:
    etag = client.get(url(teapot.id)).headers["ETag"]
    response = client.patch(
        url(teapot.id), json={"stock_quantity": 9}, headers={**staff.headers, "If-Match": etag}
    )
    assert response.status_code == 200, response.text
    assert response.json()["stock_quantity"] == 9


def test_patch_with_if_match_star(client: Client, staff: Account, teapot: Product) -> None:
    response = client.patch(
        url(teapot.id), json={"stock_quantity": 9}, headers={**staff.headers, "If-Match": "*"}
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("if_match", ["stale", '"999"', "garbage", '"abc"', 'W/"1"', "1"])
def test_patch_with_a_stale_etag_is_412(
    client: Client, staff: Account, teapot: Product, if_match: str
) -> None:
    first = client.get(url(teapot.id))
    if if_match == "stale":
        if_match = first.headers["ETag"]
        client.patch(url(teapot.id), json={"stock_quantity": 1}, headers=staff.headers)
    current = client.get(url(teapot.id)).json()
    response = client.patch(
        url(teapot.id), json={"price": "1.00"}, headers={**staff.headers, "If-Match": if_match}
    )
    assert_problem(response, 412, "precondition_failed")
    assert client.get(url(teapot.id)).json() == current


def test_patch_unknown_product_is_404(client: Client, staff: Account) -> None:
    assert_problem(
        client.patch(url(424242), json={"name": "x"}, headers=staff.headers), 404, "not_found"
    )
    response = client.patch(
        url(424242), json={"name": "x"}, headers={**staff.headers, "If-Match": '"1"'}
    )
    assert_problem(response, 404, "not_found")


def test_patch_sku_to_a_taken_one_is_409(
    client: Client, staff: Account, teapot: Product, sqlite_shop: Shop
) -> None:
    make_product(sqlite_shop, "Cup", sku="CUP-1")
    response = client.patch(url(teapot.id), json={"sku": "CUP-1"}, headers=staff.headers)
    assert_problem(response, 409, "sku_taken")
    assert client.get(url(teapot.id)).json()["sku"] == "TEA-1"


def test_patch_sku_to_its_own_sku_is_fine(client: Client, staff: Account, teapot: Product) -> None:
    response = client.patch(url(teapot.id), json={"sku": "TEA-1"}, headers=staff.headers)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"price": None}, "price"),
        ({"name": None}, "name"),
        ({"stock_quantity": None}, "stock_quantity"),
        ({"description": None}, "description"),
        ({"price": 9.5}, "price"),
        ({"price": "0"}, "price"),
        ({"stock_quantity": -3}, "stock_quantity"),
        ({"version": 7}, "version"),
        ({"id": 99}, "id"),
        ({"in_stock": False}, "in_stock"),
    ],
)
def test_patch_invalid_bodies_are_422(
    client: Client, staff: Account, teapot: Product, body: dict[str, Any], field: str
) -> None:
    before = client.get(url(teapot.id)).json()
    assert_validation(client.patch(url(teapot.id), json=body, headers=staff.headers), field)
    assert client.get(url(teapot.id)).json() == before


def test_customer_and_anonymous_cannot_patch(
    client: Client, customer: Account, teapot: Product
) -> None:
    before = client.get(url(teapot.id)).json()
    forbidden = client.patch(url(teapot.id), json={"price": "1.00"}, headers=customer.headers)
    assert_problem(forbidden, 403, "permission_denied")
    assert_problem(client.patch(url(teapot.id), json={"price": "1.00"}), 401, "unauthenticated")
    assert client.get(url(teapot.id)).json() == before


def test_patch_huge_id_is_404(client: Client, staff: Account) -> None:
    response = client.patch(url(2**64), json={"name": "x"}, headers=staff.headers)
    assert_problem(response, 404, "not_found")


# --- DELETE ---------------------------------------------------------------------------------


def test_delete_removes_the_product_from_the_catalog(
    client: Client, staff: Account, teapot: Product, sqlite_shop: Shop
) -> None:
    other = make_product(sqlite_shop, "Cup")
    response = client.delete(url(teapot.id), headers=staff.headers)
    assert response.status_code == 204
    assert response.content == b""
    assert_problem(client.get(url(teapot.id)), 404, "not_found")
    assert ids(walk(client)) == [other.id]
    assert ids(walk(client, q="teapot")) == []
    assert_problem(client.delete(url(teapot.id), headers=staff.headers), 404, "not_found")
    patched = client.patch(url(teapot.id), json={"name": "Back"}, headers=staff.headers)
    assert_problem(patched, 404, "not_found")


def test_delete_unknown_product_is_404(client: Client, staff: Account) -> None:
    assert_problem(client.delete(url(424242), headers=staff.headers), 404, "not_found")


def test_customer_and_anonymous_cannot_delete(
    client: Client, customer: Account, teapot: Product
) -> None:
    assert_problem(
        client.delete(url(teapot.id), headers=customer.headers), 403, "permission_denied"
    )
    assert_problem(client.delete(url(teapot.id)), 401, "unauthenticated")
    assert client.get(url(teapot.id)).status_code == 200


def test_delete_with_a_stale_etag_is_412(client: Client, staff: Account, teapot: Product) -> None:
    etag = client.get(url(teapot.id)).headers["ETag"]
    client.patch(url(teapot.id), json={"stock_quantity": 1}, headers=staff.headers)
    response = client.delete(url(teapot.id), headers={**staff.headers, "If-Match": etag})
    assert_problem(response, 412, "precondition_failed")
    assert client.get(url(teapot.id)).status_code == 200


def test_deleted_products_sku_can_be_reused(
    client: Client, staff: Account, teapot: Product
) -> None:
    assert client.delete(url(teapot.id), headers=staff.headers).status_code == 204
    response = client.post(PRODUCTS, json=NEW, headers=staff.headers)
    assert response.status_code == 201, response.text
    assert response.json()["sku"] == "TEA-1"
    assert response.json()["id"] != teapot.id
    moved = client.patch(url(response.json()["id"]), json={"sku": "TEA-2"}, headers=staff.headers)
    assert moved.status_code == 200
