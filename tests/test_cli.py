"""The minicommerce command, run in-process against a fresh SQLite database."""

from __future__ import annotations

from pathlib import Path

import pytest

from minicommerce import Credentials, Shop
from minicommerce.demo import DEMO_PRODUCTS
from minicommerce_server import cli
from tests.conftest import SECRET


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("MINICOMMERCE_DATABASE_URL", url)
    monkeypatch.setenv("MINICOMMERCE_SECRET_KEY", SECRET)
    monkeypatch.setenv("MINICOMMERCE_ARGON2_MEMORY_COST", "1024")
    monkeypatch.setenv("MINICOMMERCE_ARGON2_TIME_COST", "1")
    monkeypatch.chdir(tmp_path)
    return url


def test_db_upgrade(env: str) -> None:
    assert cli.main(["db", "upgrade"]) == 0
    with Shop.open(env, migrate=False) as shop:
        assert shop.catalog.count() == 0


def test_db_purge_idempotency_keys(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import UTC, datetime, timedelta

    from minicommerce import NewProduct, PlaceOrder, Registration

    monkeypatch.setenv("MINICOMMERCE_IDEMPOTENCY_KEY_TTL", "100000")
    when = [datetime.now(UTC) - timedelta(seconds=100_100)]
    with Shop.open(env, clock=lambda: when[0]) as shop:
        uid = shop.accounts.register(Registration(email="k@example.com", password="x" * 8)).id
        mug = shop.catalog.create(NewProduct(name="Mug", price="1.00", stock_quantity=5))
        wanted = PlaceOrder.parse(
            {
                "shipping_address": {"full_name": "K", "line1": "1 Way", "city": "C",
                                     "postal_code": "1", "country": "DE"},
                "items": [{"product_id": mug.id, "quantity": 1}],
            }
        )  # fmt: skip
        shop.orders.place(uid, wanted, "old-key")
        when[0] += timedelta(seconds=10_100)  # 90,000 s ago: past a day, within the TTL set
        shop.orders.place(uid, wanted, "newer-key")
    assert cli.main(["db", "purge-idempotency-keys"]) == 0
    assert "purged 1 idempotency key(s) older than 100000 s" in capsys.readouterr().err
    assert cli.main(["db", "purge-idempotency-keys"]) == 0
    assert "purged 0 idempotency key(s)" in capsys.readouterr().err  # "newer-key" stays


def test_demo_data_is_idempotent(env: str) -> None:
    assert cli.main(["demo-data"]) == 0
    assert cli.main(["demo-data"]) == 0
    with Shop.open(env, migrate=False) as shop:
        assert shop.catalog.count() == len(DEMO_PRODUCTS)


def test_create_admin_with_password(env: str) -> None:
    assert (
        cli.main(["create-admin", "--email", "Boss@Example.com", "--password", "a good one"]) == 0
    )
    with Shop.open(env, migrate=False, secret_key=SECRET) as shop:
        pair = shop.auth.login(Credentials(email="boss@example.com", password="a good one"))
        assert shop.auth.authenticate(pair.access_token).is_staff


def test_create_admin_prompts(env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter(["prompted password", "prompted password"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert cli.main(["create-admin", "--email", "p@example.com"]) == 0
    with Shop.open(env, migrate=False, secret_key=SECRET) as shop:
        shop.auth.login(Credentials(email="p@example.com", password="prompted password"))


def test_create_admin_refuses_mismatched_or_short_passwords(
    env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = iter(["one password", "another one"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert cli.main(["create-admin", "--email", "p@example.com"]) == 2
    assert cli.main(["create-admin", "--email", "p@example.com", "--password", "short"]) == 2


def test_postgres_without_secret_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MINICOMMERCE_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/none")
    monkeypatch.delenv("MINICOMMERCE_SECRET_KEY", raising=False)
    assert cli.main(["demo-data"]) == 2
    assert "MINICOMMERCE_SECRET_KEY" in capsys.readouterr().err


def test_demo_data_makes_a_customer_with_orders(env: str) -> None:
    from minicommerce import OrderStatus
    from minicommerce.demo import DEMO_CUSTOMER

    assert cli.main(["demo-data"]) == 0
    assert cli.main(["demo-data"]) == 0
    with Shop.open(env, migrate=False) as shop:
        customer = shop.accounts.find_by_email(DEMO_CUSTOMER)
        assert customer is not None
        statuses = [o.status for o in shop.orders.list(customer.id).items]
    assert statuses == [OrderStatus.SHIPPED, OrderStatus.PAID, OrderStatus.PENDING]
