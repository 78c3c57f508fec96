"""The image built from the Dockerfile, run as containers against real backends.

.ci/run builds it with tools/docker-build.sh as ``minicommerce:ci``
(``MINICOMMERCE_TEST_IMAGE`` names another). The containers run on Docker's default bridge,
as compose runs them: a network of their own, the server on port 8000 inside, published on
the host's loopback. The host's PostgreSQL, Redis and PgBouncer listen on loopback only, so
the containers reach them through forwarding proxies on the bridge's gateway address.

Without a Docker daemon or the image the tests skip, and fail under ``CI=true``; except
where .ci/run could not start a daemon at all, which it says in
``MINICOMMERCE_TEST_NO_DOCKER``: the tests then skip with that reason.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import struct
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.conftest import ADDRESS, REDIS_URL, new_postgres_database, require_service
from tests.fleet.client import API, Answer, call, requests_served, upload_image
from tests.fleet.machine import (
    HTTP_PORTS,
    POSTGRES_PORTS,
    eventually,
    free_ports,
    shared_directory,
)
from tests.fleet.servers import Nginx, server_environment
from tests.images import photo
from tests.pgservers import PgBouncer, missing
from tests.proxy import Proxy

IMAGE = os.environ.get("MINICOMMERCE_TEST_IMAGE", "minicommerce:ci")
PASSWORD = "correct horse battery"
SIOCGIFADDR = 0x8915  # Linux: an interface's IPv4 address


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def checked_run(command: list[str], timeout: float = 30) -> str:
    """``command``'s output; the test fails with its message if it failed."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}{done.stderr}"
    return done.stdout.strip()


def checked(*args: str, timeout: float = 120) -> str:
    """``docker ARGS``'s output; the test fails with docker's message if it failed."""
    return checked_run(["docker", *args], timeout)


@pytest.fixture(scope="module")
def gateway() -> str:
    """The default bridge's gateway address (the host, as containers see it), once a
    daemon answers and the image is there."""
    if shutil.which("docker") is None:
        missing("docker is not installed (Debian package docker.io)")
    info = docker("info", "--format", "{{.ServerVersion}}", timeout=30)
    if info.returncode != 0:
        reason = os.environ.get("MINICOMMERCE_TEST_NO_DOCKER")
        if reason:
            pytest.skip(f"no Docker daemon: {reason}")
        missing(f"no Docker daemon answers ({info.stderr.strip()})")
    if docker("image", "inspect", IMAGE).returncode != 0:
        missing(f"no image {IMAGE} (tools/docker-build.sh builds it)")
    # The default bridge's gateway is its interface's address (docker0's, unless dockerd
    # was told otherwise); its IPAM configuration leaves it out.
    interface = checked(
        "network", "inspect", "bridge", "--format",
        '{{index .Options "com.docker.network.bridge.name"}}',
    )  # fmt: skip
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("256s", interface.encode()[:15])
        answer = fcntl.ioctl(sock.fileno(), SIOCGIFADDR, request)
    return socket.inet_ntoa(answer[20:24])  # the sockaddr_in's address, in struct ifreq


class GatewayProxy(Proxy):
    """tests/proxy.py's proxy, listening on ``listen_host`` (the bridge's gateway) instead
    of loopback, so that containers reach a server that listens on loopback only."""

    def __init__(self, listen_host: str, target_host: str, target_port: int) -> None:
        self._listen_host = listen_host
        super().__init__(target_host, target_port)

    def _listen(self, port: int) -> socket.socket:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self._listen_host, port))
        listener.listen(128)
        return listener


@contextmanager
def reachable_from_containers(gateway: str, url: str, default_port: int) -> Iterator[str]:
    """``url`` (a server on the host's loopback) as a container reaches it."""
    parts = urlsplit(url)
    with GatewayProxy(gateway, parts.hostname or "127.0.0.1", parts.port or default_port) as p:
        user = f"{parts.username}@" if parts.username else ""
        yield urlunsplit(parts._replace(netloc=f"{user}{gateway}:{p.port}"))


@dataclass
class Container:
    name: str
    port: int  # on the host's loopback, published from the container's 8000

    def get(self, path: str, **options: Any) -> Answer:
        return call(self.port, "GET", path, **options)

    def inspect(self, template: str) -> str:
        return checked("inspect", "--format", template, self.name)

    def logs(self) -> str:
        done = docker("logs", self.name)
        return done.stdout + done.stderr

    def wait_answering(self, seconds: float = 60) -> None:
        def answering() -> bool:
            """the container's server answers /health"""
            if self.inspect("{{.State.Running}}") != "true":
                pytest.fail(f"{self.name} exited:\n{self.logs()}")
            try:
                return self.get("/health", timeout=2).status == 200
            except OSError:
                return False

        eventually(answering, seconds)


