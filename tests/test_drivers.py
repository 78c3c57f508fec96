"""The optional drivers: the server extra brings them, and a missing one is a clear error.

The drivers are made unimportable for real: in this process by a ``None`` in
``sys.modules`` (what ``import`` treats as "not installed"), and for the command by a
``sitecustomize`` on ``PYTHONPATH`` that does the same before anything else runs.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from minicommerce import ConfigurationError, Shop
from minicommerce.drivers import open_redis
from minicommerce_server.services import Backends
from tests.conftest import SECRET

ROOT = Path(__file__).parents[1]


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\[<>=!~;\s]", r, maxsplit=1)[0].lower() for r in requirements}


def _extra(name: str) -> set[str]:
    """The distributions an extra installs, following ``minicommerce[...]`` references."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    names: set[str] = set()
    for requirement in extras[name]:
        own = re.fullmatch(r"minicommerce\[([\w,\s-]+)\]", requirement.strip())
        if own:
            for other in own.group(1).split(","):
                names |= _extra(other.strip())
        else:
            names |= _names([requirement])
    return names


def test_the_server_extra_brings_every_driver_its_settings_need() -> None:
    assert {"psycopg", "redis"} <= _extra("server")
    assert "psycopg" in _extra("postgres")
    assert "redis" in _extra("redis")


def test_the_core_installs_without_drivers() -> None:
    core = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert _names(core).isdisjoint({"psycopg", "redis", "litestar", "granian"})


def test_a_postgres_url_without_psycopg_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(ConfigurationError, match=re.escape("pip install 'minicommerce[postgres]'")):
        Shop.open("postgresql://postgres@127.0.0.1:1/none", migrate=False)


def test_a_redis_url_without_redis_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    expected = re.escape("pip install 'minicommerce[redis]'")
    with pytest.raises(ConfigurationError, match=expected) as caught:
        open_redis("redis://127.0.0.1:6379/0")
    assert isinstance(caught.value.__cause__, ImportError)
    with pytest.raises(ConfigurationError, match=expected):
        Backends.connect("redis://127.0.0.1:6379/0")


def _command(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``minicommerce *args`` as installed, with psycopg and redis unimportable."""
    blocker = tmp_path / "no-drivers"
    blocker.mkdir(exist_ok=True)
    (blocker / "sitecustomize.py").write_text(
        "import sys\nsys.modules['psycopg'] = None\nsys.modules['redis'] = None\n"
    )
    script = shutil.which("minicommerce", path=str(Path(sys.executable).parent))
    command = [script] if script else [sys.executable, "-m", "minicommerce_server.cli"]
    return subprocess.run(
        [*command, *args],
        env={**os.environ, "PYTHONPATH": str(blocker), "MINICOMMERCE_SECRET_KEY": SECRET, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _assert_one_line_error(result: subprocess.CompletedProcess[str], extra: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "minicommerce[" in line]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("error: ")
    assert f"pip install 'minicommerce[{extra}]'" in errors[0]


def test_db_upgrade_without_psycopg_is_a_one_line_error(tmp_path: Path) -> None:
    env = {"MINICOMMERCE_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test"}
    _assert_one_line_error(_command(tmp_path, env, "db", "upgrade"), "postgres")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_serve_without_redis_is_a_one_line_error_before_any_worker(tmp_path: Path) -> None:
    env = {
        "MINICOMMERCE_DATABASE_URL": f"sqlite:///{tmp_path}/shop.db",
        "MINICOMMERCE_REDIS_URL": "redis://127.0.0.1:6379/1",
        "MINICOMMERCE_ARGON2_MEMORY_COST": "1024",
    }
    args = ("serve", "--port", str(_free_port()), "--no-demo-data", "--server", "uvicorn")
    _assert_one_line_error(_command(tmp_path, env, *args), "redis")
    assert not (tmp_path / "shop.db").exists()  # refused before it touched anything
