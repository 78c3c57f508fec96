"""Product images: staff upload, describe, reorder and remove them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from litestar import Controller, delete, patch, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, JSONBody

from minicommerce import ImageChanges, ProductImage, Shop
from minicommerce_server.problems import problems
from minicommerce_server.security import Caller, staff_only

BEARER: list[dict[str, list[str]]] = [{"BearerToken": []}]
# Room for the multipart framing and the alt text around a file of the largest size.
MULTIPART_OVERHEAD = 64 * 1024


@dataclass
class ImageUpload:
    """The form of an upload: the image file and, optionally, its alt text."""

    file: UploadFile
    alt: str | None = None


class ProductImageController(Controller):
    path = "/products/{product_id:int}/images"
    tags = ["Catalog"]
    security = BEARER
    guards = [staff_only]

    # Decoding and resizing are CPU work: in a worker thread, never on the event loop (and
    # the core lets one image at a time per core through).
    @post(
        "/",
        status_code=201,
        sync_to_thread=True,
        summary="Upload an image of a product (staff)",
        description="`multipart/form-data` with `file` (JPEG, PNG or WebP, decided by its "
        "bytes, not its name or declared type) and optional `alt`. The image is appended "
        "after the product's others; metadata is stripped; renditions are made in WebP and "
        "JPEG (PNG with transparency). The product gets a new version (ETag).",
        responses=problems(
            401,
            403,
            404,
            429,
            _413="Larger than `MINICOMMERCE_MEDIA_MAX_BYTES`.",
            _415="Not a JPEG, PNG or WebP image.",
            _422=(
                "Corrupt, truncated or too many pixels, or invalid form fields.",
                "invalid_image",
                "validation_error",
            ),
            _503=(
                "No media storage is configured, or the database is unavailable.",
                "media_not_configured",
                "service_unavailable",
            ),
        ),
    )
    def upload(
        self,
        product_id: FromPath[int],
        data: Annotated[ImageUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
        shop: NamedDependency[Shop],
        caller: NamedDependency[Caller],
    ) -> ProductImage:
        content = data.file.file.read()
        return shop.catalog.add_image(product_id, content, data.alt or "", user_id=caller.user.id)

    @patch(
        "/{image_id:int}",
        sync_to_thread=True,
        summary="Change an image's alt text or position (staff)",
        description="`position` 0 makes it the main image; the others shift so positions "
        "stay 0..n-1 (a position past the end means last).",
        responses=problems(401, 403, 404, 422, 429),
    )
    def update(
        self,
        product_id: FromPath[int],
        image_id: FromPath[int],
        data: JSONBody[ImageChanges],
        shop: NamedDependency[Shop],
        caller: NamedDependency[Caller],
    ) -> ProductImage:
        return shop.catalog.update_image(product_id, image_id, data, user_id=caller.user.id)

    @delete(
        "/{image_id:int}",
        status_code=204,
        sync_to_thread=True,
        summary="Remove an image (staff)",
        description="Its files are deleted unless another image was made from the same "
        "upload. Orders never refer to images.",
        responses=problems(401, 403, 404, 429),
    )
    def remove(
        self,
        product_id: FromPath[int],
        image_id: FromPath[int],
        shop: NamedDependency[Shop],
        caller: NamedDependency[Caller],
    ) -> None:
        shop.catalog.remove_image(product_id, image_id, user_id=caller.user.id)
