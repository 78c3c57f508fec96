"""`minicommerce serve` instances (the real command, granian) and nginx in front of them."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import SECRET
from tests.fleet.client import call, requests_served
from tests.fleet.machine import (
    HTTP_PORTS,
    PROXY_ADDRESS,
    answers,
    eventually,
    free_ports,
    nginx_binary,
    shared_directory,
)


def cli(*args: str, env: Mapping[str, str], cwd: Path) -> None:
    """Runs the ``minicommerce`` command (e.g. ``db upgrade``) and checks it succeeded."""
    done = subprocess.run(
        [sys.executable, "-m", "minicommerce_server.cli", *args],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def server_environment(**settings: str) -> dict[str, str]:
    """The process environment without the caller's MINICOMMERCE_* settings, plus these."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MINICOMMERCE_")}
    environment |= {
        "MINICOMMERCE_SECRET_KEY": SECRET,
        "MINICOMMERCE_LOG_LEVEL": "WARNING",
        "MINICOMMERCE_TRUSTED_PROXIES": PROXY_ADDRESS,
        # Fast password hashing: the tests count logins, not argon2's cost.
        "MINICOMMERCE_ARGON2_TIME_COST": "1",
        "MINICOMMERCE_ARGON2_MEMORY_COST": "1024",
        "MINICOMMERCE_ARGON2_PARALLELISM": "1",
    }
    return environment | settings


@dataclass
class Instance:
    """One ``minicommerce serve`` (granian, one worker) on a loopback port."""

    port: int
    env: dict[str, str]
    directory: Path
    process: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.directory / f"serve-{self.port}.log"

    def start(self) -> None:
        command = [sys.executable, "-m", "minicommerce_server.cli", "serve"]
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                [
                    *command,
                    *("--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"),
                    *("--server", "granian", "--no-demo-data"),
                ],
                cwd=self.directory,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: its worker goes with it
            )

    def wait_ready(self, seconds: float = 60) -> None:
        def healthy() -> bool:
            """the instance answers /health"""
            if self.process is not None and self.process.poll() is not None:
                pytest.fail(f"the instance on {self.port} exited:\n{self.output()}")
            try:
                return call(self.port, "GET", "/health", timeout=2).status == 200
            except OSError:
                return False

        eventually(healthy, seconds)

    def kill(self) -> None:
        """SIGKILL to the server and its worker at once: no shutdown of any kind."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


# --- nginx -----------------------------------------------------------------------------

SHIPPED_NGINX_CONFIG = Path(__file__).parents[2] / "deploy" / "nginx.conf"


def loopback_nginx_config(directory: Path, port: int, upstreams: list[int]) -> str:
    """deploy/nginx.conf, on loopback: its files in ``directory``, listening on ``port``,
    the instances on ``upstreams``, connecting to them from :data:`PROXY_ADDRESS`. Each
    edit must match exactly once, so that a change to deploy/nginx.conf that the tests
    would no longer follow fails here."""
    servers = "".join(
        f"        server 127.0.0.1:{upstream} max_fails=1 fail_timeout=10s;\n"
        for upstream in upstreams
    )
    temp = "".join(
        f"    {kind}_temp_path {directory}/{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    edits = (
        (r"^worker_processes auto;\n", "daemon off;\nworker_processes 1;\n"),
        (r"^pid /var/run/nginx\.pid;", f"pid {directory}/nginx.pid;"),
        (r"^error_log /dev/stderr warn;", f"error_log {directory}/error.log warn;"),
        (r"^    default_type application/octet-stream;\n", f"\\g<0>{temp}"),
        (
            r"^    access_log /dev/stdout upstream;",
            f"    access_log {directory}/access.log upstream;",
        ),
        (r"(^        server app\d+:8000 [^;]*;\n)+", servers),
        (
            r"^        listen 8080;\n        listen \[::\]:8080;",
            f"        listen 127.0.0.1:{port};",
        ),
        (r"^            alias /srv/media/;", f"            alias {directory}/media/;"),
        (
            r"^            proxy_pass http://minicommerce;\n",
            f"\\g<0>            proxy_bind {PROXY_ADDRESS};\n",
        ),
    )
    text = SHIPPED_NGINX_CONFIG.read_text()
    for pattern, replacement in edits:
        text, found = re.subn(pattern, replacement, text, flags=re.MULTILINE)
        assert found == 1, f"deploy/nginx.conf no longer has {pattern!r}"
    return text


@dataclass
class Nginx:
    """nginx in the foreground with its own configuration and files in ``directory``."""

    port: int
    upstreams: list[int]
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def config(self) -> Path:
        return self.directory / "nginx.conf"

    def start(self) -> None:
        binary = nginx_binary()
        self.config.write_text(loopback_nginx_config(self.directory, self.port, self.upstreams))
        error_log = str(self.directory / "error.log")
        prefix = str(self.directory)
        test = subprocess.run(
            [binary, "-t", "-q", "-p", prefix, "-e", error_log, "-c", str(self.config)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert test.returncode == 0, test.stderr
        self.process = subprocess.Popen(
            [binary, "-p", prefix, "-e", error_log, "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        eventually(lambda: answers(self.port), 10, "nginx listens")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()  # nginx: fast shutdown
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def error_log(self) -> str:
        path = self.directory / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""


@dataclass
class Fleet:
    """Instances of one shop behind one nginx; requests go to ``port`` (nginx)."""

    instances: list[Instance]
    nginx: Nginx

    @property
    def port(self) -> int:
        return self.nginx.port

    def served(self) -> list[Counter[tuple[str, str, int]]]:
        return [requests_served(instance.port) for instance in self.instances]

    def outputs(self) -> str:
        return "\n".join(f"--- instance {i.port}:\n{i.output()}" for i in self.instances) + (
            f"\n--- nginx:\n{self.nginx.error_log()}"
        )


@contextmanager
def fleet(
    directory: Path, database_url: str, settings: Mapping[str, str], instances: int = 2
) -> Iterator[Fleet]:
    """``instances`` servers of the shop at ``database_url`` with these ``MINICOMMERCE_*``
    settings (the database migrated first by ``minicommerce db upgrade``, as a deploy
    does), behind nginx with ``least_conn``."""
    *ports, nginx_port = free_ports(HTTP_PORTS, instances + 1)
    proxy = Nginx(nginx_port, ports, shared_directory("mc-fleet-nginx-"))
    # One media directory for every instance, which nginx serves (deploy/nginx.conf's
    # /media/), as the compose file's shared volume.
    media = proxy.directory / "media"
    media.mkdir(mode=0o755)
    env = server_environment(
        MINICOMMERCE_DATABASE_URL=database_url, MINICOMMERCE_MEDIA_DIR=str(media), **settings
    )
    members = [Instance(port, env, directory) for port in ports]
    try:
        cli("db", "upgrade", env=env, cwd=directory)
        for member in members:
            member.start()
        for member in members:
            member.wait_ready()
        proxy.start()
        yield Fleet(members, proxy)
    finally:
        proxy.stop()
        for member in members:
            member.stop()
        shutil.rmtree(proxy.directory, ignore_errors=True)
