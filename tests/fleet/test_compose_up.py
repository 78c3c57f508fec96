"""deploy/compose.yaml brought up: two instances behind nginx, PostgreSQL with a streaming
replica, PgBouncer and Redis, as containers, and a customer's order through all of it.

The shop's image is the one .ci/run builds (``MINICOMMERCE_TEST_IMAGE``, default
``minicommerce:ci``). PostgreSQL, Redis, nginx and PgBouncer are the official images when
Docker Hub can be reached. Where it cannot (CI's machine), one stand-in image takes their
place: Debian's packages of the same programs, and an entrypoint that does for
``postgres`` what the official image's does with the settings the compose file uses
(tests/fleet/standins). The compose file, its nginx, PgBouncer and init files are the
shipped ones; an override file only names the images, and publishes nginx on a free
loopback port instead of 8080.

Without a Docker daemon, Compose v2 or the images the tests skip, and fail under
``CI=true`` (as tests/fleet/test_container.py).
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ADDRESS
from tests.fleet.client import API, Answer, call
from tests.fleet.machine import HTTP_PORTS, eventually, free_ports
from tests.fleet.test_container import IMAGE, checked, docker
from tests.fleet.test_deploy import DEPLOY, compose_v2
from tests.pgservers import missing

STANDINS = Path(__file__).parent / "standins"
STANDIN_IMAGE = "minicommerce-ci-standins:bookworm"
OFFICIAL = {
    "postgres": "postgres:15-bookworm",
    "postgres-replica": "postgres:15-bookworm",
    "redis": "redis:7-bookworm",
    "nginx": "nginx:1.26-bookworm",
}
# Bases for the stand-in, first found: Debian's own, or the local one that
# tools/docker-local-base.sh makes (and tools/docker-build.sh, where Docker Hub is away).
STANDIN_BASES = ("debian:bookworm-slim", "minicommerce-ci-base:bookworm")
PASSWORD = "correct horse battery"
UP_TIMEOUT_S = 240
PROJECT_PREFIX = "mc-test-"


@dataclass
class Layout:
    command: list[str]
    port: int

    def compose(self, *args: str, timeout: float = 120) -> str:
        return checked_compose(self.command, *args, timeout=timeout)

    def sql(self, service: str, query: str) -> str:
        return self.compose(
            "exec", "-T", service, "psql", "-U", "minicommerce", "-d", "minicommerce",
            "-Atc", query,
        )  # fmt: skip

    def call(self, method: str, path: str, **kwargs: Any) -> Answer:
        return call(self.port, method, path, **kwargs)


def checked_compose(command: list[str], *args: str, timeout: float = 120) -> str:
    done = subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"compose {' '.join(args)}:\n{done.stdout}{done.stderr}"
    return done.stdout.strip()


def official_images() -> bool:
    """Whether every official image is here or can be pulled now."""
    for image in sorted(set(OFFICIAL.values())):
        if docker("image", "inspect", image).returncode == 0:
            continue
        if docker("pull", "--quiet", image, timeout=300).returncode != 0:
            return False
    return True


def standin_image() -> str:
    base = next((b for b in STANDIN_BASES if docker("image", "inspect", b).returncode == 0), None)
    if base is None:
        missing(
            "Docker Hub cannot be reached and there is no Debian bookworm image to build the "
            f"stand-ins on ({', '.join(STANDIN_BASES)}; tools/docker-local-base.sh makes one)"
        )
    checked("build", "--quiet", "--build-arg", f"BASE={base}", "-t", STANDIN_IMAGE,
            str(STANDINS), timeout=600)  # fmt: skip
    return STANDIN_IMAGE


def override(port: int, standin: str | None) -> str:
    """The override file: the images, and nginx on ``port`` of the host's loopback."""
    services: dict[str, list[str]] = {
        name: [f"image: {IMAGE}", "pull_policy: never"] for name in ("migrate", "app1", "app2")
    }
    if standin is not None:
        for name in OFFICIAL:
            services[name] = [f"image: {standin}", "pull_policy: never"]
        # The compose file builds PgBouncer's image on debian:bookworm-slim; the stand-in
        # has PgBouncer already, run as that inline Dockerfile runs it.
        pgbouncer = 'command: ["pgbouncer", "/etc/pgbouncer/pgbouncer.ini"]'
        services["pgbouncer"] = [
            f"image: {standin}",
            "pull_policy: never",
            "user: postgres",
            pgbouncer,
        ]
        services["nginx"].append('command: ["nginx", "-g", "daemon off;"]')
    services.setdefault("nginx", []).append(f'ports: !override ["127.0.0.1:{port}:8080"]')
    lines = ["services:"]
    for name, settings in services.items():
        lines += [f"  {name}:", *(f"    {setting}" for setting in settings)]
    return "\n".join(lines) + "\n"


