"""The catalog: anyone reads, staff write."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter

from minicommerce import (
    NewProduct,
    Page,
    Product,
    ProductChanges,
    ProductQuery,
    ProductSort,
    Shop,
)
from minicommerce.money import PRICE_PATTERN
from minicommerce.pagination import DEFAULT_LIMIT, MAX_LIMIT
from minicommerce_server.offload import offload_of
from minicommerce_server.params import CursorParam
from minicommerce_server.problems import problems
from minicommerce_server.replay import offer
from minicommerce_server.security import Caller, staff_only, token_user

BEARER: list[dict[str, list[str]]] = [{"BearerToken": []}]
ETAG = ResponseHeader(
    name="ETag",
    description="The product's version; send it back in `If-Match`.",
    documentation_only=True,
)
IfMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match",
        required=False,
        description="An ETag from a previous read: the change applies only if it still matches.",
    ),
]


def blank_to_none(text: str | None) -> str | None:
    """An empty or blank search is no search (rather than a 422 for its empty text)."""
    return (text or "").strip() or None


def etag(product: Product) -> str:
    return f'"{product.version}"'


def parse_if_match(header: str | None) -> set[int] | None:
    """The versions an ``If-Match`` header accepts; ``None`` for no header or ``*``.

    A tag that is not one of ours matches nothing, which is a 412, not an error; weak tags
    (``W/"3"``) never match, as If-Match compares strongly (RFC 9110).
    """
    if header is None or header.strip() == "*":
        return None
    versions: set[int] = set()
    for raw in header.split(","):
        tag = raw.strip()
        if len(tag) > 2 and tag[0] == tag[-1] == '"' and tag[1:-1].isdigit() and len(tag) < 20:
            versions.add(int(tag[1:-1]))
    return versions


class ProductController(Controller):
    path = "/products"
    tags = ["Catalog"]

    # The two catalog reads are awaited on the event loop and run in the offload pool: a
    # stalled database must not freeze the worker, and this hand-off, unlike Litestar's
    # generic one, is cheap and has a deadline (minicommerce_server/offload.py). A read
    # the process's catalog cache holds is answered on the loop (no I/O, no wait).
    @get(
        "/",
        summary="List products",
        description="Keyset-paginated: pass `next_cursor` back as `cursor`. `q` matches name, "
        "description and SKU.",
        responses=problems(422, 429),
    )
    async def list_products(
        self,
        request: Request[Any, Any, Any],
        shop: NamedDependency[Shop],
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
        cursor: CursorParam = None,
        q: Annotated[str | None, QueryParameter(max_length=200)] = None,
        min_price: Annotated[str | None, QueryParameter(pattern=PRICE_PATTERN)] = None,
        max_price: Annotated[str | None, QueryParameter(pattern=PRICE_PATTERN)] = None,
        in_stock: FromQuery[bool | None] = None,
        sort: FromQuery[ProductSort] = ProductSort.NEWEST,
    ) -> Page[Product]:
        query = ProductQuery(
            limit=limit,
            cursor=cursor,
            q=blank_to_none(q),
            min_price=min_price,
            max_price=max_price,
            in_stock=in_stock,
            sort=sort,
        )
        # What this process's cache holds is served here, with no thread hop (no I/O), and
        # offered to the edge to answer again while the cache holds it (replay.py).
        fingerprint = shop.catalog.cached_list_fingerprint(query)
        cached = shop.catalog.cached_list(query)
        if cached is not None:
            offer(request.scope, query, fingerprint)
            return cached
        return await offload_of(request).run(shop.catalog.list, query, user_id=token_user(request))

    @get(
        "/{product_id:int}",
        summary="One product",
        response_headers=[ETAG],
        responses=problems(404, 429),
    )
    async def get_product(
        self,
        request: Request[Any, Any, Any],
        product_id: FromPath[int],
        shop: NamedDependency[Shop],
    ) -> Response[Product]:
        fingerprint = shop.catalog.cached_fingerprint(product_id)
        product = shop.catalog.cached(product_id)
        if product is not None:
            offer(request.scope, product_id, fingerprint)
        else:
            product = await offload_of(request).run(
                shop.catalog.get, product_id, user_id=token_user(request)
            )
        return Response(product, headers={"ETag": etag(product)})

    @post(
        "/",
        status_code=201,
        sync_to_thread=True,
        security=BEARER,
        guards=[staff_only],
        summary="Add a product (staff)",
        response_headers=[ETAG],
        responses=problems(401, 403, 422, _409=("The SKU is taken.", "sku_taken")),
    )
    def create_product(
        self,
        data: JSONBody[NewProduct],
        shop: NamedDependency[Shop],
        caller: NamedDependency[Caller],
    ) -> Response[Product]:
        product = shop.catalog.create(data, user_id=caller.user.id)
        return Response(product, status_code=201, headers={"ETag": etag(product)})

    @patch(
        "/{product_id:int}",
        sync_to_thread=True,
        security=BEARER,
        guards=[staff_only],
        summary="Change a product (staff)",
        description="Any subset of the create fields. With `If-Match`, only if the product "
        "is still at that version.",
        response_headers=[ETAG],
        responses=problems(401, 403, 404, 412, 422, _409=("The SKU is taken.", "sku_taken")),
    )
    def update_product(
        self,
        product_id: FromPath[int],
        data: JSONBody[ProductChanges],
        shop: NamedDependency[Shop],
        caller: NamedDependency[Caller],
        if_match: IfMatch = None,
    ) -> Response[Product]:
        product = shop.catalog.update(
            product_id, data, parse_if_match(if_match), user_id=caller.user.id
        )
        return Response(product, headers={"ETag": etag(product)})

    @delete(
        "/{product_id:int}",
        status_code=204,
        sync_to_thread=True,
        security=BEARER,
        guards=[staff_only],
        summary="Remove a product from the catalog (staff)",
        description="The product is archived: it leaves the catalog and cannot be bought; "
        "orders keep their lines.",
        responses=problems(401, 403, 404, 412, 429),
    )
    def delete_product(
        self,
        product_id: FromPath[int],
        shop: NamedDependency[Shop],
        caller: NamedDependency[Caller],
        if_match: IfMatch = None,
    ) -> None:
        shop.catalog.delete(product_id, parse_if_match(if_match), user_id=caller.user.id)
