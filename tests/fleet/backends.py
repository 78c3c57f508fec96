"""Private PostgreSQL and Redis servers, which a test may stop (or crash) and start."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests import pgservers
from tests.fleet.machine import answers, eventually, require_program, shared_directory


def postgres_bin() -> Path:
    """The newest installed PostgreSQL's binaries (Debian: /usr/lib/postgresql/N/bin)."""
    found = pgservers.postgres_bin()
    initdb = require_program("postgresql", str(found / "initdb") if found else None)
    return Path(initdb).parent


class PostgresCluster:
    """A PostgreSQL cluster of its own (``tests.pgservers.Server``), which the test may
    stop (even kill) and start; never the system's cluster. Unlike the replica tests'
    servers it keeps fsync on: the fault tests check that acknowledged orders survive."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.directory = shared_directory("mc-fleet-pg-")
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        self.server = pgservers.Server(
            postgres_bin(),
            self.directory / "data",
            port,
            options="-c shared_buffers=32MB -c max_connections=60",
        )

    @property
    def url(self) -> str:
        return self.server.url()

    def init(self) -> None:
        self.server.init()

    def start(self) -> None:
        self.server.start()

    def stop(self, mode: str = "fast") -> None:
        """``immediate`` is a crash: no checkpoint, the next start recovers from the WAL."""
        self.server.stop(mode)

    def running(self) -> bool:
        return (self.server.data / "postmaster.pid").exists()

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
