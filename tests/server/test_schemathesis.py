"""Schemathesis against a real server process: the OpenAPI document says exactly what the
server accepts and answers.

``schemathesis run --checks all`` with a staff token, 30 examples per operation, over
every phase (examples, coverage, fuzzing, stateful), against ``minicommerce serve`` on a
fresh SQLite database. The seed is fixed so that CI is repeatable; set
``MINICOMMERCE_SCHEMATHESIS_SEED`` to explore others. ``schemathesis_run/`` holds the
configuration and hooks for the few state-dependent answers a schema cannot give.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import SECRET

HERE = Path(__file__).parent
CONFIG = HERE / "schemathesis_run" / "schemathesis.toml"
HOOKS = HERE / "schemathesis_run" / "hooks.py"
SEED = os.environ.get("MINICOMMERCE_SCHEMATHESIS_SEED", "20261130")
EXAMPLES = 30
STAFF_EMAIL = "staff@example.com"
STAFF_PASSWORD = "a long enough password"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


@pytest.fixture
def server(sqlite_template: Path, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A ``minicommerce serve`` process on a copy of the migrated template, with a staff
    user; its base URL and environment."""
    database = tmp_path / "shop.db"
    shutil.copy(sqlite_template, database)
    env = {
        **os.environ,
        "MINICOMMERCE_DATABASE_URL": f"sqlite:///{database}",
        "MINICOMMERCE_SECRET_KEY": SECRET,
        "MINICOMMERCE_MEDIA_DIR": str(tmp_path / "media"),
        # Thousands of requests in a minute from one client: limits would answer 429s
        # (documented, but they would hide the rest).
        "MINICOMMERCE_RATE_LIMIT_ANON": "0",
        "MINICOMMERCE_RATE_LIMIT_USER": "0",
        "MINICOMMERCE_LOG_LEVEL": "WARNING",
    }
    env.pop("MINICOMMERCE_REDIS_URL", None)
    subprocess.run(
        [
            _bin("minicommerce"),
            "create-admin",
            "--email",
            STAFF_EMAIL,
            "--password",
            STAFF_PASSWORD,
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    port = _free_port()
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [_bin("minicommerce"), "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, process)
        yield base, env
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_until_up(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    pytest.fail("the server did not answer /health within 30 s")


def test_the_server_does_what_its_openapi_document_says(
    server: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    base, env = server
    login = httpx.post(
        f"{base}/api/v1/auth/login", json={"email": STAFF_EMAIL, "password": STAFF_PASSWORD}
    )
    assert login.status_code == 200, login.text
    token = login.json()["access_token"]
    command = [
        _bin("schemathesis"),
        "--config-file",
        str(CONFIG),
        "run",
        f"{base}/schema/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        SEED,
        "--workers",
        "1",
        "--header",
        f"Authorization: Bearer {token}",
        "--generation-database",
        "none",
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path / "report"),
    ]
    run = subprocess.run(
        command,
        env={**env, "SCHEMATHESIS_HOOKS": str(HOOKS)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
