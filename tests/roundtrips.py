"""Round trips to PostgreSQL, counted from libpq's own trace of the connection."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from minicommerce import Shop


def round_trips(shop: Shop, action: Callable[[], object], *, reader: bool = False) -> list[str]:
    """The messages ``action`` sent on the writer's (or the ``reader``'s) one pooled
    connection (libpq's trace), one string per round trip: what it sent before each
    ``Sync`` or simple ``Query``."""
    engine = shop.database.reader if reader else shop.database.writer
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
    assert raw is not None
    from psycopg import pq

    with tempfile.NamedTemporaryFile() as trace:
        raw.pgconn.trace(trace.fileno())
        raw.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        try:
            action()
        finally:
            raw.pgconn.untrace()
        text = Path(trace.name).read_text()
    trips, sent = [], []
    for line in text.splitlines():
        if line.startswith("F\t"):
            sent.append(line.split("\t")[2])
            if line.split("\t")[2] in ("Sync", "Query"):
                trips.append(" ".join(sent))
                sent = []
    return trips
