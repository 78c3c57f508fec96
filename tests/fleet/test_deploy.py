"""The shipped deployment files agree with each other and with the server.

Without running anything but nginx and Compose: nginx accepts deploy/nginx.conf (`nginx
-t`, the compose service names mapped to loopback); Docker Compose v2 accepts the compose
file (`docker compose config`: valid, its secrets required); its services, addresses, URLs,
volumes and settings fit together and name only real settings; the Dockerfile is what
docs/deploy.md promises. The fleet tests run deploy/nginx.conf itself in front of real
instances; tests/fleet/test_container.py runs the image that .ci/run builds from the
Dockerfile. tests/fleet/test_compose_up.py brings the compose layout up.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import subprocess
from configparser import ConfigParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from minicommerce_server.settings import ServerSettings
from tests.fleet.machine import nginx_binary, shared_directory
from tests.pgservers import missing

ROOT = Path(__file__).parents[2]
DEPLOY = ROOT / "deploy"
UPSTREAM_SERVER = re.compile(r"^\s*server\s+([\w.-]+):(\d+)\b", re.MULTILINE)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """deploy/compose.yaml as compose reads it with deploy/.env filled in."""
    text = (DEPLOY / "compose.yaml").read_text()
    filled = re.sub(r"\$\{(\w+)[^}]*\}", lambda m: f"{m[1].lower()}-value", text)
    loaded: dict[str, Any] = yaml.safe_load(filled)
    return loaded


def app_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run `minicommerce serve`."""
    return {
        name: service
        for name, service in compose["services"].items()
        if service.get("command", [])[:2] == ["minicommerce", "serve"]
    }


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_nginx_accepts_the_shipped_configuration() -> None:
    binary = nginx_binary()
    directory = shared_directory("mc-deploy-nginx-")
    text = (DEPLOY / "nginx.conf").read_text()
    # The compose network's names do not resolve here: the same file, on loopback.
    config = directory / "nginx.conf"
    config.write_text(UPSTREAM_SERVER.sub(r"        server 127.0.0.1:\2", text))
    try:
        command = [binary, "-t", "-p", str(directory), "-e", str(directory / "error.log")]
        checked = subprocess.run(
            [*command, "-c", str(config)], capture_output=True, text=True, check=False
        )
    finally:
        shutil.rmtree(directory)
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr


def test_nginx_balances_over_every_instance_of_the_compose_file(compose: dict[str, Any]) -> None:
    text = (DEPLOY / "nginx.conf").read_text()
    assert re.search(r"upstream minicommerce \{\s*(#[^\n]*\n\s*)*least_conn;", text)
    upstreams = {(host, int(port)) for host, port in UPSTREAM_SERVER.findall(text)}
    apps = app_services(compose)
    assert len(apps) >= 2
    assert upstreams == {(name, int(option(s["command"], "--port"))) for name, s in apps.items()}
    nginx = compose["services"]["nginx"]
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in nginx["volumes"]
    assert set(nginx["depends_on"]) == set(apps)


def test_the_instances_trust_nginx_alone_and_reach_every_backend(compose: dict[str, Any]) -> None:
    services = compose["services"]
    nginx_address = ipaddress.ip_address(services["nginx"]["networks"]["backend"]["ipv4_address"])
    subnet = ipaddress.ip_network(compose["networks"]["backend"]["ipam"]["config"][0]["subnet"])
    assert nginx_address in subnet
    pgbouncer = ConfigParser(inline_comment_prefixes=(";",))
    pgbouncer.read_string((DEPLOY / "pgbouncer" / "pgbouncer.ini").read_text())
    assert pgbouncer["pgbouncer"]["pool_mode"] == "transaction"
    # A query waiting for the primary fails as soon as a new connection would.
    connect_timeout = ServerSettings.model_fields["db_connect_timeout"].default
    assert float(pgbouncer["pgbouncer"]["query_wait_timeout"]) <= connect_timeout
    settings = set(ServerSettings.model_fields)
    for name, service in app_services(compose).items():
        env = service["environment"]
        assert env["MINICOMMERCE_TRUSTED_PROXIES"] == str(nginx_address), name
        for variable in env:
            assert variable.startswith("MINICOMMERCE_"), variable
            assert variable.removeprefix("MINICOMMERCE_").lower() in settings, variable
        database = urlsplit(env["MINICOMMERCE_DATABASE_URL"])
        assert (database.hostname, database.port) == (
            "pgbouncer",
            int(pgbouncer["pgbouncer"]["listen_port"]),
        )
        assert database.path.lstrip("/") in pgbouncer["databases"]
        assert urlsplit(env["MINICOMMERCE_REDIS_URL"]).hostname in services
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert "media:/srv/media" in service["volumes"]
        assert env["MINICOMMERCE_MEDIA_DIR"] == "/srv/media"
    # Migrations go to the primary itself, not through PgBouncer.
    migrate = services["migrate"]
    assert migrate["command"] == ["minicommerce", "db", "upgrade"]
    direct = urlsplit(migrate["environment"]["MINICOMMERCE_DATABASE_URL"])
    assert (direct.hostname, direct.port) == ("postgres", 5432)
    assert pgbouncer["databases"]["minicommerce"].split()[0] == "host=postgres"
    # nginx serves the media volume the instances write to, where its configuration says.
    assert "media:/srv/media:ro" in services["nginx"]["volumes"]
    assert "alias /srv/media/;" in (DEPLOY / "nginx.conf").read_text()