def container_environment(settings: Mapping[str, str]) -> list[str]:
    """``--env`` options: the fleet tests' server settings (the shared secret, fast
    password hashing) and ``settings``, without anything else of this process's."""
    environment = server_environment(
        MINICOMMERCE_LOG_LEVEL="WARNING",
        MINICOMMERCE_TRUSTED_PROXIES="",
        # Every request reaches the containers from one address (Docker's proxy).
        MINICOMMERCE_RATE_LIMIT_ANON="1000/minute",
        **settings,
    )
    return [
        option
        for name, value in environment.items()
        if name.startswith("MINICOMMERCE_")
        for option in ("--env", f"{name}={value}")
    ]


def run_once(settings: Mapping[str, str], *command: str) -> str:
    """``command`` in a container of the image that is removed afterwards."""
    return checked("run", "--rm", *container_environment(settings), IMAGE, *command)


@contextmanager
def running(settings: Mapping[str, str], *command: str) -> Iterator[Container]:
    """A container of the image running ``command`` (the image's CMD without one),
    answering; removed afterwards."""
    name = f"mc-test-{uuid.uuid4().hex[:10]}"
    checked(
        "run", "--detach", "--name", name, "--publish", "127.0.0.1::8000",
        *container_environment(settings), IMAGE, *command,
    )  # fmt: skip
    try:
        published = checked("port", name, "8000/tcp").splitlines()[0]
        container = Container(name, int(published.rsplit(":", 1)[1]))
        container.wait_answering()
        yield container
    finally:
        docker("rm", "--force", "--volumes", name)


@pytest.fixture(scope="module")
def settings(gateway: str) -> Iterator[dict[str, str]]:
    """Settings of a shop on a new PostgreSQL database (migrated, with the demo catalog
    and a staff user, each by a one-off container of the image) and the host's Redis, as
    containers reach them."""
    require_service("redis", REDIS_URL, 6379)
    with ExitStack() as stack:
        database = stack.enter_context(new_postgres_database("mc_container"))
        shop = {
            "MINICOMMERCE_DATABASE_URL": stack.enter_context(
                reachable_from_containers(gateway, database, 5432)
            ),
            "MINICOMMERCE_REDIS_URL": stack.enter_context(
                reachable_from_containers(gateway, REDIS_URL, 6379)
            ),
        }
        # The migration as a deploy runs it (the compose file's migrate service).
        run_once(shop, "minicommerce", "db", "upgrade")
        run_once(shop, "minicommerce", "demo-data")
        run_once(
            shop, "minicommerce", "create-admin", "--email", "staff@example.com",
            "--password", PASSWORD,
        )  # fmt: skip
        yield shop


@pytest.fixture(scope="module")
def shop(settings: dict[str, str]) -> Iterator[Container]:
    """A container of the image as it ships (its CMD: two granian workers)."""
    with running(settings) as container:
        yield container


def login(container: Container, email: str) -> str:
    answer = call(
        container.port,
        "POST",
        f"{API}/auth/login",
        json_body={"email": email, "password": PASSWORD},
    )
    assert answer.status == 200, answer.body
    token: str = answer.json()["access_token"]
    return token


def test_the_container_serves_the_shop_as_an_unprivileged_user(shop: Container) -> None:
    assert shop.get("/health").status == 200
    ready = shop.get("/ready")
    assert ready.status == 200, ready.body
    for page in ("/", "/admin"):
        answer = shop.get(page)
        assert answer.status == 200, page
        assert answer.headers["content-type"].startswith("text/html"), page
    schema = shop.get("/schema/openapi.json")
    assert schema.status == 200
    assert schema.json()["openapi"].startswith("3.1")
    assert f"{API}/products" in schema.json()["paths"]
    # The server (PID 1) and anything run in the container are uid 10001, not root.
    assert checked("exec", shop.name, "id", "-u") == "10001"
    status = checked("exec", shop.name, "cat", "/proc/1/status")
    (uids,) = [line.split()[1:] for line in status.splitlines() if line.startswith("Uid:")]
    assert set(uids) == {"10001"}
    assert "minicommerce" in checked("exec", shop.name, "cat", "/proc/1/cmdline")


def test_a_customer_registers_signs_in_and_orders_and_staff_uploads_an_image(
    shop: Container,
) -> None:
    email = f"buyer-{uuid.uuid4().hex[:12]}@example.com"
    registered = call(
        shop.port,
        "POST",
        f"{API}/auth/register",
        json_body={"email": email, "password": PASSWORD},
    )
    assert registered.status == 201, registered.body
    token = login(shop, email)
    assert shop.get(f"{API}/me", token=token).json()["email"] == email
    products = shop.get(f"{API}/products?limit=5").json()["items"]
    assert products, "the demo catalog, loaded by `minicommerce demo-data`, is empty"
    product = next(p for p in products if p["stock_quantity"] > 0)
    cart = call(
        shop.port,
        "PUT",
        f"{API}/cart/items/{product['id']}",
        json_body={"quantity": 2},
        token=token,
    )
    assert cart.status == 200, cart.body
    order = call(
        shop.port, "POST", f"{API}/orders", json_body={"shipping_address": ADDRESS}, token=token
    )
    assert order.status == 201, order.body
    assert order.json()["items"][0]["quantity"] == 2
    listed = shop.get(f"{API}/orders", token=token).json()["items"]
    assert [o["id"] for o in listed] == [order.json()["id"]]

    # The staff user made by `minicommerce create-admin` in a one-off container uploads an
    # image: the unprivileged server writes it to its media directory and serves it.
    staff = login(shop, "staff@example.com")
    uploaded = upload_image(shop.port, product["id"], photo(400, 300), staff)
    assert uploaded.status == 201, uploaded.body
    rendition = uploaded.json()["renditions"][0]
    served = shop.get(rendition["url"])
    assert served.status == 200
    assert served.headers["content-type"] == f"image/{rendition['format']}"
    stored = checked("exec", shop.name, "find", "/srv/media", "-type", "f", "-user", "10001")
    assert stored.splitlines()


