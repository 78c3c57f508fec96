"""`minicommerce serve` on an empty directory: no configuration, a working shop."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - local URL
        return response.status, response.read()


@pytest.mark.parametrize("server", ["granian", "uvicorn"])
def test_serve_needs_no_configuration(tmp_path: Path, server: str) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINICOMMERCE_")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "minicommerce_server.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            "2",
            "--server",
            server,
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: workers included in the cleanup
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):  # up to 30 s on a busy machine
            try:
                if get(base + "/health")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("the server did not answer /health")
        status, body = get(base + "/api/v1/products?limit=5")
        assert status == 200
        page = json.loads(body)
        assert len(page["items"]) == 5
        assert page["next_cursor"]
        assert get(base + "/ready")[0] == 200
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            output = process.communicate(timeout=30)[0].decode()
        except subprocess.TimeoutExpired:
            # A worker that outlived its server would hold the output pipe open forever.
            os.killpg(process.pid, signal.SIGKILL)
            output = process.communicate(timeout=10)[0].decode()
    assert (tmp_path / "minicommerce.db").exists()
    assert (tmp_path / "minicommerce.db.secret").exists()
    assert "MINICOMMERCE_SECRET_KEY" in output  # the warning about the generated secret


def test_a_serving_worker_freezes_its_start_up_heap(tmp_path: Path) -> None:
    """``asgi.create`` (what every worker of ``serve`` runs) sets the collector for serving;
    ``create_app`` (what tests and embedders call) leaves it alone."""
    from minicommerce import Shop

    url = f"sqlite:///{tmp_path / 'shop.db'}"
    Shop.open(url, secret_key="s" * 64).close()  # migrated
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINICOMMERCE_")}
    env |= {"MINICOMMERCE_DATABASE_URL": url, "MINICOMMERCE_SECRET_KEY": "s" * 64}
    script = (
        "import gc, json\n"
        "from minicommerce_server.app import create_app\n"
        "from minicommerce_server.asgi import create\n"
        "create_app()\n"
        "plain = [gc.get_threshold(), gc.get_freeze_count()]\n"
        "create()\n"
        "print(json.dumps([plain, [gc.get_threshold(), gc.get_freeze_count()]]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    ).stdout
    plain, serving = json.loads(out.strip().splitlines()[-1])
    assert plain == [[700, 10, 10], 0]
    assert serving[0] == [20_000, 50, 100]
    assert serving[1] > 10_000  # start-up's objects, frozen
