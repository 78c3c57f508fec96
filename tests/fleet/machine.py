"""The machine the fleet tests run on: ports, programs, directories, waiting.

Ports come from fixed ranges below the kernel's ephemeral range (32768 and up on Linux),
so that no outgoing connection of another process can take a server's port while a test
has the server stopped. Everything listens on loopback; nginx reaches the instances from
127.0.0.2 (``proxy_bind``), so the instances trust that one address as their proxy, and a
test's clients connect from other loopback addresses (127.0.0.0/8 is all local) to be
told apart as client addresses.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import IN_CI

HTTP_PORTS = range(8450, 8500)
POSTGRES_PORTS = range(5450, 5460)
REDIS_PORTS = range(6450, 6460)
PROXY_ADDRESS = "127.0.0.2"  # where nginx connects to the instances from


def require_program(name: str, path: str | None) -> str:
    """``path`` when it exists; else skip (fail under ``CI=true``) naming the package."""
    if path is not None and os.access(path, os.X_OK):
        return path
    message = f"{name} is not installed (Debian package: {name})"
    if IN_CI:
        pytest.fail(f"{message}, and CI=true requires it", pytrace=False)
    pytest.skip(message)


def nginx_binary() -> str:
    return require_program("nginx", shutil.which("nginx") or "/usr/sbin/nginx")


def free_ports(ports: range, count: int = 1) -> list[int]:
    """The first ``count`` ports of ``ports`` that nothing listens on."""
    found = []
    for port in ports:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        found.append(port)
        if len(found) == count:
            return found
    raise RuntimeError(f"not {count} free port(s) in {ports.start}-{ports.stop - 1}")


def answers(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), 0.5):
            return True
    except OSError:
        return False


def eventually(check: Callable[[], bool], seconds: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not true within {seconds} s: {what or check.__doc__}")
        time.sleep(0.2)


def shared_directory(prefix: str) -> Path:
    """A new directory that processes running as another user may enter (nginx's workers
    run as ``nobody`` under root; PostgreSQL as ``postgres``); pytest's own are 0700."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def fresh_window(period: int, margin: float = 20) -> None:
    """Waits, if need be, until at least ``margin`` seconds of the current fixed window of
    ``period`` seconds remain, so that a burst is counted in one window."""
    left = period - time.time() % period
    if left < margin:
        time.sleep(left + 0.2)
