"""POST /products/{id}/images, PATCH and DELETE /products/{id}/images/{image_id}, /media/."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from minicommerce import ImageLimits, Settings, Shop
from minicommerce.media import UnconfiguredMediaStorage
from minicommerce_server.routes.media import CACHE_CONTROL
from tests.images import GPS_IFD, encode, opened, photo, png_bomb, truncated, with_exif
from tests.server.conftest import Account, Client
from tests.server.helpers import API, assert_problem, assert_validation, make_product

IMAGE_FIELDS = {"id", "alt", "width", "height", "url", "renditions"}
TYPES = {"webp": "image/webp", "jpg": "image/jpeg", "png": "image/png"}


def images_url(product_id: int) -> str:
    return f"{API}/products/{product_id}/images"


def upload(
    client: Client,
    account: Account | None,
    product_id: int,
    data: bytes,
    *,
    filename: str = "photo.jpg",
    content_type: str = "image/jpeg",
    alt: str | None = None,
) -> Any:
    form = {"alt": alt} if alt is not None else None
    return client.post(
        images_url(product_id),
        files={"file": (filename, data, content_type)},
        data=form,
        headers=account.headers if account else None,
    )


def assert_image(body: dict[str, Any]) -> None:
    assert set(body) == IMAGE_FIELDS, body
    assert body["url"].startswith("/")
    for rendition in body["renditions"]:
        assert set(rendition) == {"width", "height", "format", "url"}
        assert rendition["url"].startswith("/media/")


@pytest.fixture
def product_id(sqlite_shop: Shop) -> int:
    return make_product(sqlite_shop).id


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_staff_upload_each_format(
    client: Client, staff: Account, product_id: int, fmt: str
) -> None:
    response = upload(client, staff, product_id, photo(900, 600, fmt), alt="A mug")
    assert response.status_code == 201, response.text
    body = response.json()
    assert_image(body)
    assert (body["width"], body["height"], body["alt"]) == (900, 600, "A mug")
    assert [(r["width"], r["format"]) for r in body["renditions"]] == [
        (320, "webp"),
        (320, "jpg"),
        (640, "webp"),
        (640, "jpg"),
        (900, "webp"),
        (900, "jpg"),
    ]
    product = client.get(f"{API}/products/{product_id}").json()
    assert product["images"] == [body]


def test_the_type_comes_from_the_bytes_not_the_name_or_declared_type(
    client: Client, staff: Account, product_id: int
) -> None:
    png = encode(Image.new("RGBA", (300, 200), (0, 0, 0, 0)), "PNG")
    response = upload(client, staff, product_id, png, filename="x.jpg", content_type="image/jpeg")
    assert response.status_code == 201, response.text
    assert {r["format"] for r in response.json()["renditions"]} == {"webp", "png"}
    text = upload(client, staff, product_id, b"just text", filename="a.png",
                  content_type="image/png")  # fmt: skip
    assert_problem(text, 415, "unsupported_media_type")


def test_a_truncated_image_is_422(client: Client, staff: Account, product_id: int) -> None:
    response = upload(client, staff, product_id, truncated(photo(800, 600)))
    assert_problem(response, 422, "invalid_image", {"file"})


def test_a_bomb_is_refused_without_decoding(
    client: Client, staff: Account, product_id: int
) -> None:
    response = upload(client, staff, product_id, png_bomb(), filename="b.png")
    assert_problem(response, 422, "invalid_image", {"file"})


def test_above_the_size_setting_is_413(
    client: Client, staff: Account, product_id: int, sqlite_shop: Shop
) -> None:
    data = photo(800, 600)
    sqlite_shop.catalog.image_limits = ImageLimits(max_bytes=len(data) - 1)
    assert_problem(upload(client, staff, product_id, data), 413, "payload_too_large")


def test_the_body_limit_of_the_upload_route_follows_the_setting(
    app_factory: Any, sqlite_shop: Shop, staff: Account, product_id: int
) -> None:
    from litestar.testing import TestClient

    noise = Image.frombytes("RGB", (1000, 1000), os.urandom(3_000_000))
    big = encode(noise, "PNG")
    assert len(big) > 2 * 1024 * 1024  # above the body limit of every other route
    with TestClient(app_factory()) as client:
        response = upload(client, staff, product_id, big, filename="n.png")
        assert response.status_code == 201, response.text
        too_big_json = client.post(
            f"{API}/products", content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
            headers={**staff.headers, "Content-Type": "application/json"},
        )  # fmt: skip
        assert_problem(too_big_json, 413, "payload_too_large")
    with TestClient(app_factory(media_max_bytes=100_000)) as client:
        assert_problem(upload(client, staff, product_id, big), 413, "payload_too_large")


def test_exif_and_gps_are_gone_from_every_rendition_served(
    client: Client, staff: Account, product_id: int
) -> None:
    response = upload(client, staff, product_id, with_exif(1600, 1200, orientation=6))
    body = response.json()
    assert (body["width"], body["height"]) == (1200, 1600)
    for rendition in body["renditions"]:
        served = client.get(rendition["url"])
        assert served.status_code == 200
        image = opened(served.content)
        assert image.size == (rendition["width"], rendition["height"])
        assert len(image.getexif()) == 0
        assert image.getexif().get_ifd(GPS_IFD) == {}
        assert "exif" not in image.info


def test_renditions_are_served_immutable_with_their_type(
    client: Client, staff: Account, product_id: int, tmp_path: Path
) -> None:
    png = encode(Image.new("RGBA", (300, 200), (0, 0, 0, 10)), "PNG")
    for data in (photo(300, 200), png):
        body = upload(client, staff, product_id, data).json()
        for rendition in body["renditions"]:
            served = client.get(rendition["url"])
            assert served.status_code == 200
            assert served.headers["cache-control"] == CACHE_CONTROL
            assert served.headers["content-type"] == TYPES[rendition["format"]]
            assert served.headers["x-content-type-options"] == "nosniff"
            path = tmp_path / "media" / rendition["url"].removeprefix("/media/")
            assert served.content == path.read_bytes()


def test_media_serves_nothing_else(
    client: Client, staff: Account, product_id: int, tmp_path: Path
) -> None:
    body = upload(client, staff, product_id, photo(300, 200)).json()
    media = tmp_path / "media"
    (media / "notes.txt").write_text("private")
    (media / "ab").mkdir(exist_ok=True)
    os.symlink(tmp_path / "shop.db", media / "ab" / "link.png")
    directory = body["url"].removeprefix("/media/").split("/")[0]
    for path in [
        "/media/",
        f"/media/{directory}",
        f"/media/{directory}/",
        "/media/notes.txt",
        "/media/../shop.db",
        "/media/%2e%2e/shop.db",
        "/media/..%2fshop.db",
        "/media/ab/link.png",
        "/media/ab/missing.png",
        body["url"] + ".txt",
    ]:
        response = client.get(path)
        assert response.status_code == 404, path
        assert b"private" not in response.content


def test_reorder_and_alt(client: Client, staff: Account, product_id: int) -> None:
    ids = [upload(client, staff, product_id, photo(300 + n, 200)).json()["id"] for n in range(3)]
    etag = client.get(f"{API}/products/{product_id}").headers["etag"]
    response = client.patch(
        f"{images_url(product_id)}/{ids[2]}", json={"position": 0, "alt": "front"},
        headers=staff.headers,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    assert_image(response.json())
    assert response.json()["alt"] == "front"
    product = client.get(f"{API}/products/{product_id}")
    assert [i["id"] for i in product.json()["images"]] == [ids[2], ids[0], ids[1]]
    assert product.headers["etag"] != etag


@pytest.mark.parametrize(
    "body",
    [{"position": -1}, {"position": "1"}, {"alt": None}, {"alt": "x" * 1001}, {"url": "/x"}],
)
def test_patch_validation(
    client: Client, staff: Account, product_id: int, body: dict[str, Any]
) -> None:
    image_id = upload(client, staff, product_id, photo(300, 200)).json()["id"]
    response = client.patch(f"{images_url(product_id)}/{image_id}", json=body,
                            headers=staff.headers)  # fmt: skip
    assert_validation(response, *body)


def test_upload_validation(client: Client, staff: Account, product_id: int) -> None:
    response = client.post(images_url(product_id), data={"alt": "no file"}, headers=staff.headers,
                           files={"other": ("x", b"y", "text/plain")})  # fmt: skip
    assert response.status_code == 422, response.text
    long_alt = upload(client, staff, product_id, photo(300, 200), alt="x" * 1001)
    assert_validation(long_alt, "alt")


def test_delete(client: Client, staff: Account, product_id: int) -> None:
    body = upload(client, staff, product_id, photo(300, 200)).json()
    response = client.delete(f"{images_url(product_id)}/{body['id']}", headers=staff.headers)
    assert response.status_code == 204
    assert client.get(f"{API}/products/{product_id}").json()["images"] == []
    assert client.get(body["url"]).status_code == 404
    again = client.delete(f"{images_url(product_id)}/{body['id']}", headers=staff.headers)
    assert_problem(again, 404, "not_found")


def test_404s(client: Client, staff: Account, product_id: int, sqlite_shop: Shop) -> None:
    other = make_product(sqlite_shop, "Plate").id
    image_id = upload(client, staff, product_id, photo(300, 200)).json()["id"]
    assert_problem(upload(client, staff, 999_999, photo(300, 200)), 404, "not_found")
    for path in [f"{images_url(other)}/{image_id}", f"{images_url(product_id)}/999999",
                 f"{images_url(999_999)}/{image_id}"]:  # fmt: skip
        assert_problem(client.patch(path, json={"alt": "x"}, headers=staff.headers), 404,
                       "not_found")  # fmt: skip
        assert_problem(client.delete(path, headers=staff.headers), 404, "not_found")


def test_customers_and_strangers_may_not(
    client: Client, customer: Account, staff: Account, product_id: int
) -> None:
    image_id = upload(client, staff, product_id, photo(300, 200)).json()["id"]
    one = f"{images_url(product_id)}/{image_id}"
    assert_problem(upload(client, customer, product_id, photo(300, 200)), 403,
                   "permission_denied")  # fmt: skip
    assert_problem(upload(client, None, product_id, photo(300, 200)), 401, "unauthenticated")
    assert_problem(client.patch(one, json={"alt": "x"}, headers=customer.headers), 403,
                   "permission_denied")  # fmt: skip
    assert_problem(client.delete(one, headers=customer.headers), 403, "permission_denied")
    assert_problem(client.delete(one), 401, "unauthenticated")


def test_without_media_storage_uploads_are_503(
    client: Client, staff: Account, product_id: int, sqlite_shop: Shop
) -> None:
    sqlite_shop.catalog.media = UnconfiguredMediaStorage()
    response = upload(client, staff, product_id, photo(300, 200))
    body = assert_problem(response, 503, "media_not_configured")
    assert "MINICOMMERCE_MEDIA_DIR" in body["detail"]


def test_media_url_puts_a_cdn_in_front(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/cdn.db",
        secret_key="s" * 40,
        media_url="https://cdn.example.com/shop",
        media_dir=tmp_path / "files",
    )
    with Shop.from_settings(settings) as shop:
        product = make_product(shop)
        image = shop.catalog.add_image(product.id, photo(300, 200))
        assert image.url.startswith("https://cdn.example.com/shop/")
        name = image.url.removeprefix("https://cdn.example.com/shop/")
        assert (tmp_path / "files" / name).is_file()


def test_the_media_directory_defaults_beside_a_sqlite_database(tmp_path: Path) -> None:
    assert Settings(database_url=f"sqlite:///{tmp_path}/x.db").resolve_media_dir() == (
        tmp_path / "media"
    )
    assert Settings(database_url="sqlite://").resolve_media_dir() is None
    assert Settings(database_url="postgresql://u@h/db").resolve_media_dir() is None
    assert Settings(media_dir=tmp_path, database_url="postgresql://u@h/db").resolve_media_dir() == (
        tmp_path
    )
    with pytest.raises(ValueError, match="media_url"):
        Settings(media_url="cdn.example.com")


def test_the_upload_is_documented_as_a_multipart_form(client: Client) -> None:
    schema = client.get("/schema/openapi.json").json()
    operation = schema["paths"][f"{API}/products/{{product_id}}/images"]["post"]
    assert set(operation["requestBody"]["content"]) == {"multipart/form-data"}
    assert operation["security"] == [{"BearerToken": []}]
