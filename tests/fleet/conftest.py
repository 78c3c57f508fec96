"""Fixtures of the fleet tests: users and products made through the library, and the
bursts of concurrent requests the tests send."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier
from typing import TypeVar

from minicommerce import Credentials, NewProduct, Registration, Shop
from tests.conftest import FAST_ARGON2, SECRET
from tests.fleet.client import API, call

T = TypeVar("T")
PASSWORD = "correct horse battery"
ADDRESS = {
    "full_name": "Ada Lovelace",
    "line1": "12 St James's Square",
    "city": "London",
    "postal_code": "SW1Y 4JH",
    "country": "GB",
}


def open_shop(database_url: str) -> Shop:
    return Shop.open(database_url, secret_key=SECRET, argon2=FAST_ARGON2, migrate=False)


def new_user(database_url: str, *, is_staff: bool = False) -> str:
    """A new customer's (or staff member's) email (password: PASSWORD)."""
    email = f"buyer-{uuid.uuid4().hex[:12]}@example.com"
    with open_shop(database_url) as shop:
        shop.accounts.register(Registration(email=email, password=PASSWORD), is_staff=is_staff)
    return email


def library_token(database_url: str, email: str) -> str:
    """An access token made by the library: it signs with the fleet's secret, so every
    instance accepts it, and no request counts against a client address."""
    with open_shop(database_url) as shop:
        return shop.auth.login(Credentials(email=email, password=PASSWORD)).access_token


def new_products(database_url: str, stocks: Sequence[int]) -> list[int]:
    with open_shop(database_url) as shop:
        return [
            shop.catalog.create(
                NewProduct(name=f"Mug {i}", price=f"{i + 3}.25", stock_quantity=stock)
            ).id
            for i, stock in enumerate(stocks)
        ]


def login(port: int, email: str, source: str) -> str:
    answer = call(
        port,
        "POST",
        f"{API}/auth/login",
        json_body={"email": email, "password": PASSWORD},
        source=source,
    )
    assert answer.status == 200, answer.body
    token: str = answer.json()["access_token"]
    return token


def burst(count: int, send: Callable[[int], T], threads: int = 16) -> list[T]:
    """``send(0..count-1)`` from ``threads`` threads that start together."""
    threads = min(threads, count)
    start = Barrier(threads)

    def run(worker: int) -> list[T]:
        start.wait()
        return [send(i) for i in range(worker, count, threads)]

    with ThreadPoolExecutor(threads) as pool:
        return [answer for part in pool.map(run, range(threads)) for answer in part]