def remove_leftovers() -> None:
    """What an earlier run that was killed left of its project (its fixed subnet would
    clash with this one's)."""
    for kind, listing in (
        ("container", ["ps", "--all", "--filter", f"name={PROJECT_PREFIX}", "-q"]),
        ("network", ["network", "ls", "--filter", f"name={PROJECT_PREFIX}", "-q"]),
        ("volume", ["volume", "ls", "--filter", f"name={PROJECT_PREFIX}", "-q"]),
    ):
        found = docker(*listing).stdout.split()
        force = [] if kind == "network" else ["--force"]  # networks have no --force here
        if found:
            docker(kind, "rm", *force, *found)


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Layout]:
    if shutil.which("docker") is None:
        missing("docker is not installed (Debian package docker.io)")
    if docker("info", "--format", "{{.ServerVersion}}", timeout=30).returncode != 0:
        missing("no Docker daemon answers")
    if docker("image", "inspect", IMAGE).returncode != 0:
        missing(f"no image {IMAGE} (tools/docker-build.sh builds it)")
    command = compose_v2()
    standin = None if official_images() else standin_image()
    work = tmp_path_factory.mktemp("compose") / "deploy"
    shutil.copytree(DEPLOY, work)
    postgres_password = secrets.token_hex(16)
    (work / ".env").write_text(
        f"POSTGRES_PASSWORD={postgres_password}\n"
        f"REPLICATION_PASSWORD={secrets.token_hex(16)}\n"
        f"MINICOMMERCE_SECRET_KEY={secrets.token_hex(32)}\n"
    )
    # PgBouncer takes a plain password as well as a SCRAM secret (userlist.txt.example).
    (work / "pgbouncer" / "userlist.txt").write_text(f'"minicommerce" "{postgres_password}"\n')
    port = free_ports(HTTP_PORTS)[0]
    (work / "ci.yaml").write_text(override(port, standin))
    remove_leftovers()
    project = f"{PROJECT_PREFIX}{uuid.uuid4().hex[:8]}"
    files = ["--project-name", project, "--file", str(work / "compose.yaml")]
    base = [*command, *files, "--file", str(work / "ci.yaml")]
    try:
        checked_compose(base, "up", "--detach", "--no-build", "--wait",
                        "--wait-timeout", str(UP_TIMEOUT_S), timeout=UP_TIMEOUT_S + 60)  # fmt: skip
        yield Layout(base, port)
    except BaseException:
        logs = subprocess.run([*base, "logs", "--no-color", "--tail", "40"],
                              capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
        print(logs.stdout[-20_000:])
        raise
    finally:
        subprocess.run([*base, "down", "--volumes", "--remove-orphans", "--timeout", "10"],
                       capture_output=True, timeout=180, check=False)  # fmt: skip


def test_the_layout_comes_up_ready_behind_nginx(layout: Layout) -> None:
    ready = layout.call("GET", "/ready")
    assert ready.status == 200, ready.body
    assert ready.json() == {"status": "ok", "database": "ok", "redis": "ok"}
    page = layout.call("GET", "/")
    assert page.status == 200
    assert "default-src" in page.headers["content-security-policy"]
    # The migration ran once, on the primary, before the instances started.
    assert (
        layout.compose("ps", "--all", "--format", "{{.Service}} {{.State}}").count("migrate exited")
        == 1
    )
    assert layout.sql("postgres", "SELECT count(*) FROM alembic_version") == "1"


def test_a_customer_orders_through_pgbouncer_and_the_replica_follows(layout: Layout) -> None:
    layout.compose("exec", "-T", "app1", "minicommerce", "demo-data", timeout=180)

    def listed() -> bool:
        answer = layout.call("GET", f"{API}/products?limit=5&in_stock=true")
        return answer.status == 200 and len(answer.json()["items"]) > 0

    eventually(listed, 30, "the demo catalog is listed through nginx")
    product = layout.call("GET", f"{API}/products?limit=1&in_stock=true").json()["items"][0]
    email = f"compose-{uuid.uuid4().hex[:8]}@example.com"
    registered = layout.call("POST", f"{API}/auth/register", json_body={
        "email": email, "password": PASSWORD, "first_name": "Ada", "last_name": "L",
    })  # fmt: skip
    assert registered.status == 201, registered.body
    login = layout.call(
        "POST", f"{API}/auth/login", json_body={"email": email, "password": PASSWORD}
    )
    assert login.status == 200, login.body
    token = login.json()["access_token"]
    order = {"shipping_address": ADDRESS, "items": [{"product_id": product["id"], "quantity": 2}]}
    key = {"Idempotency-Key": uuid.uuid4().hex}
    placed = layout.call("POST", f"{API}/orders", json_body=order, token=token, headers=key)
    assert placed.status == 201, placed.body
    again = layout.call("POST", f"{API}/orders", json_body=order, token=token, headers=key)
    assert again.status in (200, 201)
    assert again.json()["id"] == placed.json()["id"]  # one order, whichever instance answered
    order_id = placed.json()["id"]
    assert Decimal(placed.json()["total_amount"]) == Decimal(product["price"]) * 2
    # The customer's own reads see the order at once, replica or not.
    mine = layout.call("GET", f"{API}/orders/{order_id}", token=token)
    assert mine.status == 200
    assert mine.json()["id"] == order_id
    shown = layout.call("GET", f"{API}/products/{product['id']}").json()
    assert shown["stock_quantity"] == product["stock_quantity"] - 2  # no stale stock
    assert layout.sql("postgres", "SELECT state FROM pg_stat_replication") == "streaming"
    query = f"SELECT count(*) FROM orders WHERE id = {int(order_id)}"  # noqa: S608 - an int

    def replayed() -> bool:
        return layout.sql("postgres-replica", query) == "1"

    eventually(replayed, 30, "the replica has the order")


def test_one_instance_stopped_the_other_serves_everything(layout: Layout) -> None:
    layout.compose("stop", "--timeout", "10", "app1")
    try:
        answers = [layout.call("GET", f"{API}/products?limit=1").status for _ in range(20)]
        assert answers == [200] * 20
    finally:
        layout.compose("start", "app1")
        layout.compose("up", "--detach", "--no-build", "--wait", "--wait-timeout", "120",
                       timeout=180)  # fmt: skip
