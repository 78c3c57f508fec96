"""Private PostgreSQL and Redis servers, which a test may stop (or crash) and start."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.fleet.machine import answers, eventually, require_program, shared_directory


def postgres_bin() -> Path:
    """The newest installed PostgreSQL's binaries (Debian: /usr/lib/postgresql/N/bin)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    initdb = require_program("postgresql", str(found[-1]) if found else None)
    return Path(initdb).parent


class PostgresCluster:
    """A PostgreSQL cluster of its own, which the test may stop (even kill) and start;
    never the system's cluster. Run as the ``postgres`` user when the test runs as root
    (PostgreSQL refuses root)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.bin = postgres_bin()
        self.directory = shared_directory("mc-fleet-pg-")
        self.data = self.directory / "data"
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run(
            [*as_owner, *args], capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def init(self) -> None:
        self._run(
            str(self.bin / "initdb"),
            *("-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"),
            "--no-sync",  # initdb's own files only; the server below keeps fsync on
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} "
            "-c shared_buffers=32MB -c max_connections=60"
        )
        self._run(
            str(self.bin / "pg_ctl"),
            *("-D", str(self.data), "-l", str(self.directory / "postgres.log")),
            *("-o", options, "-w", "-t", "60", "start"),
        )

    def stop(self, mode: str = "fast") -> None:
        """``immediate`` is a crash: no checkpoint, the next start recovers from the WAL."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def close(self) -> None:
        if self.running():
            self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)


class RedisServer:
    """A redis-server of its own (no persistence), which the test may stop and start."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.binary = require_program("redis-server", shutil.which("redis-server"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *(self.binary, "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--loglevel", "warning"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        eventually(lambda: answers(self.port), 10, "redis-server listens")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        self.process.wait(10)

    def close(self) -> None:
        self.stop()
