"""Private PostgreSQL servers for tests: a primary with a streaming replica, and pgbouncer.

Made from Debian's binaries in a temporary directory, run as the ``postgres`` OS user (the
servers refuse root), on ports the test chooses; the system cluster is never touched.
``stop()`` ends them with ``pg_ctl stop -m immediate`` and removes the directory.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

from tests.conftest import IN_CI

if TYPE_CHECKING:
    from minicommerce import Shop

BIN_GLOB = "/usr/lib/postgresql/*/bin"
RUN_AS = "postgres"


def missing(message: str) -> None:
    """Skip, or fail under ``CI=true``, when a component is not on this machine."""
    import pytest

    if IN_CI:
        pytest.fail(f"{message}, and CI=true requires it", pytrace=False)
    pytest.skip(message)


def postgres_bin() -> Path | None:
    found = sorted(glob.glob(BIN_GLOB))
    if not found or not (Path(found[-1]) / "initdb").exists():
        return None
    return Path(found[-1])


def as_postgres(*command: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``command`` as the ``postgres`` OS user when the tests run as root."""
    args = [str(part) for part in command]
    if os.geteuid() == 0:
        args = ["runuser", "-u", RUN_AS, "--", *args]
    return subprocess.run(args, check=check, capture_output=True, text=True, timeout=120)


def _workdir(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        shutil.chown(path, RUN_AS, RUN_AS)
    return path


def wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(url, connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


class Server:
    """One PostgreSQL server (cluster) in ``data``, listening on 127.0.0.1:``port``."""

    def __init__(self, bin_dir: Path, data: Path, port: int, options: str = "") -> None:
        self.bin = bin_dir
        self.data = data
        self.port = port
        self.options = options  # more server settings, as ``-c name=value ...``

    def init(self) -> None:
        """A new cluster in ``data``: trust authentication, the ``postgres`` superuser."""
        as_postgres(
            self.bin / "initdb", "-D", self.data, "-U", "postgres",
            "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C",
        )  # fmt: skip

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        as_postgres(
            self.bin / "pg_ctl", "start", "-w", "-D", self.data, "-l", self.data / "server.log",
            "-o", f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 {self.options}",
        )  # fmt: skip
        wait_for(self.url())

    def stop(self, mode: str = "immediate") -> None:
        as_postgres(self.bin / "pg_ctl", "stop", "-w", "-m", mode, "-D", self.data, check=False)


class ReplicatedCluster:
    """A primary (``wal_level=replica``) and a replica made by ``pg_basebackup -R``."""

    def __init__(self, primary_port: int, replica_port: int) -> None:
        bin_dir = postgres_bin()
        if bin_dir is None:
            missing(f"no PostgreSQL server binaries in {BIN_GLOB}")
            raise AssertionError  # unreachable: missing() raises
        self.root = _workdir("mc-replica-")
        self.primary = Server(bin_dir, self.root / "primary", primary_port)
        self.replica = Server(bin_dir, self.root / "replica", replica_port)
        self.primary.init()
        with (self.primary.data / "postgresql.conf").open("a") as conf:
            conf.write(
                "wal_level = replica\nmax_wal_senders = 5\nfsync = off\n"
                "timezone = 'UTC'\nhot_standby = on\nhot_standby_feedback = on\n"
            )
        with (self.primary.data / "pg_hba.conf").open("a") as hba:
            hba.write("host replication all 127.0.0.1/32 trust\n")
        self.primary.start()
        as_postgres(
            bin_dir / "pg_basebackup", "-h", "127.0.0.1", "-p", str(primary_port),
            "-U", "postgres", "-D", self.replica.data, "-R", "-X", "stream", "--no-sync",
        )  # fmt: skip
        self.replica.start()

    def stop(self) -> None:
        self.replica.stop()
        self.primary.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class PgBouncer:
    """pgbouncer in transaction mode on 127.0.0.1:``port``, in front of ``host:target``
    (trust there); any database name goes to the database of that name behind it."""

    def __init__(self, port: int, target_port: int, target_host: str = "127.0.0.1") -> None:
        binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        if not Path(binary).exists():
            missing("pgbouncer is not installed (Debian package pgbouncer)")
        self.port = port
        self.root = _workdir("mc-pgbouncer-")
        config = self.root / "pgbouncer.ini"
        config.write_text(
            "[databases]\n"
            f"* = host={target_host} port={target_port} user=postgres\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {port}\n"
            f"unix_socket_dir = {self.root}\n"
            "auth_type = any\npool_mode = transaction\n"
            "max_client_conn = 500\ndefault_pool_size = 20\n"
            f"logfile = {self.root}/pgbouncer.log\npidfile = {self.root}/pgbouncer.pid\n"
            "server_reset_query =\n"
        )
        if os.geteuid() == 0:
            shutil.chown(config, RUN_AS, RUN_AS)
        as_postgres(binary, "-d", config)
        wait_for(self.url("postgres"))

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        pid_file = self.root / "pgbouncer.pid"
        try:
            os.kill(int(pid_file.read_text()), 15)
        except (OSError, ValueError):
            pass
        else:
            deadline = time.monotonic() + 5
            while pid_file.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        shutil.rmtree(self.root, ignore_errors=True)


def caught_up(shop: Shop, primary_url: str, replica_url: str, timeout: float = 10) -> None:
    """Wait until the replica has replayed everything the primary has, then probe, so
    the shop's view of it is current."""
    with psycopg.connect(primary_url, autocommit=True) as primary:
        row = primary.execute("SELECT pg_current_wal_lsn()::text").fetchone()
    target = row[0] if row else "0/0"
    deadline = time.monotonic() + timeout
    with psycopg.connect(replica_url, autocommit=True) as replica:
        while True:
            done = replica.execute(
                "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)
            ).fetchone()
            if done and done[0]:
                break
            if time.monotonic() > deadline:
                raise AssertionError("the replica did not catch up")
            time.sleep(0.02)
    assert shop.database.replicas is not None
    shop.database.replicas.probe()


@contextmanager
def replay_paused(replica_url: str) -> Iterator[None]:
    """The replica stops replaying the primary's WAL (it still receives it)."""
    with psycopg.connect(replica_url, autocommit=True) as conn:
        conn.execute("SELECT pg_wal_replay_pause()")
        try:
            yield
        finally:
            conn.execute("SELECT pg_wal_replay_resume()")
