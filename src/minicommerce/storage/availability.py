"""Which storage errors mean "the database is unavailable", as one domain error.

A database that is down, unreachable, locked or too slow surfaces as many driver and
SQLAlchemy errors; the unit of work and the shop's ping turn exactly those into
:class:`~minicommerce.errors.ServiceUnavailable`, so callers (and the server's 503) see one
error. Everything else, programming and integrity errors above all, passes through as it is:
those are bugs or their own domain errors, never "retry later".
"""

from __future__ import annotations

import sqlite3
import sys

import sqlalchemy as sa

from minicommerce.errors import ServiceUnavailable

# Primary result codes (the low byte of an extended code) of a SQLite that cannot serve now:
# BUSY and LOCKED (the busy timeout ran out), NOMEM, IOERR, FULL, CANTOPEN, PROTOCOL.
# Its other OperationalErrors ("no such table", syntax errors) are bugs.
_SQLITE_UNAVAILABLE = frozenset({5, 6, 7, 10, 13, 14, 15})
RETRY_AFTER_S = 5


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot serve now (rather than a bug)."""
    if isinstance(exc, sa.exc.TimeoutError):  # no pooled connection came free in time
        return True
    if isinstance(exc, sa.exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        return exc.orig is not None and _driver_unavailable(exc.orig)
    # The hot reads use the driver's cursor directly, so its errors arrive unwrapped.
    return _driver_unavailable(exc)


def _driver_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.OperationalError):
        code = getattr(exc, "sqlite_errorcode", None)
        if code is None:  # pragma: no cover - an error raised without a result code
            return "locked" in str(exc) or "busy" in str(exc)
        return code & 0xFF in _SQLITE_UNAVAILABLE
    psycopg = sys.modules.get("psycopg")  # only loaded when PostgreSQL is in use
    if psycopg is not None:
        # OperationalError is psycopg's class for connection failures, lost connections,
        # cancelled statements (the statement timeout), lock timeouts, shutdowns and
        # resource exhaustion; bugs are ProgrammingError, constraint breaches IntegrityError.
        if isinstance(exc, psycopg.OperationalError):
            return True
        if isinstance(exc, psycopg.InterfaceError) and "closed" in str(exc):
            return True
    return False


def database_unavailable() -> ServiceUnavailable:
    return ServiceUnavailable(
        f"The database is unavailable or too slow; retry in {RETRY_AFTER_S} seconds.",
        retry_after=RETRY_AFTER_S,
    )
