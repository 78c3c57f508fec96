"""Two `minicommerce serve` instances behind nginx (least_conn), one PostgreSQL database,
one Redis: the limits, the login throttle, idempotency, media and sessions hold as if
there were one server. The tests go through nginx and show from the instances' own
/metrics that both took part, except where a test must choose the instance (sessions).

nginx connects to the instances from 127.0.0.2, which they trust as their proxy, and
sets ``X-Forwarded-For`` to the address its client connected from; the tests' clients
connect from distinct loopback addresses to be distinct clients.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator

import pytest
import redis

from tests.conftest import REDIS_URL, new_postgres_database, require_service
from tests.fleet.client import API, Answer, call, degraded_count, upload_image
from tests.fleet.conftest import (
    ADDRESS,
    PASSWORD,
    burst,
    library_token,
    new_products,
    new_user,
)
from tests.fleet.machine import fresh_window
from tests.fleet.servers import Fleet, fleet
from tests.images import photo

ANON = 20  # per client address and hour
USER = 40  # per user and hour
HOUR = 3600
MAX_FAILURES = 10  # the login throttle's default
MEDIA_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


@pytest.fixture(scope="module")
def shop_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Fleet, str]]:
    require_service("redis", REDIS_URL, 6379)
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    try:
        with (
            new_postgres_database("mc_fleet") as url,
            fleet(
                tmp_path_factory.mktemp("fleet"),
                url,
                {
                    "MINICOMMERCE_REDIS_URL": REDIS_URL,
                    "MINICOMMERCE_RATE_LIMIT_ANON": f"{ANON}/hour",
                    "MINICOMMERCE_RATE_LIMIT_USER": f"{USER}/hour",
                    # A busy test machine may take longer than the default 50 ms to answer;
                    # a request whose Redis call times out is limited per process, which
                    # would make the counts below loose (and the degraded metric count).
                    "MINICOMMERCE_REDIS_TIMEOUT": "2",
                },
            ) as shop,
        ):
            yield shop, url
            assert "Traceback" not in shop.outputs(), shop.outputs()
    finally:
        client.flushdb()
        client.close()


def served_by_each(
    shop: Fleet, before: list[Counter[tuple[str, str, int]]], route: str
) -> list[int]:
    """How many requests to ``route`` each instance answered since ``before``."""
    return [
        sum(n for (_, r, _), n in (after - earlier).items() if r == route)
        for earlier, after in zip(before, shop.served(), strict=True)
    ]


def degraded(shop: Fleet) -> list[int]:
    return [degraded_count(instance.port) for instance in shop.instances]


def assert_limited(answer: Answer) -> None:
    assert answer.is_problem, answer.headers
    assert answer.json()["code"] == "rate_limited"
    assert int(answer.headers["retry-after"]) >= 1


def test_the_anonymous_limit_is_one_limit_across_instances(
    shop_fleet: tuple[Fleet, str],
) -> None:
    shop, _ = shop_fleet
    fresh_window(HOUR)
    before, degraded_before = shop.served(), degraded(shop)
    answers = burst(
        2 * ANON,
        lambda _: call(shop.port, "GET", f"{API}/products?limit=1", source="127.0.0.10"),
    )
    assert degraded(shop) == degraded_before, "every request was counted in Redis"
    assert Counter(a.status for a in answers) == {200: ANON, 429: ANON}
    for answer in answers:
        if answer.status == 429:
            assert_limited(answer)
    each = served_by_each(shop, before, f"{API}/products")
    assert sum(each) == 2 * ANON
    assert min(each) > 0, f"both instances answered part of the burst: {each}"

    # Another address is another client, whatever it writes in X-Forwarded-For: nginx
    # replaces the header, and the instances believe only what nginx wrote.
    other = call(
        shop.port,
        "GET",
        f"{API}/products?limit=1",
        source="127.0.0.11",
        headers={"X-Forwarded-For": "127.0.0.10"},
    )
    assert other.status == 200
    assert call(shop.port, "GET", f"{API}/products?limit=1", source="127.0.0.10").status == 429


def test_the_per_user_limit_is_one_limit_across_instances(
    shop_fleet: tuple[Fleet, str],
) -> None:
    shop, url = shop_fleet
    token = library_token(url, new_user(url))
    fresh_window(HOUR)
    before, degraded_before = shop.served(), degraded(shop)
    # From many addresses: the user's limit follows the user, not the address.
    answers = burst(
        2 * USER,
        lambda i: call(shop.port, "GET", f"{API}/me", token=token, source=f"127.0.0.{20 + i % 4}"),
    )
    assert degraded(shop) == degraded_before, "every request was counted in Redis"
    assert Counter(a.status for a in answers) == {200: USER, 429: USER}
    for answer in answers:
        if answer.status == 429:
            assert_limited(answer)
    each = served_by_each(shop, before, f"{API}/me")
    assert sum(each) == 2 * USER
    assert min(each) > 0, f"both instances answered part of the burst: {each}"


def test_the_login_throttle_holds_across_instances_and_addresses(
    shop_fleet: tuple[Fleet, str],
) -> None:
    shop, url = shop_fleet
    email = new_user(url)
    before = shop.served()
    # Concurrent wrong passwords, each from its own address (so that no address limit
    # is what stops them), spread by nginx over both instances.
    answers = burst(
        3 * MAX_FAILURES,
        lambda i: call(
            shop.port,
            "POST",
            f"{API}/auth/login",
            json_body={"email": email, "password": "not the password"},
            source=f"127.0.1.{i + 1}",
        ),
    )
    statuses = Counter(a.status for a in answers)
    assert statuses == {401: MAX_FAILURES, 429: 2 * MAX_FAILURES}, statuses
    for answer in answers:
        if answer.status == 429:
            assert_limited(answer)
        else:
            assert answer.json()["code"] == "invalid_credentials"
    each = served_by_each(shop, before, f"{API}/auth/login")
    assert min(each) > 0, f"both instances answered attempts: {each}"
    # The right password, now, from yet another address: still throttled.
    right = call(
        shop.port,
        "POST",
        f"{API}/auth/login",
        json_body={"email": email, "password": "correct horse battery"},
        source="127.0.1.200",
    )
    assert right.status == 429
    assert_limited(right)


def test_one_idempotency_key_sent_to_both_instances_at_once_makes_one_order(
    shop_fleet: tuple[Fleet, str],
) -> None:
    shop, url = shop_fleet
    token = library_token(url, new_user(url))
    (product,) = new_products(url, [50])
    key = str(uuid.uuid4())
    body = {"shipping_address": ADDRESS, "items": [{"product_id": product, "quantity": 2}]}

    def place(_: int) -> Answer:
        return call(
            shop.port,
            "POST",
            f"{API}/orders",
            json_body=body,
            token=token,
            headers={"Idempotency-Key": key},
        )

    before = shop.served()
    answers = burst(8, place, threads=8)
    # The server waits for the first request and replays its answer (API.md allows a
    # 409 idempotency_key_in_progress instead; this server does not use it).
    assert {a.status for a in answers} == {201}, [a.body for a in answers]
    assert len({a.body for a in answers}) == 1, "every answer is the first answer"
    each = served_by_each(shop, before, f"{API}/orders")
    assert min(each) > 0, f"both instances answered the key: {each}"

    order = answers[0].json()
    orders = call(shop.port, "GET", f"{API}/orders", token=token).json()
    assert [o["id"] for o in orders["items"]] == [order["id"]]
    stock = call(shop.port, "GET", f"{API}/products/{product}").json()["stock_quantity"]
    assert stock == 50 - 2

    replay = place(0)
    assert (replay.status, replay.body) == (201, answers[0].body)
    other = dict(body, items=[{"product_id": product, "quantity": 3}])
    reused = call(
        shop.port,
        "POST",
        f"{API}/orders",
        json_body=other,
        token=token,
        headers={"Idempotency-Key": key},
    )
    assert reused.status == 422
    assert reused.json()["code"] == "idempotency_key_reused"


def test_an_image_uploaded_through_one_instance_is_served_by_nginx_from_the_shared_media(
    shop_fleet: tuple[Fleet, str],
) -> None:
    shop, url = shop_fleet
    token = library_token(url, new_user(url, is_staff=True))
    (product,) = new_products(url, [5])
    uploaded = upload_image(shop.port, product, photo(800, 600), token)
    assert uploaded.status == 201, uploaded.body
    renditions = uploaded.json()["renditions"]
    assert renditions
    for rendition in renditions:
        assert rendition["url"].startswith("/media/")
        served = call(shop.port, "GET", rendition["url"])
        assert served.status == 200
        assert served.headers["content-type"] == MEDIA_TYPES[rendition["format"]]
        assert "immutable" in served.headers["cache-control"]
        assert served.headers["x-content-type-options"] == "nosniff"
    # nginx answered those from the directory: no instance saw a request for a file.
    assert not [key for served in shop.served() for key in served if key[1].startswith("/media")]
    # Both instances show the image.
    for instance in shop.instances:
        shown = call(instance.port, "GET", f"{API}/products/{product}").json()
        assert [image["id"] for image in shown["images"]] == [uploaded.json()["id"]]


def test_a_logout_on_one_instance_ends_the_session_on_the_other_at_once(
    shop_fleet: tuple[Fleet, str],
) -> None:
    shop, url = shop_fleet
    email = new_user(url)
    first, second = shop.instances
    login = call(
        first.port,
        "POST",
        f"{API}/auth/login",
        json_body={"email": email, "password": PASSWORD},
        source="127.0.0.40",
    )
    assert login.status == 200
    tokens = login.json()
    for instance in shop.instances:
        assert call(instance.port, "GET", f"{API}/me", token=tokens["access_token"]).status == 200
    logout = call(
        first.port,
        "POST",
        f"{API}/auth/logout",
        json_body={"refresh_token": tokens["refresh_token"]},
        source="127.0.0.40",
    )
    assert logout.status == 204
    # The other instance had accepted the token a moment ago (and cached its signature).
    refused = call(second.port, "GET", f"{API}/me", token=tokens["access_token"])
    assert refused.status == 401