def test_every_secret_the_compose_file_needs_is_in_the_example_environment() -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    needed = set(re.findall(r"\$\{(\w+)", text))
    example = {
        line.split("=", 1)[0]
        for line in (DEPLOY / "env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert needed == example
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert "deploy/.env" in ignored
    assert "deploy/pgbouncer/userlist.txt" in ignored


def test_the_image_runs_the_server_unprivileged_with_a_health_check(
    compose: dict[str, Any],
) -> None:
    text = (ROOT / "Dockerfile").read_text()
    instructions = [
        line.split(None, 1) for line in text.splitlines() if line and not line[0].isspace()
    ]
    instructions = [i for i in instructions if i[0].isupper()]
    # The official slim Python image unless the build is given another base (CI's stand-in
    # where Docker Hub is out of reach: tools/docker-local-base.sh).
    (base,) = [i[1] for i in instructions if i[0] == "FROM"]
    assert base == "${BASE_IMAGE}"
    args = dict(i[1].split("=", 1) for i in instructions if i[0] == "ARG" and "=" in i[1])
    assert re.fullmatch(r"python:3\.1\d-slim(-\w+)?", args["BASE_IMAGE"]), args
    (user,) = [i[1] for i in instructions if i[0] == "USER"]
    assert user not in ("root", "0")
    assert 'pip install "/tmp/minicommerce[server]"' in text
    assert re.search(r"HEALTHCHECK .*\n.*http://127\.0\.0\.1:8000/health", text)
    (cmd,) = [i[1] for i in instructions if i[0] == "CMD"]
    assert cmd.startswith('["minicommerce", "serve"')
    (expose,) = [i[1] for i in instructions if i[0] == "EXPOSE"]
    for service in app_services(compose).values():
        assert option(service["command"], "--port") == expose
        assert service["build"] == {"context": "..", "dockerfile": "Dockerfile"}
    # What the image copies is all the package build needs, and .dockerignore lets it in.
    copied = re.findall(r"^COPY (.+) /tmp/minicommerce/", text, flags=re.MULTILINE)
    sources = [part for line in copied for part in line.split()]
    assert sorted(sources) == ["README.md", "pyproject.toml", "src"]
    allowed = (ROOT / ".dockerignore").read_text().splitlines()
    for source in sources:
        assert f"!{source}" in allowed or f"!{source}/" in allowed, source


def compose_v2() -> list[str]:
    """A Docker Compose v2 command: ``MINICOMMERCE_TEST_COMPOSE`` (a binary: .ci/run gets
    one with tools/compose-v2.sh), else the docker CLI's compose plugin."""
    given = os.environ.get("MINICOMMERCE_TEST_COMPOSE")
    for command in [[given]] if given else [["docker", "compose"], ["docker-compose"]]:
        try:
            version = subprocess.run(
                [*command, "version"], capture_output=True, text=True, timeout=30, check=False
            )
        except OSError:
            continue
        # v1 (Python, retired) says "docker-compose version 1...".
        if version.returncode == 0 and version.stdout.startswith("Docker Compose version"):
            return command
    missing(
        "no Docker Compose v2 (set MINICOMMERCE_TEST_COMPOSE to a docker-compose binary; "
        "tools/compose-v2.sh gets Debian's)"
    )
    raise AssertionError  # unreachable: missing() raises


def test_docker_compose_accepts_the_compose_file(compose: dict[str, Any], tmp_path: Path) -> None:
    command = compose_v2()
    # The variables deploy/.env would set, and no deploy/.env a developer may have.
    secrets = set(re.findall(r"\$\{(\w+)", (DEPLOY / "compose.yaml").read_text()))
    environment = {k: v for k, v in os.environ.items() if k not in secrets}
    filled = environment | {
        name: f"{name.lower()}-value-of-32-characters-or-more" for name in secrets
    }
    empty = tmp_path / "empty.env"
    empty.write_text("")
    base = [*command, "--file", str(DEPLOY / "compose.yaml"), "--env-file", str(empty), "config"]
    done = subprocess.run(
        [*base, "--format", "json"], env=filled, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    resolved = json.loads(done.stdout)
    assert set(resolved["services"]) == set(compose["services"])
    for name in app_services(compose):
        service = resolved["services"][name]
        assert service["build"]["context"] == str(ROOT), name
        assert service["build"]["dockerfile"] == "Dockerfile", name
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert resolved["services"]["pgbouncer"]["build"]["dockerfile_inline"].startswith("FROM ")
    # A secret left unset stops compose, saying where to set it.
    for name in secrets:
        unset = subprocess.run(
            [*base, "--quiet"],
            env={k: v for k, v in filled.items() if k != name},
            capture_output=True,
            text=True,
            check=False,
        )
        assert unset.returncode != 0, name
        assert f"{name} is missing a value: set it in deploy/.env" in unset.stderr, unset.stderr
