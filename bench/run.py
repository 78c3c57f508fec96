"""minicommerce benchmark: the real HTTP server against a bare ceiling app, under wrk.

One run (``python bench/run.py``, or ``nox -s bench``):

1. resets the PostgreSQL database ``minicommerce_bench``, migrates it with
   ``minicommerce db upgrade`` and seeds 10,000 products and one customer;
2. measures in-process costs: catalog calls per second on one thread, argon2 hash time;
3. for each ASGI server (granian, uvicorn) starts ``minicommerce serve --workers 2`` and
   loads it with wrk: the product list (``?limit=20``) and random product details; on
   granian also the login;
4. serves the captured list and detail bodies from memory with a bare Litestar app on
   granian (``bench/ceiling_app.py``): the ceiling;
5. once more on granian with the access log on (``MINICOMMERCE_LOG_LEVEL=INFO``, to
   /dev/null), for the cost of logging;
6. prints the table (req/s, p50, p99, share of the ceiling, multiple of the Django REST
   reference, PASS/MISS per target) and writes ``bench/results/latest.json`` (and
   ``latest.md``).

Targets are informational: the exit status is 0 unless the bench itself fails. Every
subprocess it starts is stopped on the way out, also on errors and Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import random
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib import metadata
from pathlib import Path
from types import FrameType
from typing import IO, Any

import inprocess
import pyspy_summary
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from minicommerce import Argon2Parameters, Registration, Settings, Shop
from minicommerce.storage.tables import products

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results"
LUA = BENCH_DIR / "lua"
HOST = "127.0.0.1"

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/minicommerce_bench"
PRODUCTS = 10_000
CUSTOMER_EMAIL = "bench.customer@example.com"
CUSTOMER_PASSWORD = "bench-password-" + "7" * 8

# The Django REST Framework reference figures on this kind of machine (2 cores).
DJANGO_RPS = {"list": 800.0, "detail": 1100.0}
CEILING_SHARE_TARGET = {"list": 0.15, "detail": 0.20}
DJANGO_FACTOR_TARGET = 5.0
SCENARIOS = ("list", "detail")
LIST_PATH = "/api/v1/products?limit=20"
DETAIL_PREFIX = "/api/v1/products/"
LOGIN_PATH = "/api/v1/auth/login"
# uvicorn-nodelay: uvicorn with its --workers N TCP_NODELAY bug worked around (see
# bench/uvicorn_nodelay.py); "uvicorn" is what `minicommerce serve --server uvicorn` runs.
SERVERS = ("granian", "uvicorn", "uvicorn-nodelay")
DEFAULT_EXPERIMENTS = "real;threads=2;switch=0.001;real,workers=3;log=INFO"


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- processes


def _group_members(pgid: int) -> list[int]:
    """Live processes of process group ``pgid`` (Linux /proc)."""
    members: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces, so split after ')'.
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid``, parents before children."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in sorted(children.get(todo.pop(0), [])):
            found.append(child)
            todo.append(child)
    return found


def _proc_cpu_ticks(pid: int) -> int:
    """utime + stime of one process, in clock ticks (0 if it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


def _postgres_pids() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@dataclass(frozen=True, slots=True)
class CpuSnapshot:
    """CPU seconds so far: the whole machine (busy and all), the server's process tree,
    PostgreSQL's processes, and this process's reaped children (the finished wrk run)."""

    wall: float
    machine_busy: float
    machine_total: float
    server: float
    postgres: float
    children: float

    @classmethod
    def take(cls, server_pids: Sequence[int] = ()) -> CpuSnapshot:
        tick = os.sysconf("SC_CLK_TCK")
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        idle = values[3] + values[4]
        reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
        return cls(
            wall=time.monotonic(),
            machine_busy=(sum(values) - idle) / tick,
            machine_total=sum(values) / tick,
            server=sum(_proc_cpu_ticks(p) for p in server_pids) / tick,
            postgres=sum(_proc_cpu_ticks(p) for p in _postgres_pids()) / tick,
            children=reaped.ru_utime + reaped.ru_stime,
        )

    def until(self, end: CpuSnapshot, requests: int) -> dict[str, float]:
        """Cores used by each part over the interval, and CPU milliseconds per request.
        ``wrk`` is the load generator (and py-spy when profiling); ``other`` is the rest
        of the machine: this script, and anything else running (noise)."""
        wall = end.wall - self.wall
        busy = end.machine_busy - self.machine_busy
        parts = {
            "server": end.server - self.server,
            "postgres": end.postgres - self.postgres,
            "wrk": end.children - self.children,
        }
        parts["other"] = max(0.0, busy - sum(parts.values()))
        out: dict[str, float] = {
            "machine_busy_share": round(busy / (end.machine_total - self.machine_total), 3)
        }
        for name, seconds in parts.items():
            out[f"{name}_cores"] = round(seconds / wall, 2)
            out[f"{name}_ms_per_request"] = round(seconds * 1000 / max(1, requests), 3)
        return out


def busy_cores(seconds: float = 1.0) -> float:
    """Cores in use on the machine over the next ``seconds``."""
    before = CpuSnapshot.take()
    time.sleep(seconds)
    after = CpuSnapshot.take()
    return (after.machine_busy - before.machine_busy) / (after.wall - before.wall)


def wait_until_quiet(limit: float, max_wait: float) -> float:
    """Wait (at most ``max_wait`` s) until the machine uses less than ``limit`` cores
    while idle from our side; the last measurement."""
    deadline = time.monotonic() + max_wait
    used = busy_cores()
    warned = False
    while used > limit and time.monotonic() < deadline:
        if not warned:
            say(f"  machine busy ({used:.2f} cores used by others): waiting up to {max_wait:.0f} s")
            warned = True
        used = busy_cores(2.0)
    if used > limit:
        say(f"  WARNING: still {used:.2f} cores busy elsewhere; measuring anyway")
    return round(used, 2)


class Children:
    """Every subprocess this run starts, each the leader of its own process group, so that
    it and whatever it spawns (server workers) can be stopped together, and only them."""

    def __init__(self) -> None:
        self._procs: list[subprocess.Popen[bytes]] = []

    def start(
        self,
        cmd: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        stdout: IO[bytes] | int | None = None,
        stderr: IO[bytes] | int | None = None,
        cwd: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            list(cmd),
            env=env,
            stdout=stdout,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            start_new_session=True,
        )
        self._procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes], grace: float = 15.0) -> None:
        """SIGTERM the group, wait for the leader, then SIGKILL what is left of the group."""
        pgid = proc.pid
        if proc.poll() is None:
            self._signal_group(pgid, signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                self._signal_group(pgid, signal.SIGKILL)
                proc.wait(5)
        # Workers may outlive their leader for a moment; then they are killed, one by one.
        deadline = time.monotonic() + 5
        while _group_members(pgid) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in _group_members(pgid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if proc in self._procs:
            self._procs.remove(proc)

    def stop_all(self) -> None:
        for proc in reversed(list(self._procs)):
            try:
                self.stop(proc, grace=10.0)
            except Exception as exc:  # keep stopping the others
                say(f"warning: could not stop pid {proc.pid}: {exc}")

    @staticmethod
    def _signal_group(pgid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)


def _raise_on_signal(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


# --------------------------------------------------------------------------- HTTP


def http(
    method: str,
    url: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, dict[str, str], bytes]:
    # Only ever http://127.0.0.1:<port>/... URLs built by this module.
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers.items()), exc.read()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


# --------------------------------------------------------------------------- wrk


@dataclass(frozen=True, slots=True)
class Load:
    """One wrk run."""

    label: str
    url: str
    connections: int
    threads: int
    seconds: float
    requests: int
    rps: float
    latency_ms: dict[str, float]
    non_2xx: int  # wrk counts responses with status >= 400
    socket_errors: dict[str, int]
    mb_per_s: float
    raw: str  # where wrk's text report is kept
    cpu: dict[str, float] = field(default_factory=dict)
    busy_before: float | None = None  # cores busy elsewhere just before the run
    attempts: int = 1  # more than 1: earlier attempts were disturbed by other load

    @property
    def p50(self) -> float:
        return self.latency_ms["p50"]

    @property
    def p99(self) -> float:
        return self.latency_ms["p99"]


def find_wrk(install: bool) -> str:
    path = shutil.which("wrk")
    if path:
        return path
    if install and shutil.which("apt-get") and os.geteuid() == 0:
        say("wrk is missing: apt-get install -y wrk ...")
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "wrk"],
            check=False,
            stdout=subprocess.DEVNULL,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        path = shutil.which("wrk")
        if path:
            return path
    raise SystemExit(
        "error: the load generator wrk is not installed. Install it (Debian/Ubuntu: "
        "`apt-get install -y wrk`, macOS: `brew install wrk`) and run the bench again."
    )


class Wrk:
    def __init__(self, path: str, children: Children, args: argparse.Namespace) -> None:
        self.path = path
        self.children = children
        self.threads: int = args.threads
        self.connections: int = args.connections
        self.duration: float = args.duration
        self.quiet_cores: float = args.quiet_cores
        self.quiet_wait: float = args.quiet_wait
        self.noise_cores: float = args.noise_cores
        self.retries: int = args.retries
        self.env = {**os.environ}
        self.out = RESULTS / "wrk"
        self.out.mkdir(parents=True, exist_ok=True)

    def run(
        self,
        label: str,
        url: str,
        script: str,
        *,
        seconds: float | None = None,
        connections: int | None = None,
        env: dict[str, str] | None = None,
        keep: bool = True,
        server_pids: Sequence[int] = (),
        retry: bool = True,
    ) -> Load:
        """One wrk run. A kept run that other processes disturbed (more than
        ``noise_cores`` of CPU used outside the server, PostgreSQL and wrk) is measured
        again, up to ``retries`` times; the least disturbed attempt is returned."""
        attempts: list[Load] = []
        for attempt in range(1 + (self.retries if keep and retry else 0)):
            if attempt:
                say(
                    f"  {label}: disturbed ({attempts[-1].cpu['other_cores']:.2f} cores of "
                    f"other load during the run), measuring again"
                )
            attempts.append(
                self._once(label, url, script, seconds, connections, env, keep, server_pids)
            )
            if attempts[-1].cpu["other_cores"] <= self.noise_cores:
                break
        best = min(attempts, key=lambda a: a.cpu["other_cores"])
        if best.cpu["other_cores"] > self.noise_cores and keep:
            say(
                f"  WARNING: {label} measured with {best.cpu['other_cores']:.2f} cores "
                "of other load"
            )
        return replace(best, attempts=len(attempts))

    def _once(
        self,
        label: str,
        url: str,
        script: str,
        seconds: float | None,
        connections: int | None,
        env: dict[str, str] | None,
        keep: bool,
        server_pids: Sequence[int],
    ) -> Load:
        seconds = self.duration if seconds is None else seconds
        connections = connections or self.connections
        threads = min(self.threads, connections)
        cmd = [
            self.path,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "--latency",
            "-s",
            str(LUA / script),
            url,
        ]
        quiet = wait_until_quiet(self.quiet_cores, self.quiet_wait) if keep else None
        before = CpuSnapshot.take(server_pids)
        proc = self.children.start(
            cmd,
            env={**self.env, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            output, _ = proc.communicate(timeout=seconds + 60)
        finally:
            self.children.stop(proc)
        after = CpuSnapshot.take(server_pids)
        text = output.decode(errors="replace")
        raw = self.out / f"{label}.txt"
        if keep:
            raw.write_text(" ".join(cmd) + "\n\n" + text)
        line = next((ln for ln in text.splitlines() if ln.startswith("BENCH_JSON ")), None)
        if proc.returncode != 0 or line is None:
            raise RuntimeError(f"wrk failed for {label} (exit {proc.returncode}):\n{text}")
        data = json.loads(line.removeprefix("BENCH_JSON "))
        secs = data["duration_us"] / 1e6
        lat = {k: round(v / 1000, 3) for k, v in data["latency_us"].items()}
        errors = data["errors"]
        return Load(
            label=label,
            url=url,
            connections=connections,
            threads=threads,
            seconds=round(secs, 3),
            requests=data["requests"],
            rps=round(data["requests"] / secs, 1),
            latency_ms=lat,
            non_2xx=errors["status"],
            socket_errors={k: errors[k] for k in ("connect", "read", "write", "timeout")},
            mb_per_s=round(data["bytes"] / secs / 1e6, 2),
            raw=str(raw.relative_to(BENCH_DIR.parent)) if keep else "",
            cpu=before.until(after, data["requests"]),
            busy_before=quiet,
        )


# --------------------------------------------------------------------------- database


def admin_url(url: str) -> tuple[sa.URL, str]:
    parsed = make_url(url).set(drivername="postgresql+psycopg")
    name = parsed.database
    if not name:
        raise SystemExit(f"error: {url} names no database")
    return parsed.set(database="postgres"), name


def reset_database(url: str) -> None:
    maintenance, name = admin_url(url)
    if not name.replace("_", "").isalnum():
        raise SystemExit(f"error: refusing to drop a database named {name!r}")
    engine = sa.create_engine(maintenance, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        engine.dispose()


ADJECTIVES = (
    "Classic", "Compact", "Deluxe", "Everyday", "Handmade", "Heavy-duty", "Light", "Modern",
    "Organic", "Portable", "Premium", "Recycled", "Rustic", "Sturdy", "Vintage", "Wireless",
)  # fmt: skip
MATERIALS = (
    "Bamboo", "Brass", "Canvas", "Ceramic", "Cotton", "Glass", "Leather", "Linen", "Maple",
    "Oak", "Slate", "Steel", "Walnut", "Wool",
)  # fmt: skip
NOUNS = (
    "Backpack", "Bottle", "Bowl", "Candle", "Chair", "Clock", "Desk Lamp", "Headphones",
    "Jacket", "Kettle", "Mug", "Notebook", "Pan", "Pillow", "Scarf", "Speaker", "Teapot",
    "Towel", "Tray", "Umbrella", "Vase", "Wallet",
)  # fmt: skip
PHRASES = (
    "Made to last and easy to care for.",
    "A favourite of our customers since the first season.",
    "Designed in small batches by independent makers.",
    "Ships in plastic-free packaging.",
    "Fits neatly in a small apartment.",
    "Pairs well with the rest of the collection.",
    "Every piece is checked by hand before it leaves the workshop.",
    "Covered by a two-year warranty.",
)


def seed(url: str, secret_key: str, count: int) -> dict[str, Any]:
    """``count`` products with varied names, prices and stock, and one customer."""
    rng = random.Random(20240601)
    base = datetime(2025, 1, 1, tzinfo=UTC)
    rows: list[dict[str, Any]] = []
    for i in range(count):
        adjective, material, noun = (
            rng.choice(ADJECTIVES),
            rng.choice(MATERIALS),
            rng.choice(NOUNS),
        )
        created = base + timedelta(minutes=7 * i, seconds=rng.randint(0, 59))
        rows.append(
            {
                "sku": f"BENCH-{i + 1:05d}",
                "name": f"{adjective} {material} {noun} {rng.randint(1, 99)}",
                "description": " ".join(rng.sample(PHRASES, rng.randint(1, 4))),
                "price": (Decimal(rng.randint(99, 99_999)) / 100).quantize(Decimal("0.01")),
                "stock_quantity": 0 if rng.random() < 0.1 else rng.randint(1, 500),
                "version": 1,
                "created_at": created,
                "updated_at": created + timedelta(days=rng.randint(0, 30)),
            }
        )
    with Shop.open(url, migrate=False, secret_key=secret_key) as shop:
        with shop.database.writer.begin() as conn:
            for start in range(0, len(rows), 1000):
                conn.execute(sa.insert(products), rows[start : start + 1000])
        customer = shop.accounts.register(
            Registration(
                email=CUSTOMER_EMAIL,
                password=CUSTOMER_PASSWORD,
                first_name="Bench",
                last_name="Customer",
            )
        )
        with shop.database.reader.connect() as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
            lo, hi, n = conn.execute(
                sa.select(sa.func.min(products.c.id), sa.func.max(products.c.id), sa.func.count())
            ).one()
    if hi - lo + 1 != n:
        raise RuntimeError("the seeded product ids are not contiguous")
    return {
        "products": n,
        "id_min": lo,
        "id_max": hi,
        "out_of_stock": sum(1 for r in rows if r["stock_quantity"] == 0),
        "price_min": str(min(r["price"] for r in rows)),
        "price_max": str(max(r["price"] for r in rows)),
        "customer_id": customer.id,
        "customer_email": CUSTOMER_EMAIL,
    }


# --------------------------------------------------------------------------- servers


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log: Path | None

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def workers(self) -> list[int]:
        """The worker processes (the descendants that run the app)."""
        found = []
        for pid in descendants(self.proc.pid):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if b"resource_tracker" not in cmdline:
                found.append(pid)
        return found


def start_server(
    children: Children,
    name: str,
    cmd: Sequence[str],
    env: dict[str, str],
    *,
    log: Path | None,
    port: int,
    timeout: float = 90.0,
) -> Server:
    sink: IO[bytes] | int
    sink = log.open("wb") if log is not None else subprocess.DEVNULL
    try:
        proc = children.start(cmd, env=env, stdout=sink, stderr=sink, cwd=RESULTS)
    finally:
        if not isinstance(sink, int):
            sink.close()
    server = Server(name, proc, port, log)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log else ""
            raise RuntimeError(f"{name} exited with {proc.returncode} before answering:\n{tail}")
        try:
            status, _, _ = http("GET", server.base + "/health", timeout=2)
            if status == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not answer /health within {timeout:.0f} s")
        time.sleep(0.2)
    # /health answered once; give the other worker a moment to bind too.
    time.sleep(1.0)
    return server


# The limiter runs (through Redis) on every request and never refuses: a fast machine
# serves over 30,000 cached answers a second, 2 million a minute from one address.
LIMITS_ON = "1000000000/minute"
CACHE_RUNS: dict[str, dict[str, str]] = {
    "granian-redis": {"MINICOMMERCE_CATALOG_CACHE_TTL": "0"},
    "granian-cache": {"MINICOMMERCE_CATALOG_CACHE_TTL": "300"},
    "granian-cache-limits": {
        "MINICOMMERCE_CATALOG_CACHE_TTL": "300",
        "MINICOMMERCE_RATE_LIMIT_ANON": LIMITS_ON,
        "MINICOMMERCE_RATE_LIMIT_USER": LIMITS_ON,
    },
}
"""The catalog cache comparison (--redis-url): run tag -> settings. The last one has the
rate limits on, shared through Redis, so that their cost shows."""
CACHE_FILL_S = 20.0


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def server_env(
    url: str, secret_key: str, log_level: str, extra: dict[str, str] | None = None
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINICOMMERCE_")}
    env.update(
        MINICOMMERCE_DATABASE_URL=url,
        MINICOMMERCE_SECRET_KEY=secret_key,
        MINICOMMERCE_RATE_LIMIT_ANON="0",
        MINICOMMERCE_RATE_LIMIT_USER="0",
        MINICOMMERCE_LOG_LEVEL=log_level,
        PYTHONUNBUFFERED="1",
    )
    env.update(extra or {})
    return env


def minicommerce_cmd(kind: str, port: int, workers: int) -> list[str]:
    """``minicommerce serve``; ``uvicorn-nodelay`` is uvicorn with its multi-worker
    TCP_NODELAY bug worked around (bench/uvicorn_nodelay.py)."""
    if kind == "uvicorn-nodelay":
        launcher = [sys.executable, str(BENCH_DIR / "uvicorn_nodelay.py")]
        kind = "uvicorn"
    else:
        launcher = [sys.executable, "-m", "minicommerce_server.cli"]
    return [
        *launcher,
        "serve",
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--server",
        kind,
        "--no-demo-data",
    ]


def check_catalog(server: Server, dataset: dict[str, Any]) -> tuple[bytes, bytes]:
    """Both routes answer 200 with what the seed put there; their bodies, as served."""
    status, headers, list_body = http("GET", server.base + LIST_PATH)
    if status != 200 or len(json.loads(list_body)["items"]) != 20:
        raise RuntimeError(f"{server.name}: GET {LIST_PATH} answered {status}: {list_body[:300]!r}")
    product_id = dataset["id_max"] - 17
    status, headers, detail_body = http("GET", f"{server.base}{DETAIL_PREFIX}{product_id}")
    if status != 200 or json.loads(detail_body)["id"] != product_id:
        raise RuntimeError(f"{server.name}: GET product answered {status}: {detail_body[:300]!r}")
    if "application/json" not in headers.get("Content-Type", headers.get("content-type", "")):
        raise RuntimeError(f"{server.name}: unexpected content type {headers}")
    return list_body, detail_body


def check_login(server: Server) -> None:
    body = json.dumps({"email": CUSTOMER_EMAIL, "password": CUSTOMER_PASSWORD}).encode()
    status, _, answer = http(
        "POST", server.base + LOGIN_PATH, body, {"Content-Type": "application/json"}, 30
    )
    if status != 200 or "access_token" not in json.loads(answer):
        raise RuntimeError(f"{server.name}: login answered {status}: {answer[:300]!r}")


# --------------------------------------------------------------------------- the run


@dataclass
class Bench:
    args: argparse.Namespace
    children: Children
    wrk: Wrk
    url: str
    secret_key: str
    report: dict[str, Any] = field(default_factory=dict)
    dataset: dict[str, Any] = field(default_factory=dict)

    @property
    def detail_env(self) -> dict[str, str]:
        return {
            "BENCH_ID_MIN": str(self.dataset["id_min"]),
            "BENCH_ID_MAX": str(self.dataset["id_max"]),
            "BENCH_DETAIL_PREFIX": DETAIL_PREFIX,
        }

    def load_catalog(self, server: Server, tag: str) -> dict[str, Load]:
        """Warm up, then measure the list and the detail scenarios."""
        warm = self.args.warmup
        self.wrk.run(
            f"{tag}-warmup-list", server.base + LIST_PATH, "list.lua", seconds=warm, keep=False
        )
        self.wrk.run(
            f"{tag}-warmup-detail", server.base + "/", "detail.lua",
            seconds=warm, env=self.detail_env, keep=False,
        )  # fmt: skip
        results: dict[str, Load] = {}
        pids = [server.proc.pid, *descendants(server.proc.pid)]
        for scenario in SCENARIOS:
            profiler = self.start_profiler(server, f"{tag}-{scenario}")
            if scenario == "list":
                load = self.wrk.run(
                    f"{tag}-list", server.base + LIST_PATH, "list.lua",
                    server_pids=pids, retry=profiler is None,
                )  # fmt: skip
            else:
                load = self.wrk.run(
                    f"{tag}-detail", server.base + "/", "detail.lua",
                    env=self.detail_env, server_pids=pids, retry=profiler is None,
                )  # fmt: skip
            self.finish_profiler(profiler, f"{tag}-{scenario}")
            results[scenario] = load
            say(
                f"  {tag:<10} {scenario:<7} {load.rps:>9,.0f} req/s  p50 {load.p50:6.2f} ms  "
                f"p99 {load.p99:7.2f} ms  non-2xx {load.non_2xx}  | cores: server "
                f"{load.cpu['server_cores']:.2f} pg {load.cpu['postgres_cores']:.2f} wrk "
                f"{load.cpu['wrk_cores']:.2f} other {load.cpu['other_cores']:.2f}"
            )
            if load.non_2xx or any(load.socket_errors.values()):
                say(
                    f"  WARNING: {load.non_2xx} error responses, socket errors {load.socket_errors}"
                )
        return results

    # -- profiling (optional, --profile): py-spy on one worker during a scenario

    def start_profiler(self, server: Server, tag: str) -> subprocess.Popen[bytes] | None:
        if not self.args.profile or server.name not in self.args.profile_servers:
            return None
        workers = server.workers()
        if not workers:
            say(f"  (no worker found to profile for {server.name})")
            return None
        pid = workers[-1]
        out = RESULTS / f"profile-{tag}.txt"
        cmd = [
            self.args.pyspy, "record", "--pid", str(pid), "--duration",
            str(max(1, round(self.args.duration) - 1)), "--rate", "200", "--nonblocking",
            "--gil", "--threads", "--format", "raw", "--output", str(out),
        ]  # fmt: skip
        log = (RESULTS / f"profile-{tag}.log").open("wb")
        try:
            return self.children.start(cmd, stdout=log, stderr=log)
        finally:
            log.close()

    def finish_profiler(self, proc: subprocess.Popen[bytes] | None, tag: str) -> None:
        if proc is None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(30)
        self.children.stop(proc)
        out = RESULTS / f"profile-{tag}.txt"
        if out.exists():
            summary = pyspy_summary.summarise(out.read_text())
            self.report.setdefault("profiles", {})[tag] = summary
            say(pyspy_summary.render(summary, title=f"profile {tag} (one worker)", top=12))

    # -- steps

    def prepare(self) -> None:
        say(f"database: reset {self.url}")
        reset_database(self.url)
        env = server_env(self.url, self.secret_key, "WARNING")
        proc = self.children.start(
            [sys.executable, "-m", "minicommerce_server.cli", "db", "upgrade"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=RESULTS,
        )
        output, _ = proc.communicate(timeout=120)
        self.children.stop(proc)
        if proc.returncode != 0:
            raise RuntimeError(f"minicommerce db upgrade failed:\n{output.decode()}")
        say(f"database: migrated; seeding {self.args.products:,} products and a customer")
        started = time.perf_counter()
        self.dataset = seed(self.url, self.secret_key, self.args.products)
        self.dataset["seed_seconds"] = round(time.perf_counter() - started, 2)
        self.report["dataset"] = self.dataset

    def in_process(self) -> None:
        say("in-process: catalog calls on one thread, argon2 timings")
        with Shop.open(self.url, migrate=False, secret_key=self.secret_key) as shop:
            rates = inprocess.catalog_rates(
                shop, (self.dataset["id_min"], self.dataset["id_max"]), self.args.core_seconds
            )
        self.report["in_process"] = rates
        for name, rate in rates.items():
            say(
                f"  {name:<14} {rate['per_second']:>10,.0f} calls/s  {rate['us_per_call']:8.1f} us"
                f"  (CPU {rate['cpu_us_per_call']:.1f} us)"
            )
        log_line = inprocess.access_log_cost(self.args.core_seconds / 2)
        self.report["access_log_line"] = log_line
        say(
            f"  access-log line (INFO, JSON, to /dev/null): {log_line['cpu_us_per_call']:.1f} us "
            "CPU"
        )
        defaults = Argon2Parameters()
        fields = Settings.model_fields  # the server's MINICOMMERCE_ARGON2_* defaults
        served = Argon2Parameters(
            fields["argon2_time_cost"].default,
            fields["argon2_memory_cost"].default,
            fields["argon2_parallelism"].default,
        )
        argon2 = inprocess.argon2_timings(defaults, rounds=self.args.hash_rounds)
        argon2["server_settings_match_defaults"] = served == defaults
        self.report["argon2"] = argon2
        say(
            f"  argon2id t={defaults.time_cost} m={defaults.memory_cost} KiB "
            f"p={defaults.parallelism}: hash {argon2['hash_ms_median']} ms, "
            f"(CPU {argon2['hash_cpu_ms_median']} ms), verify {argon2['verify_ms_median']} ms "
            f"(median of {argon2['rounds']})"
        )

    def real_server(
        self,
        kind: str,
        *,
        log_level: str = "WARNING",
        tag: str | None = None,
        env: dict[str, str] | None = None,
    ) -> Server:
        tag = tag or kind
        port = free_port()
        log = None if log_level == "INFO" else RESULTS / f"server-{tag}.log"
        say(
            f"{tag}: minicommerce serve --server {kind} --workers {self.args.workers} ({log_level})"
        )
        return start_server(
            self.children,
            tag,
            minicommerce_cmd(kind, port, self.args.workers),
            server_env(self.url, self.secret_key, log_level, env),
            log=log,
            port=port,
        )

    def run_servers(self) -> None:
        runs: dict[str, Any] = self.report.setdefault("runs", {})
        bodies: tuple[bytes, bytes] | None = None
        for kind in self.args.servers:
            server = self.real_server(kind)
            try:
                captured = check_catalog(server, self.dataset)
                bodies = bodies or captured
                runs[kind] = {k: asdict(v) for k, v in self.load_catalog(server, kind).items()}
                if kind == "granian" and not self.args.skip_login:
                    self.login(server)
            finally:
                self.children.stop(server.proc)
        if bodies is None:
            raise RuntimeError("no server ran")
        if self.args.redis_url:
            self.catalog_cache(runs, self.args.redis_url)
        self.ceiling(*bodies)
        if not self.args.skip_access_log and "granian" in self.args.servers:
            server = self.real_server("granian", log_level="INFO", tag="granian-log")
            try:
                check_catalog(server, self.dataset)
                runs["granian_access_log"] = {
                    k: asdict(v) for k, v in self.load_catalog(server, "granian-log").items()
                }
            finally:
                self.children.stop(server.proc)

    def catalog_cache(self, runs: dict[str, Any], redis_url: str) -> None:
        """granian with Redis, the catalog cache off then on (the same run, the same load)."""
        flush_redis(redis_url)
        for tag, settings in CACHE_RUNS.items():
            env = {"MINICOMMERCE_REDIS_URL": redis_url, **settings}
            server = self.real_server("granian", tag=tag, env=env)
            try:
                check_catalog(server, self.dataset)
                # Random ids among 10,000 fill a cache slowly: load them longer first, so
                # that the detail figure is of a warm cache (both runs alike).
                self.wrk.run(
                    f"{tag}-fill", server.base + "/", "detail.lua",
                    seconds=CACHE_FILL_S, env=self.detail_env, keep=False,
                )  # fmt: skip
                runs[tag] = {k: asdict(v) for k, v in self.load_catalog(server, tag).items()}
            finally:
                self.children.stop(server.proc)

    def ceiling(self, list_body: bytes, detail_body: bytes) -> None:
        list_file, detail_file = RESULTS / "ceiling-list.json", RESULTS / "ceiling-detail.json"
        list_file.write_bytes(list_body)
        detail_file.write_bytes(detail_body)
        self.report["bodies"] = {"list_bytes": len(list_body), "detail_bytes": len(detail_body)}
        port = free_port()
        env = {
            **os.environ,
            "BENCH_CEILING_LIST": str(list_file),
            "BENCH_CEILING_DETAIL": str(detail_file),
        }
        say(f"ceiling: bare Litestar on granian --workers {self.args.workers}, bodies from memory")
        server = start_server(
            self.children,
            "ceiling",
            [sys.executable, str(BENCH_DIR / "ceiling_app.py"), "--host", HOST,
             "--port", str(port), "--workers", str(self.args.workers)],
            env,
            log=RESULTS / "server-ceiling.log",
            port=port,
        )  # fmt: skip
        try:
            got = check_catalog(server, self.dataset)
            if got != (list_body, detail_body):
                raise RuntimeError("the ceiling app does not serve the captured bodies")
            runs = self.report.setdefault("runs", {})
            runs["ceiling"] = {
                k: asdict(v) for k, v in self.load_catalog(server, "ceiling").items()
            }
        finally:
            self.children.stop(server.proc)

    def experiments(self) -> None:
        """Variants of the app (bench/experiments.py) on granian, loaded the same way.
        With ``--repeat N`` the variants are measured N times in turn (ABC ABC ...) and
        each scenario keeps the run with the median rate; ``rps_runs`` lists them all."""
        runs: dict[str, dict[str, list[Load]]] = {}
        workers_of: dict[str, int] = {}
        for round_no in range(self.args.repeat):
            for variant in self.args.experiments:
                flags = dict(part.partition("=")[::2] for part in variant.split(",") if part)
                workers = int(flags.pop("workers", "") or self.args.workers)
                app_variant = ",".join(f"{k}={v}" if v else k for k, v in flags.items()) or "real"
                slug = "exp-" + "".join(c if c.isalnum() else "-" for c in variant)
                if self.args.repeat > 1:
                    slug += f"-r{round_no + 1}"
                port = free_port()
                say(f"experiment {variant!r}: {app_variant} on granian --workers {workers}")
                server = start_server(
                    self.children,
                    slug,
                    [sys.executable, str(BENCH_DIR / "experiments.py"), "--host", HOST,
                     "--port", str(port), "--workers", str(workers), "--variant", app_variant],
                    server_env(self.url, self.secret_key, "WARNING"),
                    log=None if "log" in flags else RESULTS / f"server-{slug}.log",
                    port=port,
                )  # fmt: skip
                try:
                    check_catalog(server, self.dataset)
                    loads = self.load_catalog(server, slug)
                finally:
                    self.children.stop(server.proc)
                workers_of[variant] = workers
                for scenario, load in loads.items():
                    runs.setdefault(variant, {}).setdefault(scenario, []).append(load)
        out: dict[str, Any] = self.report.setdefault("experiments", {})
        for variant, by_scenario in runs.items():
            out[variant] = {"workers": workers_of[variant]}
            for scenario, attempts in by_scenario.items():
                ordered = sorted(attempts, key=lambda ld: ld.rps)
                median = ordered[(len(ordered) - 1) // 2]
                out[variant][scenario] = {
                    **asdict(median),
                    "rps_runs": [ld.rps for ld in attempts],
                }

    def login(self, server: Server) -> None:
        check_login(server)
        env = {"BENCH_EMAIL": CUSTOMER_EMAIL, "BENCH_PASSWORD": CUSTOMER_PASSWORD}
        conns = self.args.login_connections
        pids = [server.proc.pid, *descendants(server.proc.pid)]
        load = self.wrk.run(
            "granian-login", server.base + LOGIN_PATH, "login.lua",
            connections=conns, env=env, server_pids=pids,
        )  # fmt: skip
        self.report["login"] = {"server": server.name, **asdict(load)}
        say(
            f"  {'granian':<10} login   {load.rps:>9,.1f} req/s  p50 {load.p50:6.1f} ms  "
            f"p99 {load.p99:7.1f} ms  non-2xx {load.non_2xx}  ({conns} connections)"
        )


# --------------------------------------------------------------------------- summary


def evaluate(report: dict[str, Any]) -> None:
    """Ratios to the ceiling and to Django, PASS/MISS per target, the faster server."""
    runs = report.get("runs", {})
    ceiling = runs.get("ceiling", {})
    ratios: dict[str, Any] = {}
    targets: list[dict[str, Any]] = []
    for server, loads in runs.items():
        if server == "ceiling":
            continue
        ratios[server] = {}
        for scenario in SCENARIOS:
            rps = loads[scenario]["rps"]
            share = round(rps / ceiling[scenario]["rps"], 4) if scenario in ceiling else None
            factor = rps / DJANGO_RPS[scenario]
            ratios[server][scenario] = {
                "rps": rps,
                "ceiling_share": share,
                "django_factor": round(factor, 2),
            }
            if server == "granian_access_log":
                continue
            if share is not None:
                targets.append({
                    "server": server, "scenario": scenario,
                    "target": f">= {CEILING_SHARE_TARGET[scenario]:.0%} of ceiling",
                    "value": f"{share:.1%}",
                    "pass": share >= CEILING_SHARE_TARGET[scenario],
                })  # fmt: skip
            targets.append({
                "server": server, "scenario": scenario,
                "target": f">= {DJANGO_FACTOR_TARGET:g}x Django "
                f"({DJANGO_RPS[scenario]:,.0f} req/s)",
                "value": f"{factor:.2f}x",
                "pass": factor >= DJANGO_FACTOR_TARGET,
            })  # fmt: skip
    report["ratios"] = ratios
    report["targets"] = targets
    if "granian" in runs:
        faster: dict[str, Any] = {}
        for other in ("uvicorn", "uvicorn-nodelay"):
            if other not in runs:
                continue
            gains = {sc: runs["granian"][sc]["rps"] / runs[other][sc]["rps"] for sc in SCENARIOS}
            winner = (
                "granian"
                if all(g > 1 for g in gains.values())
                else (other if all(g < 1 for g in gains.values()) else "mixed")
            )
            faster[other] = {
                "winner": winner,
                "granian_over": {k: round(v, 2) for k, v in gains.items()},
            }
        if faster:
            report["faster_server"] = faster
    if "granian_access_log" in runs and "granian" in runs:
        line_us = report.get("access_log_line", {}).get("cpu_us_per_call")
        report["access_log_cost"] = {
            sc: {
                "off_rps": runs["granian"][sc]["rps"],
                "on_rps": runs["granian_access_log"][sc]["rps"],
                "change": round(
                    runs["granian_access_log"][sc]["rps"] / runs["granian"][sc]["rps"] - 1, 4
                ),
                # the deterministic part: one log line's CPU against the request's CPU
                "line_share_of_server_cpu": None
                if line_us is None
                else round(line_us / 1000 / runs["granian"][sc]["cpu"]["server_ms_per_request"], 4),
            }
            for sc in SCENARIOS
        }


def render(report: dict[str, Any], markdown: bool = False) -> str:
    runs = report.get("runs", {})
    ratios = report.get("ratios", {})
    header = ["scenario", "server", "req/s", "p50 ms", "p99 ms", "non-2xx", "% ceiling", "x Django"]
    rows: list[list[str]] = []
    order = [s for s in (*SERVERS, *CACHE_RUNS, "ceiling", "granian_access_log") if s in runs]
    for scenario in SCENARIOS:
        for server in order:
            load = runs[server][scenario]
            ratio = ratios.get(server, {}).get(scenario, {})
            share = ratio.get("ceiling_share")
            rows.append([
                {"list": "list ?limit=20", "detail": "detail /{id}"}[scenario],
                {"granian_access_log": "granian + access log"}.get(server, server),
                f"{load['rps']:,.0f}",
                f"{load['latency_ms']['p50']:.2f}",
                f"{load['latency_ms']['p99']:.2f}",
                str(load["non_2xx"]),
                "100% (ref)" if server == "ceiling" else ("" if share is None else f"{share:.1%}"),
                f"{load['rps'] / DJANGO_RPS[scenario]:.2f}x",
            ])  # fmt: skip
    parts = [_table(header, rows, markdown)] if rows else []
    c_rows = [
        [
            scenario,
            {"granian_access_log": "granian + access log"}.get(server, server),
            f"{cpu['server_cores']:.2f}",
            f"{cpu['postgres_cores']:.2f}",
            f"{cpu['wrk_cores']:.2f}",
            f"{cpu['other_cores']:.2f}",
            f"{cpu['server_ms_per_request']:.3f}",
            f"{cpu['postgres_ms_per_request']:.3f}",
        ]
        for scenario in SCENARIOS
        for server in order
        if (cpu := runs[server][scenario].get("cpu"))
    ]
    if c_rows:
        c_header = ["scenario", "server", "server cores", "pg cores", "wrk cores",
                    "other cores", "server CPU ms/req", "pg CPU ms/req"]  # fmt: skip
        parts.append(_table(c_header, c_rows, markdown))
    targets = report.get("targets", [])
    if targets:
        t_rows = [
            [t["server"], t["scenario"], t["target"], t["value"], "PASS" if t["pass"] else "MISS"]
            for t in targets
        ]
        parts.append(_table(["server", "scenario", "target", "measured", ""], t_rows, markdown))
    lines: list[str] = []
    if "login" in report:
        lg, a2 = report["login"], report.get("argon2", {})
        p = a2.get("parameters", {})
        lines.append(
            f"login (granian, {lg['connections']} connections): {lg['rps']:,.1f} req/s, "
            f"p50 {lg['latency_ms']['p50']:.0f} ms, p99 {lg['latency_ms']['p99']:.0f} ms, "
            f"non-2xx {lg['non_2xx']}"
        )
        if p:
            lines.append(
                f"argon2id t={p['time_cost']} m={p['memory_cost']} KiB p={p['parallelism']}: "
                f"one hash {a2['hash_ms_median']} ms (CPU {a2['hash_cpu_ms_median']} ms), "
                f"one verify {a2['verify_ms_median']} ms "
                f"(median of {a2['rounds']})"
            )
    for other, fs in report.get("faster_server", {}).items():
        g = fs["granian_over"]
        lines.append(
            f"granian vs {other}: faster is {fs['winner']} (granian/{other}: "
            f"list {g['list']:.2f}x, detail {g['detail']:.2f}x)"
        )
    if "access_log_cost" in report:
        c = report["access_log_cost"]
        lines.append(
            "access log on (INFO, to /dev/null) vs off, granian: "
            + ", ".join(f"{sc} {c[sc]['change']:+.1%} req/s" for sc in SCENARIOS)
        )
        if (line := report.get("access_log_line")) and c["list"]["line_share_of_server_cpu"]:
            lines.append(
                f"one access-log line costs {line['cpu_us_per_call']:.0f} us CPU in process: "
                + ", ".join(
                    f"{c[sc]['line_share_of_server_cpu']:.1%} of a {sc} request's server CPU"
                    for sc in SCENARIOS
                )
            )
    if all(tag in runs for tag in CACHE_RUNS):
        off, on, limited = (runs[tag] for tag in CACHE_RUNS)
        lines.append(
            "catalog cache (granian, Redis), off -> on: "
            + ", ".join(
                f"{sc} {off[sc]['rps']:,.0f} -> {on[sc]['rps']:,.0f} req/s "
                f"({on[sc]['rps'] / off[sc]['rps']:.2f}x)"
                for sc in SCENARIOS
            )
        )
        if "ceiling" in runs:
            ceiling = runs["ceiling"]
            lines.append(
                "cached, share of the ceiling (targets >= 70 % with limits off, >= 40 % on): "
                + ", ".join(
                    f"{sc} {on[sc]['rps'] / ceiling[sc]['rps']:.1%} off, "
                    f"{limited[sc]['rps'] / ceiling[sc]['rps']:.1%} on"
                    for sc in SCENARIOS
                )
            )
    if lines:
        parts.append("\n".join(("- " + ln) if markdown else ln for ln in lines))
    if report.get("experiments"):
        parts.append(_experiments_table(report["experiments"], markdown))
    return "\n\n".join(parts)


def _experiments_table(experiments: dict[str, Any], markdown: bool) -> str:
    ref = experiments.get("real")
    repeated = any(
        len(r[sc].get("rps_runs", [])) > 1 for r in experiments.values() for sc in SCENARIOS
    )
    header = ["variant", "workers"]
    for sc in SCENARIOS:
        header += [f"{sc} req/s", "vs real", f"{sc} p99 ms", f"{sc} server CPU ms/req"]
        if repeated:
            header.append(f"{sc} all runs")
    rows = []
    for variant, result in experiments.items():
        row = [variant, str(result["workers"])]
        for sc in SCENARIOS:
            load = result[sc]
            change = f"{load['rps'] / ref[sc]['rps'] - 1:+.1%}" if ref else ""
            row += [
                f"{load['rps']:,.0f}",
                change,
                f"{load['latency_ms']['p99']:.1f}",
                f"{load['cpu']['server_ms_per_request']:.3f}",
            ]
            if repeated:
                row.append(" / ".join(f"{r:,.0f}" for r in load.get("rps_runs", [])))
        rows.append(row)
    return _table(header, rows, markdown)


def _table(header: list[str], rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(out)
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    fmt: Callable[[list[str]], str] = lambda r: "  ".join(  # noqa: E731
        c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
    )
    return "\n".join([fmt(header), "  ".join("-" * w for w in widths), *map(fmt, rows)])


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem_gb = round(kb / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    versions: dict[str, str | None] = {}
    for dist in ("minicommerce", "litestar", "granian", "uvicorn", "sqlalchemy", "psycopg",
                 "msgspec", "pydantic", "argon2-cffi", "uvloop", "httptools"):  # fmt: skip
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": mem_gb,
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
    }


def source_state() -> dict[str, Any]:
    """The commit measured, and the files of src/ that differ from it (if any)."""
    root = BENCH_DIR.parent

    def git(*args: str) -> str:
        try:
            done = subprocess.run(
                ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
            )
        except OSError:
            return ""
        return done.stdout.rstrip("\n") if done.returncode == 0 else ""

    dirty = [ln[3:] for ln in git("status", "--porcelain", "--", "src").splitlines()]
    return {
        "commit": git("rev-parse", "HEAD").strip() or None,
        "subject": git("log", "-1", "--format=%s").strip() or None,
        "src_uncommitted_changes": dirty,
    }


def postgres_version(url: sa.URL) -> str:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return str(conn.exec_driver_sql("SHOW server_version").scalar_one())
    finally:
        engine.dispose()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark the minicommerce HTTP server (see bench/README.md)."
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per scenario")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds per scenario")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--login-connections", type=int, default=8)
    parser.add_argument(
        "--servers", default=",".join(SERVERS), help="comma-separated, among %(default)s"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="PostgreSQL database to DROP, create and seed (default %(default)s)",
    )
    parser.add_argument("--products", type=int, default=PRODUCTS)
    parser.add_argument("--core-seconds", type=float, default=3.0, help="per in-process loop")
    parser.add_argument("--hash-rounds", type=int, default=10)
    parser.add_argument("--skip-login", action="store_true")
    parser.add_argument("--skip-access-log", action="store_true", help="no INFO-log run")
    parser.add_argument(
        "--quick", action="store_true",
        help="3 s scenarios, 1 s warm-ups, short in-process loops, no access-log run",
    )  # fmt: skip
    parser.add_argument(
        "--profile", action="store_true",
        help="py-spy one worker during each scenario (perturbs the figures)",
    )  # fmt: skip
    parser.add_argument("--profile-servers", default="granian", help="comma-separated")
    parser.add_argument(
        "--experiments", nargs="?", const=DEFAULT_EXPERIMENTS, default="",
        help="also serve and load app variants (bench/experiments.py), ';'-separated "
        f"(default when given without a value: {DEFAULT_EXPERIMENTS!r})",
    )  # fmt: skip
    parser.add_argument(
        "--repeat", type=int, default=1, help="experiments: rounds, median kept (default 1)"
    )
    parser.add_argument(
        "--only-experiments", action="store_true",
        help="skip the servers, ceiling and login: seed, then the experiments only",
    )  # fmt: skip
    parser.add_argument(
        "--quiet-cores", type=float, default=0.3,
        help="before each measured run, wait until other processes use less than this",
    )  # fmt: skip
    parser.add_argument("--quiet-wait", type=float, default=90.0, help="seconds, at most")
    parser.add_argument(
        "--noise-cores", type=float, default=0.15,
        help="a run during which other processes used more CPU than this is measured again",
    )  # fmt: skip
    parser.add_argument("--retries", type=int, default=2, help="re-measurements, at most")
    parser.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL"),
        help="also run granian with this Redis, the catalog cache off and on "
        "(granian-redis, granian-cache, granian-cache-limits); the Redis database is flushed",
    )  # fmt: skip
    parser.add_argument("--no-install", action="store_true", help="never apt-get install wrk")
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args(argv)
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    args.profile_servers = [s.strip() for s in args.profile_servers.split(",") if s.strip()]
    args.experiments = [v.strip() for v in args.experiments.split(";") if v.strip()]
    if args.only_experiments and not args.experiments:
        args.experiments = DEFAULT_EXPERIMENTS.split(";")
    if unknown := set(args.servers) - set(SERVERS):
        parser.error(f"unknown server(s): {', '.join(sorted(unknown))}")
    if importlib.util.find_spec("uvicorn") is None and any("uvicorn" in s for s in args.servers):
        say(
            "note: uvicorn is not installed here (it is in the 'dev' extra, not in "
            "'server'): skipping the uvicorn rows. pip install uvicorn to measure them."
        )
        args.servers = [s for s in args.servers if "uvicorn" not in s]
    if not args.servers and not args.only_experiments:
        parser.error("no server left to measure")
    if "granian" not in args.servers and not args.only_experiments:
        say("note: without granian there is no login run and no access-log run")
    if args.quick:
        args.duration, args.warmup, args.core_seconds = 3.0, 1.0, 0.5
        args.hash_rounds = min(args.hash_rounds, 5)
        args.skip_access_log = True
    if args.profile:
        args.pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(args.pyspy).exists():
            parser.error("--profile needs py-spy: pip install py-spy")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    wrk_path = find_wrk(install=not args.no_install)
    RESULTS.mkdir(parents=True, exist_ok=True)
    children = Children()
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_on_signal)
    # Ctrl-C must stop the bench even when it was started with SIGINT ignored (a background
    # job of a non-interactive shell): every child is then stopped on the way out.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    started = datetime.now(UTC)
    report: dict[str, Any] = {
        "date": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "source": source_state(),
        "config": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "wrk_threads": args.threads,
            "server_workers": args.workers,
            "login_connections": args.login_connections,
            "servers": args.servers,
            "quick": args.quick,
            "profile": args.profile,
            "django_reference_rps": DJANGO_RPS,
            "targets": {
                "ceiling_share": CEILING_SHARE_TARGET,
                "django_factor": DJANGO_FACTOR_TARGET,
            },
        },
    }
    wrk_version = subprocess.run(
        [wrk_path, "--version"], capture_output=True, text=True, check=False
    ).stdout.splitlines()
    report["machine"]["wrk"] = wrk_version[0] if wrk_version else "wrk"
    bench = Bench(
        args=args,
        children=children,
        wrk=Wrk(wrk_path, children, args),
        url=args.database_url,
        secret_key=secrets.token_hex(32),
        report=report,
    )
    try:
        report["machine"]["postgresql"] = postgres_version(admin_url(args.database_url)[0])
        bench.prepare()
        if not args.only_experiments:
            bench.in_process()
            bench.run_servers()
        if args.experiments:
            bench.experiments()
    except KeyboardInterrupt:
        say("interrupted: stopping every process this run started")
        return 130
    except sa.exc.OperationalError as exc:
        say(f"error: PostgreSQL does not answer as configured ({args.database_url}): {exc.orig}")
        return 2
    except RuntimeError as exc:  # a server that does not start or answer, wrk failing...
        say(f"error: {exc}")
        return 1
    finally:
        children.stop_all()
    report["elapsed_s"] = round((datetime.now(UTC) - started).total_seconds(), 1)
    evaluate(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    args.output.with_suffix(".md").write_text(render(report, markdown=True) + "\n")
    print()
    print(
        f"minicommerce bench, {report['date']}, {report['machine']['cores']} cores, "
        f"{args.workers} workers, wrk -t{args.threads} -c{args.connections} "
        f"-d{args.duration:g}s"
    )
    print(render(report))
    print(f"\nresults: {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
