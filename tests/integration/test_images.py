"""Product images on every backend: checked by content, stripped, resized, ordered."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from minicommerce import (
    ConfigurationError,
    ImageChanges,
    ImageLimits,
    InvalidImage,
    MediaNotConfigured,
    NewProduct,
    NotFound,
    PayloadTooLarge,
    Product,
    ProductImage,
    ProductQuery,
    Registration,
    Shop,
    UnsupportedMediaType,
    ValidationError,
)
from minicommerce.orders.models import PlaceOrder
from tests.images import (
    GPS_IFD,
    encode,
    opened,
    photo,
    png_bomb,
    transparent_png,
    truncated,
    with_exif,
)


def product(shop: Shop, name: str = "Mug") -> Product:
    return shop.catalog.create(NewProduct(name=name, price="9.50", stock_quantity=10))


def files(media_dir: Path) -> set[str]:
    return {str(p.relative_to(media_dir)) for p in media_dir.rglob("*") if p.is_file()}


def path_of(media_dir: Path, url: str) -> Path:
    assert url.startswith("/media/")
    return media_dir / url.removeprefix("/media/")


def shape(image: ProductImage) -> list[tuple[int, int, str]]:
    return [(r.width, r.height, r.format) for r in image.renditions]


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_each_format_is_stored_in_webp_and_a_fallback(
    media_shop: Shop, media_dir: Path, fmt: str
) -> None:
    p = product(media_shop)
    image = media_shop.catalog.add_image(p.id, photo(1600, 1200, fmt), "Red and blue")
    assert (image.width, image.height, image.alt) == (1600, 1200, "Red and blue")
    assert shape(image) == [
        (320, 240, "webp"),
        (320, 240, "jpg"),
        (640, 480, "webp"),
        (640, 480, "jpg"),
        (1280, 960, "webp"),
        (1280, 960, "jpg"),
    ]
    assert image.url == image.renditions[-1].url
    for rendition in image.renditions:
        stored = opened(path_of(media_dir, rendition.url).read_bytes())
        assert stored.format == {"webp": "WEBP", "jpg": "JPEG"}[rendition.format]
        assert stored.size == (rendition.width, rendition.height)
    assert len(files(media_dir)) == 6


def test_a_small_image_is_never_upscaled(media_shop: Shop) -> None:
    image = media_shop.catalog.add_image(product(media_shop).id, photo(500, 250, "PNG"))
    assert shape(image) == [(320, 160, "webp"), (320, 160, "jpg"), (500, 250, "webp"),
                            (500, 250, "jpg")]  # fmt: skip


def test_transparency_falls_back_to_png_and_an_unused_alpha_to_jpeg(media_shop: Shop) -> None:
    p = product(media_shop)
    clear = media_shop.catalog.add_image(p.id, transparent_png())
    assert {r.format for r in clear.renditions} == {"webp", "png"}
    assert clear.url.endswith(".png")
    opaque_rgba = encode(opened(photo(400, 300, "PNG")).convert("RGBA"), "PNG")
    opaque = media_shop.catalog.add_image(p.id, opaque_rgba)
    assert {r.format for r in opaque.renditions} == {"webp", "jpg"}


def test_exif_orientation_is_applied_and_every_rendition_is_stripped(
    media_shop: Shop, media_dir: Path
) -> None:
    # Orientation 6: the camera was turned; displayed, the image is rotated 90° clockwise,
    # so the red left half ends up on top.
    image = media_shop.catalog.add_image(product(media_shop).id, with_exif(1600, 1200, 6))
    assert (image.width, image.height) == (1200, 1600)
    for rendition in image.renditions:
        stored = opened(path_of(media_dir, rendition.url).read_bytes())
        assert stored.size == (rendition.width, rendition.height)
        assert rendition.height > rendition.width
        exif = stored.getexif()
        assert len(exif) == 0
        assert exif.get_ifd(GPS_IFD) == {}
        assert "exif" not in stored.info
        assert "icc_profile" not in stored.info
        assert "xmp" not in stored.info
        rgb = stored.convert("RGB")
        top = rgb.getpixel((rendition.width // 2, rendition.height // 8))
        bottom = rgb.getpixel((rendition.width // 2, rendition.height * 7 // 8))
        assert isinstance(top, tuple)
        assert isinstance(bottom, tuple)
        assert top[0] > 150
        assert top[2] < 100
        assert bottom[2] > 150
        assert bottom[0] < 100


def test_the_source_had_the_gps_position() -> None:
    # The check above is meaningful only if the upload really carries it.
    assert opened(with_exif()).getexif().get_ifd(GPS_IFD)[2] == (52.0, 31.0, 12.0)


@pytest.mark.parametrize(
    "data",
    [b"plain text, not an image", b"GIF89a" + b"\x00" * 100, encode(opened(photo(40, 40)), "GIF")],
    ids=["text", "fake-gif", "gif"],
)
def test_anything_but_jpeg_png_or_webp_is_unsupported(
    media_shop: Shop, media_dir: Path, data: bytes
) -> None:
    p = product(media_shop)
    with pytest.raises(UnsupportedMediaType):
        media_shop.catalog.add_image(p.id, data)
    assert files(media_dir) == set()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_a_truncated_image_is_invalid(media_shop: Shop, media_dir: Path, fmt: str) -> None:
    p = product(media_shop)
    with pytest.raises(InvalidImage) as caught:
        media_shop.catalog.add_image(p.id, truncated(photo(800, 600, fmt)))
    assert caught.value.code == "invalid_image"
    assert files(media_dir) == set()
    assert media_shop.catalog.get(p.id).version == p.version


def test_a_decompression_bomb_is_refused_from_its_header(media_shop: Shop) -> None:
    bomb = png_bomb()
    assert len(bomb) < 1000
    with pytest.raises(InvalidImage, match="pixels"):
        media_shop.catalog.add_image(product(media_shop).id, bomb)


def test_the_pixel_limit_is_a_setting(media_shop: Shop) -> None:
    media_shop.catalog.image_limits = ImageLimits(max_pixels=1000 * 1000)
    p = product(media_shop)
    media_shop.catalog.add_image(p.id, photo(1000, 1000))
    with pytest.raises(InvalidImage, match="more than 1000000 pixels"):
        media_shop.catalog.add_image(p.id, photo(1001, 1000))


def test_the_size_limit_is_a_setting(media_shop: Shop) -> None:
    data = photo(800, 600)
    media_shop.catalog.image_limits = ImageLimits(max_bytes=len(data) - 1)
    with pytest.raises(PayloadTooLarge) as caught:
        media_shop.catalog.add_image(product(media_shop).id, data)
    assert caught.value.limit == len(data) - 1


def test_images_are_ordered_and_appear_on_the_product_in_get_and_list(media_shop: Shop) -> None:
    p = product(media_shop)
    other = product(media_shop, "Plate")
    first = media_shop.catalog.add_image(p.id, photo(400, 300), "first")
    second = media_shop.catalog.add_image(p.id, photo(401, 300), "second")
    got = media_shop.catalog.get(p.id)
    assert [i.id for i in got.images] == [first.id, second.id]
    assert got.version == p.version + 2
    assert got.updated_at >= p.updated_at
    listed = {item.id: item for item in media_shop.catalog.list().items}
    assert [i.alt for i in listed[p.id].images] == ["first", "second"]
    assert listed[p.id].images == got.images  # every field, renditions and their URLs too
    assert got.images[0] == first
    assert listed[other.id].images == []
    assert media_shop.catalog.get(other.id).images == []


def test_reorder_keeps_positions_dense(media_shop: Shop) -> None:
    p = product(media_shop)
    ids = [media_shop.catalog.add_image(p.id, photo(300 + n, 200)).id for n in range(4)]

    def order() -> list[int]:
        return [i.id for i in media_shop.catalog.get(p.id).images]

    media_shop.catalog.update_image(p.id, ids[3], ImageChanges(position=0))
    assert order() == [ids[3], ids[0], ids[1], ids[2]]
    # By position, not by id, in a page too.
    listed = [i for i in media_shop.catalog.list().items if i.id == p.id]
    assert [i.id for i in listed[0].images] == [ids[3], ids[0], ids[1], ids[2]]
    media_shop.catalog.update_image(p.id, ids[3], ImageChanges(position=2))
    assert order() == [ids[0], ids[1], ids[3], ids[2]]
    media_shop.catalog.update_image(p.id, ids[0], ImageChanges(position=99))  # past the end
    assert order() == [ids[1], ids[3], ids[2], ids[0]]
    before = media_shop.catalog.get(p.id).version
    changed = media_shop.catalog.update_image(p.id, ids[2], ImageChanges(alt="side view"))
    assert changed.alt == "side view"
    assert order() == [ids[1], ids[3], ids[2], ids[0]]
    assert media_shop.catalog.get(p.id).version == before + 1
    media_shop.catalog.remove_image(p.id, ids[3])
    assert order() == [ids[1], ids[2], ids[0]]
    media_shop.catalog.update_image(p.id, ids[0], ImageChanges(position=0))
    assert order() == [ids[0], ids[1], ids[2]]
    with media_shop.database.reader.connect() as conn:
        import sqlalchemy as sa

        positions = conn.execute(
            sa.text("SELECT position FROM product_images WHERE product_id = :p ORDER BY position"),
            {"p": p.id},
        ).scalars()
        assert list(positions) == [0, 1, 2]


def test_an_empty_change_changes_nothing(media_shop: Shop) -> None:
    p = product(media_shop)
    image = media_shop.catalog.add_image(p.id, photo(300, 200), "alt")
    version = media_shop.catalog.get(p.id).version
    assert media_shop.catalog.update_image(p.id, image.id, ImageChanges()) == image
    assert media_shop.catalog.get(p.id).version == version


def test_alt_text_is_validated(media_shop: Shop) -> None:
    p = product(media_shop)
    with pytest.raises(ValidationError):
        media_shop.catalog.add_image(p.id, photo(300, 200), "x" * 1001)
    with pytest.raises(ValidationError):
        ImageChanges(position=-1)
    with pytest.raises(ValidationError):
        ImageChanges.parse({"alt": None})


def test_missing_products_and_images_are_not_found(media_shop: Shop) -> None:
    p = product(media_shop)
    other = product(media_shop, "Plate")
    image = media_shop.catalog.add_image(p.id, photo(300, 200))
    with pytest.raises(NotFound):
        media_shop.catalog.add_image(999_999, photo(300, 200))
    for product_id, image_id in [(other.id, image.id), (p.id, 999_999), (999_999, image.id)]:
        with pytest.raises(NotFound):
            media_shop.catalog.update_image(product_id, image_id, ImageChanges(alt="x"))
        with pytest.raises(NotFound):
            media_shop.catalog.remove_image(product_id, image_id)
    assert [i.id for i in media_shop.catalog.get(p.id).images] == [image.id]
    media_shop.catalog.delete(p.id)
    with pytest.raises(NotFound):
        media_shop.catalog.add_image(p.id, photo(300, 200))
    with pytest.raises(NotFound):
        media_shop.catalog.remove_image(p.id, image.id)


def test_files_go_when_no_image_uses_them_any_more(media_shop: Shop, media_dir: Path) -> None:
    a, b = product(media_shop), product(media_shop, "Plate")
    data = photo(700, 500)
    first = media_shop.catalog.add_image(a.id, data)
    second = media_shop.catalog.add_image(b.id, data)  # the same upload: the same files
    assert [r.url for r in first.renditions] == [r.url for r in second.renditions]
    stored = files(media_dir)
    assert len(stored) == 6
    media_shop.catalog.remove_image(a.id, first.id)
    assert files(media_dir) == stored
    media_shop.catalog.remove_image(b.id, second.id)
    assert files(media_dir) == set()


def test_deleting_an_image_or_its_product_never_breaks_an_order(media_shop: Shop) -> None:
    p = product(media_shop)
    image = media_shop.catalog.add_image(p.id, photo(300, 200))
    buyer = media_shop.accounts.register(
        Registration(email=f"{uuid.uuid4().hex[:8]}@example.com", password="x" * 8)
    )
    address: dict[str, Any] = {"full_name": "A", "line1": "B", "city": "C", "postal_code": "D",
                               "country": "DE"}  # fmt: skip
    placed, _ = media_shop.orders.place(
        buyer.id,
        PlaceOrder.parse({"shipping_address": address, "items": [{"product_id": p.id,
                                                                   "quantity": 1}]}),
    )  # fmt: skip
    media_shop.catalog.remove_image(p.id, image.id)
    media_shop.catalog.delete(p.id)
    order = media_shop.orders.get(buyer.id, placed.id)
    assert [(i.product_id, i.name, i.unit_price) for i in order.items] == [(p.id, "Mug", p.price)]


def test_a_failed_insert_leaves_no_files(
    media_shop: Shop, media_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = product(media_shop)

    # The product goes between the check and the insert.
    def archive_then_fail(*args: Any, **kwargs: Any) -> Any:
        media_shop.catalog.delete(p.id)
        return original(*args, **kwargs)

    import minicommerce.catalog.service as service
    from minicommerce.images import process_image as original

    monkeypatch.setattr(service, "process_image", archive_then_fail)
    with pytest.raises(NotFound):
        media_shop.catalog.add_image(p.id, photo(300, 200))
    assert files(media_dir) == set()


def test_without_media_storage_uploads_are_refused(database_url: str) -> None:
    from minicommerce.storage.engine import open_database
    from tests.conftest import FAST_ARGON2, SECRET

    with Shop.over(open_database(database_url), secret_key=SECRET, argon2=FAST_ARGON2) as shop:
        p = product(shop)
        with pytest.raises(MediaNotConfigured) as caught:
            shop.catalog.add_image(p.id, photo(300, 200))
        assert isinstance(caught.value, ConfigurationError)
        assert "MINICOMMERCE_MEDIA_DIR" in caught.value.message


def test_without_pillow_an_upload_names_the_extra(
    media_shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = photo(300, 200)
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ConfigurationError, match=r"minicommerce\[images\]"):
        media_shop.catalog.add_image(product(media_shop).id, data)


def test_demo_products_get_drawn_images(sqlite_shop: Shop) -> None:
    from minicommerce.demo import DEMO_PRODUCTS, load_demo_data

    load_demo_data(sqlite_shop)
    items = sqlite_shop.catalog.list(ProductQuery(limit=100)).items
    assert len(items) == len(DEMO_PRODUCTS)
    assert all(len(p.images) == 1 for p in items)
    assert all(p.images[0].alt == f"{p.name} (illustration)" for p in items)
    load_demo_data(sqlite_shop)  # idempotent: no second image
    assert all(len(p.images) == 1 for p in sqlite_shop.catalog.list(ProductQuery(limit=100)).items)


def test_demo_data_without_a_media_directory_has_no_images() -> None:
    from minicommerce.demo import load_demo_data
    from tests.conftest import FAST_ARGON2, SECRET

    with Shop.open("sqlite://", secret_key=SECRET, argon2=FAST_ARGON2) as shop:
        assert load_demo_data(shop) > 0
        assert all(p.images == [] for p in shop.catalog.list().items)


def test_an_icc_profile_is_applied_and_dropped(media_shop: Shop, media_dir: Path) -> None:
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    tagged = encode(opened(photo(400, 300)), "JPEG", icc_profile=profile)
    assert opened(tagged).info.get("icc_profile")
    image = media_shop.catalog.add_image(product(media_shop).id, tagged)
    for rendition in image.renditions:
        stored = opened(path_of(media_dir, rendition.url).read_bytes())
        assert "icc_profile" not in stored.info
        red = stored.convert("RGB").getpixel((10, 10))
        assert isinstance(red, tuple)
        assert red[0] > 150


def test_a_large_png_is_reduced_before_it_is_turned(media_shop: Shop, media_dir: Path) -> None:
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = 8  # turned the other way: the red left half ends up at the bottom
    data = encode(opened(photo(2800, 2600, "PNG")), "PNG", exif=exif.tobytes())
    image = media_shop.catalog.add_image(product(media_shop).id, data)
    assert (image.width, image.height) == (2600, 2800)
    assert [(r.width, r.height) for r in image.renditions][::2] == [
        (320, 345),
        (640, 689),
        (1280, 1378),
    ]
    largest = opened(path_of(media_dir, image.url).read_bytes()).convert("RGB")
    top = largest.getpixel((640, 100))
    bottom = largest.getpixel((640, 1278))
    assert isinstance(top, tuple)
    assert isinstance(bottom, tuple)
    assert top[2] > 150  # blue
    assert bottom[0] > 150  # red