def test_the_health_check_of_the_image_turns_healthy(shop: Container) -> None:
    assert json.loads(shop.inspect("{{json .Config.Healthcheck.Test}}"))[0] == "CMD"

    def healthy() -> bool:
        """the container's HEALTHCHECK reports healthy"""
        status = shop.inspect("{{.State.Health.Status}}")
        assert status != "unhealthy", shop.inspect("{{json .State.Health}}")
        return status == "healthy"

    # The first check runs one --interval (10 s) after the start.
    eventually(healthy, 40)


def test_sigterm_stops_the_container_cleanly_and_at_once(settings: dict[str, str]) -> None:
    with running(settings) as container:
        started = time.monotonic()
        checked("stop", "--time", "20", container.name, timeout=60)
        took = time.monotonic() - started
        logs = container.logs()
        assert container.inspect("{{.State.ExitCode}}") == "0", logs
        assert took < 5, f"SIGTERM took {took:.1f} s to stop the server:\n{logs}"
        assert "Traceback" not in logs, logs


def test_two_containers_behind_the_shipped_nginx_through_pgbouncer(
    gateway: str, settings: dict[str, str]
) -> None:
    """The compose layout's middle on this host: two containers of the image behind
    deploy/nginx.conf (tests/fleet/servers.py's loopback copy), on PgBouncer in
    transaction mode, sharing Redis."""
    database = urlsplit(settings["MINICOMMERCE_DATABASE_URL"]).path.lstrip("/")
    (bouncer_port,) = free_ports(POSTGRES_PORTS)
    bouncer = PgBouncer(bouncer_port, 5432)
    with ExitStack() as stack:
        stack.callback(bouncer.stop)
        pooled = settings | {
            "MINICOMMERCE_DATABASE_URL": stack.enter_context(
                reachable_from_containers(gateway, bouncer.url(database), 6432)
            ),
            "MINICOMMERCE_DATABASE_PGBOUNCER": "true",
        }
        # All of the container's addresses, as the image's CMD: Docker's port is outside.
        serve = ("minicommerce", "serve", "--host", "0.0.0.0", "--port", "8000")  # noqa: S104
        # One worker each, so that an instance's /metrics is the whole instance's.
        instances = [
            stack.enter_context(running(pooled, *serve, "--workers", "1")) for _ in range(2)
        ]
        (nginx_port,) = free_ports(HTTP_PORTS)
        nginx = Nginx(nginx_port, [c.port for c in instances], shared_directory("mc-ct-nginx-"))
        stack.callback(shutil.rmtree, nginx.directory, True)
        nginx.start()
        stack.callback(nginx.stop)

        assert call(nginx_port, "GET", "/ready").status == 200
        email = f"buyer-{uuid.uuid4().hex[:12]}@example.com"
        registered = call(
            nginx_port,
            "POST",
            f"{API}/auth/register",
            json_body={"email": email, "password": PASSWORD},
        )
        assert registered.status == 201, registered.body
        login_answer = call(
            nginx_port,
            "POST",
            f"{API}/auth/login",
            json_body={"email": email, "password": PASSWORD},
        )
        assert login_answer.status == 200, login_answer.body
        token = login_answer.json()["access_token"]
        products = call(nginx_port, "GET", f"{API}/products").json()["items"]
        ordered = call(
            nginx_port,
            "POST",
            f"{API}/orders",
            json_body={
                "shipping_address": ADDRESS,
                "items": [{"product_id": products[0]["id"], "quantity": 1}],
            },
            token=token,
        )
        assert ordered.status == 201, ordered.body
        for _ in range(20):
            answer = call(nginx_port, "GET", f"{API}/orders", token=token)
            assert answer.status == 200, answer.body
            assert [o["id"] for o in answer.json()["items"]] == [ordered.json()["id"]]
        # Both containers answered, and every answer through PgBouncer was a success.
        for container in instances:
            served = requests_served(container.port)
            assert served[("GET", f"{API}/orders", 200)] > 0, served
            assert not [key for key in served if key[2] >= 500], served
