"""Every file in examples/ runs, on the backends it is written for."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SECRET

EXAMPLES = Path(__file__).parents[2] / "examples"


def run(script: str, env: dict[str, str], cwd: Path) -> str:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_every_example_is_tested() -> None:
    assert {p.name for p in EXAMPLES.glob("*.py")} == {
        "quickstart.py",
        "postgres_redis.py",
        "checkout.py",
        "async_orders.py",
    }


def test_checkout(database_url: str, tmp_path: Path) -> None:
    env = {"MINICOMMERCE_DATABASE_URL": database_url, "MINICOMMERCE_SECRET_KEY": SECRET}
    out = run("checkout.py", env, tmp_path)
    assert "cart: 3 items, 34.00 USD" in out
    assert "same order True, created again False" in out
    assert "sold out: product" in out
    assert "mugs back in stock: 3" in out


def test_async_orders(database_url: str, tmp_path: Path) -> None:
    env = {"MINICOMMERCE_DATABASE_URL": database_url, "MINICOMMERCE_SECRET_KEY": SECRET}
    assert "sold 5, refused 15, left 0" in run("async_orders.py", env, tmp_path)


def test_quickstart_on_sqlite_twice(tmp_path: Path) -> None:
    env = {"MINICOMMERCE_DATABASE_URL": f"sqlite:///{tmp_path}/q.db"}
    out = run("quickstart.py", env, tmp_path)
    assert "Enamel mug: 8.90 USD (version 2)" in out
    assert "signed in as ada@example.com" in out
    run("quickstart.py", env, tmp_path)


def test_quickstart_on_postgres(database_url: str, tmp_path: Path) -> None:
    env = {"MINICOMMERCE_DATABASE_URL": database_url, "MINICOMMERCE_SECRET_KEY": SECRET}
    assert "signed in as ada@example.com" in run("quickstart.py", env, tmp_path)


def test_postgres_redis(postgres_database_url: str, redis_url: str, tmp_path: Path) -> None:
    env = {
        "MINICOMMERCE_DATABASE_URL": postgres_database_url,
        "MINICOMMERCE_REDIS_URL": redis_url,
        "MINICOMMERCE_SECRET_KEY": SECRET,
        "MINICOMMERCE_ARGON2_MEMORY_COST": "1024",
    }
    out = run("postgres_redis.py", env, tmp_path)
    assert "attempt 1: wrong password" in out
    assert "attempt 2: signed in" in out
    assert "Steel bottle 19.99" in out


@pytest.mark.parametrize(
    "script", ["quickstart.py", "postgres_redis.py", "checkout.py", "async_orders.py"]
)
def test_examples_are_documented(script: str) -> None:
    assert (EXAMPLES / script).read_text().startswith('"""')
