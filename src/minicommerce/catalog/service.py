"""Catalog use cases: products, their stock and prices."""

from __future__ import annotations

import functools
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from minicommerce.catalog.cache import (
    CatalogCache,
    CatalogChange,
    Fingerprint,
    LoadedPage,
    LoadProduct,
    NoCatalogCache,
)
from minicommerce.catalog.models import (
    AltText,
    ImageChanges,
    NewProduct,
    Product,
    ProductChanges,
    ProductImage,
    ProductQuery,
    ProductSort,
    Rendition,
)
from minicommerce.catalog.repository import (
    NewImage,
    ShownProduct,
    StoredImage,
    StoredRendition,
)
from minicommerce.clock import Clock, utcnow
from minicommerce.commands import Command
from minicommerce.errors import MediaNotConfigured, NotFound, PreconditionFailed, ValidationError
from minicommerce.ids import is_valid_id
from minicommerce.images import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, process_image
from minicommerce.media import MediaStorage, UnconfiguredMediaStorage
from minicommerce.money import parse_amount
from minicommerce.pagination import Page, decode_cursor, encode_cursor
from minicommerce.uow import UnitOfWork, UnitOfWorkFactory

_RESOURCE = "Product"
_IMAGE = "Image"
log = logging.getLogger("minicommerce.catalog")


