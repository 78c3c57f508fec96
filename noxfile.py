"""Developer sessions: ``nox -s tests | lint | typecheck | bench | demo``.

Dependencies come from the extras in pyproject.toml; nothing is listed twice.
"""

from __future__ import annotations

import os

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite on every backend that answers (CI=true: PostgreSQL and Redis must)."""
    session.install("-e", ".[dev]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("mypy")


@nox.session
def bench(session: nox.Session) -> None:
    """Catalog, login and order benchmarks on PostgreSQL: figures and ratios to baselines
    measured in the same run. ``nox -s bench -- <bench/run.py options>``."""
    session.install("-e", ".[server,postgres,redis]")
    # The scale-out rows (catalog cache, limits and orders through Redis) need a Redis
    # whose database is flushed: BENCH_REDIS_URL, or database 11 of the local one.
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
    session.run("python", "bench/run.py", "--redis-url", redis_url, *session.posargs)
    session.run("python", "bench/orders.py")
    session.run("python", "bench/orders.py", "--redis-url", redis_url)
    session.run("python", "bench/fleet.py", env={"MINICOMMERCE_BENCH_REDIS_URL": redis_url})


@nox.session
def demo(session: nox.Session) -> None:
    """The demo shop on SQLite at http://127.0.0.1:8000 (Ctrl-C stops it)."""
    session.install("-e", ".[server]")
    session.run("minicommerce", "serve", *session.posargs, env={"PYTHONUNBUFFERED": "1"})