@dataclass(frozen=True, slots=True)
class ImageLimits:
    """What an upload may be: at most ``max_bytes`` long and ``max_pixels`` in area."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS


class _Alt(Command):
    alt: AltText = ""


class CatalogService:
    """Create, read, change, archive and list products.

    ``if_match`` arguments carry the versions a caller last saw (the server's ETag); a
    change to a product that moved on since raises :class:`PreconditionFailed`.

    ``get`` and ``list`` read through ``cache`` (``minicommerce.catalog.cache``); every
    write tells it what changed after its commit and before it returns. Reads the cache
    does not keep may lag (a read replica may answer), except for the writes of the
    ``user_id`` they are given: a change made with a ``user_id`` is seen by that user's next
    reads. What the cache keeps is read from the primary: a lagging replica's row filed
    under the version of a newer write would be served until it expired.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock = utcnow,
        *,
        media: MediaStorage | None = None,
        image_limits: ImageLimits | None = None,
        cache: CatalogCache | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self.cache: CatalogCache = cache or NoCatalogCache()
        self.media: MediaStorage = media or UnconfiguredMediaStorage()
        self.image_limits = image_limits or ImageLimits()

    def create(self, new: NewProduct, *, user_id: int | None = None) -> Product:
        with self._uow(write=True, user_id=user_id) as uow:
            product = uow.products.add(new, self._clock())
            uow.commit()
        self.cache.changed(CatalogChange.of([product.id], lists=True))
        return product

    def get(self, product_id: int, *, user_id: int | None = None) -> Product:
        if not is_valid_id(product_id):
            raise NotFound(_RESOURCE, product_id)
        product = self.cache.product(product_id, self._loader(user_id))
        if product is None:
            raise NotFound(_RESOURCE, product_id)
        return product

    def cached(self, product_id: int) -> Product | None:
        """The product if this process's cache may serve it now, with no I/O and no wait
        (an event loop may call it); ``None``: call :meth:`get`."""
        return self.cache.peek_product(product_id) if is_valid_id(product_id) else None

    def cached_list(self, query: ProductQuery) -> Page[Product] | None:
        """:meth:`list` if this process's cache may serve it now, with no I/O and no wait;
        ``None``: call :meth:`list` (which also refuses a bad cursor)."""
        return self.cache.peek_page(query) if self._cursor_valid(query) else None

    def cached_fingerprint(self, product_id: int, *, served: bool = False) -> Fingerprint | None:
        """What :meth:`cached` would answer from, by identity (no copy, no I/O): equal to
        a later fingerprint while the cache holds the same product, so an adapter may answer
        with what it derived from it (its encoded JSON). ``served``: it does (counted as a
        memory hit of the cache)."""
        if not is_valid_id(product_id):
            return None
        return self.cache.fingerprint_product(product_id, served=served)

    def cached_list_fingerprint(
        self, query: ProductQuery, *, served: bool = False
    ) -> Fingerprint | None:
        """What :meth:`cached_list` would answer from (see :meth:`cached_fingerprint`)."""
        if not self._cursor_valid(query):
            return None
        return self.cache.fingerprint_page(query, served=served)

    def _cursor_valid(self, query: ProductQuery) -> bool:
        """No cursor, or one of this list and sort (a cached answer never says why not)."""
        if query.cursor:
            try:
                self._decode(query.cursor, query.sort)
            except ValidationError:
                return False
        return True

    def _caching(self) -> bool:
        return not isinstance(self.cache, NoCatalogCache)

    def _loader(self, user_id: int | None) -> LoadProduct:
        if self._caching():
            return self._load
        return functools.partial(self._load, may_lag=True, user_id=user_id)

    def _load(
        self, product_id: int, *, may_lag: bool = False, user_id: int | None = None
    ) -> Product | None:
        with self._uow(write=False, may_lag=may_lag, user_id=user_id) as uow:
            shown = uow.products.get_shown(product_id)
        return None if shown is None else self._shown(shown)

    def _exists(self, product_id: int) -> None:
        """Raise :class:`NotFound` unless the product is live, as the primary says (a write
        follows: a replica may not have the product yet)."""
        if not is_valid_id(product_id):
            raise NotFound(_RESOURCE, product_id)
        with self._uow(write=False) as uow:
            if uow.products.get(product_id) is None:
                raise NotFound(_RESOURCE, product_id)

    def update(
        self,
        product_id: int,
        changes: ProductChanges,
        if_match: Collection[int] | None = None,
        *,
        user_id: int | None = None,
    ) -> Product:
        if not is_valid_id(product_id):
            raise NotFound(_RESOURCE, product_id)
        values = changes.changes()
        with self._uow(write=True, user_id=user_id) as uow:
            if not values:
                shown = uow.products.get_shown(product_id)
                if shown is None:
                    raise NotFound(_RESOURCE, product_id)
                self._current(shown.product, product_id, if_match)
                return self._shown(shown)
            if uow.products.update(product_id, values, self._clock(), if_match) is None:
                raise self._mismatch(uow.products.get(product_id), product_id)
            # Read back in the same transaction, images included (they did not change).
            shown = uow.products.get_shown(product_id)
            assert shown is not None
            updated = self._shown(shown)
            uow.commit()
        # Any field can move the product in a sort or a filter (q, prices, in_stock).
        self.cache.changed(CatalogChange.of([product_id], lists=True))
        return updated

    def delete(
        self,
        product_id: int,
        if_match: Collection[int] | None = None,
        *,
        user_id: int | None = None,
    ) -> None:
        """Archive a product: it leaves the catalog; order lines keep their copies."""
        if not is_valid_id(product_id):
            raise NotFound(_RESOURCE, product_id)
        with self._uow(write=True, user_id=user_id) as uow:
            if not uow.products.archive(product_id, self._clock(), if_match):
                raise self._mismatch(uow.products.get(product_id), product_id)
            uow.commit()
        self.cache.changed(CatalogChange.of([product_id], lists=True))

    def list(
        self, query: ProductQuery | None = None, *, user_id: int | None = None
    ) -> Page[Product]:
        """One page of live products, keyset-paginated: one query, images included."""
        query = query or ProductQuery()
        if query.cursor:
            self._decode(query.cursor, query.sort)  # a bad cursor is refused, cached or not
        if self._caching():
            return self.cache.page(query, self._load_page, self._load)
        return self.cache.page(
            query,
            functools.partial(self._load_page, may_lag=True, user_id=user_id),
            self._loader(user_id),
        )

    def _load_page(
        self, query: ProductQuery, *, may_lag: bool = False, user_id: int | None = None
    ) -> LoadedPage:
        after = self._decode(query.cursor, query.sort) if query.cursor else None
        with self._uow(write=False, may_lag=may_lag, user_id=user_id) as uow:
            # The one after the page too: a cached page is checked against it.
            rows = [self._shown(s) for s in uow.products.list(query, after, query.limit + 1)]
        items = rows[: query.limit]
        lookahead = rows[query.limit] if len(rows) > query.limit else None
        cursor = (
            encode_cursor(query.sort.value, _sort_key(items[-1], query.sort))
            if lookahead is not None
            else None
        )
        return LoadedPage(items, lookahead, cursor)

    def count(self) -> int:
        with self._uow(write=False, may_lag=True) as uow:
            return uow.products.count()

    # --- images ------------------------------------------------------------------------

    def add_image(
        self, product_id: int, data: bytes, alt: str = "", *, user_id: int | None = None
    ) -> ProductImage:
        """Check an uploaded image, store its renditions and append it to the product's
        images (a new product version).

        Raises :class:`~minicommerce.errors.PayloadTooLarge`,
        :class:`~minicommerce.errors.UnsupportedMediaType` or
        :class:`~minicommerce.errors.InvalidImage` for bytes it refuses (see
        ``minicommerce.images``), :class:`~minicommerce.errors.MediaNotConfigured` without
        a media storage.
        """
        checked_alt = _Alt(alt=alt).alt
        if isinstance(self.media, UnconfiguredMediaStorage):
            raise MediaNotConfigured()
        self._exists(product_id)  # a missing product costs no image processing
        processed = process_image(
            data,
            max_bytes=self.image_limits.max_bytes,
            max_pixels=self.image_limits.max_pixels,
        )
        new = NewImage(
            alt=checked_alt,
            width=processed.width,
            height=processed.height,
            content_hash=processed.content_hash,
            format=processed.source_format,
            renditions=tuple(
                StoredRendition(r.width, r.height, r.format, r.name) for r in processed.renditions
            ),
        )
        try:
            # Files first, then the row: a row never points at files that are not there.
            for rendition in processed.renditions:
                self.media.put(rendition.name, rendition.data, rendition.content_type)
            with self._uow(write=True, user_id=user_id) as uow:
                self._touch(uow, product_id)
                stored = uow.product_images.add(product_id, new, self._clock())
                uow.commit()
        except BaseException:
            self._forget_files(new.content_hash, new.renditions)
            raise
        self.cache.changed(CatalogChange.of([product_id]))
        return self._image(stored)

    def update_image(
        self,
        product_id: int,
        image_id: int,
        changes: ImageChanges,
        *,
        user_id: int | None = None,
    ) -> ProductImage:
        """Change an image's alt text or move it (the others shift; positions stay
        0..n-1); a new product version when anything changes."""
        values = changes.changes()
        with self._uow(write=True, user_id=user_id) as uow:
            if values:
                self._touch(uow, product_id)
            image = self._image_of(uow, product_id, image_id)
            if "alt" in values:
                uow.product_images.set_alt(image.id, values["alt"])
            if "position" in values:
                uow.product_images.move(image, values["position"])
            if values:
                image = self._image_of(uow, product_id, image_id)
                uow.commit()
        if values:
            self.cache.changed(CatalogChange.of([product_id]))
        return self._image(image)

    def remove_image(self, product_id: int, image_id: int, *, user_id: int | None = None) -> None:
        """Remove an image from its product (a new product version). Its files go too,
        unless another image was made from the same upload. Orders never refer to images."""
        with self._uow(write=True, user_id=user_id) as uow:
            self._touch(uow, product_id)
            image = self._image_of(uow, product_id, image_id)
            uow.product_images.remove(image)
            in_use = uow.product_images.hash_in_use(image.content_hash)
            uow.commit()
        self.cache.changed(CatalogChange.of([product_id]))
        if not in_use:
            self._delete_files(image.renditions)

    def _touch(self, uow: UnitOfWork, product_id: int) -> Product:
        """A new version of a live product; also takes its row lock, which serialises
        changes to its images."""
        if not is_valid_id(product_id):
            raise NotFound(_RESOURCE, product_id)
        product = uow.products.update(product_id, {}, self._clock())
        if product is None:
            raise NotFound(_RESOURCE, product_id)
        return product

    @staticmethod
    def _image_of(uow: UnitOfWork, product_id: int, image_id: int) -> StoredImage:
        image = uow.product_images.get(product_id, image_id) if is_valid_id(image_id) else None
        if image is None:
            raise NotFound(_IMAGE, image_id)
        return image

    def _forget_files(self, content_hash: str, renditions: Sequence[StoredRendition]) -> None:
        """Remove the files of an upload that was not recorded, unless a row uses them."""
        try:
            with self._uow(write=False) as uow:
                in_use = uow.product_images.hash_in_use(content_hash)
        except Exception:  # the database is away: leave the files rather than guess
            log.warning("could not check whether image %s is in use", content_hash)
            return
        if not in_use:
            self._delete_files(renditions)

    def _delete_files(self, renditions: Sequence[StoredRendition]) -> None:
        for rendition in renditions:
            try:
                self.media.delete(rendition.name)
            except Exception:  # the row is gone already: a stray file is only space
                log.warning("could not delete media file %s", rendition.name, exc_info=True)

    def _shown(self, shown: ShownProduct) -> Product:
        product = shown.product
        if shown.images:
            product.images = [self._image(image) for image in shown.images]
        return product

    def _image(self, image: StoredImage) -> ProductImage:
        url = self.media.url
        renditions = [Rendition(r.width, r.height, r.format, url(r.name)) for r in image.renditions]
        main = next(
            (r for r in reversed(renditions) if r.format != "webp"),
            renditions[-1],
        )
        return ProductImage(image.id, image.alt, image.width, image.height, main.url, renditions)

    @staticmethod
    def _current(
        product: Product | None, product_id: int, if_match: Collection[int] | None
    ) -> Product:
        if product is None:
            raise NotFound(_RESOURCE, product_id)
        if if_match is not None and product.version not in if_match:
            raise PreconditionFailed(_RESOURCE, product_id, product.version)
        return product

    @staticmethod
    def _mismatch(product: Product | None, product_id: int) -> NotFound | PreconditionFailed:
        """Why a conditional write matched no row: gone, or at another version."""
        if product is None:
            return NotFound(_RESOURCE, product_id)
        return PreconditionFailed(_RESOURCE, product_id, product.version)

    @staticmethod
    def _decode(cursor: str, sort: ProductSort) -> Sequence[Any]:
        if sort is ProductSort.NEWEST:
            (last_id,) = decode_cursor(cursor, sort.value, 1)
            if not isinstance(last_id, int):
                raise ValidationError.single("cursor", "is not a valid cursor")
            return (last_id,)
        value, last_id = decode_cursor(cursor, sort.value, 2)
        if not isinstance(last_id, int) or not isinstance(value, str):
            raise ValidationError.single("cursor", "is not a valid cursor")
        if sort is ProductSort.NAME:
            return (value, last_id)
        try:
            return (parse_amount(value), last_id)
        except ValueError:
            raise ValidationError.single("cursor", "is not a valid cursor") from None


def _sort_key(product: Product, sort: ProductSort) -> tuple[str | int, ...]:
    if sort is ProductSort.NEWEST:
        return (product.id,)
    if sort is ProductSort.NAME:
        return (product.name, product.id)
    return (str(product.price), product.id)
