"""One statement at a time on a psycopg async connection's libpq handle, from the event loop.

Placement's statement is the hottest one the server sends. Through psycopg's cursor a
placement on the loop cost 362-480 us of client CPU (8 buyers on one loop), much of it on
converting the query, adapting each parameter, the prepare bookkeeping, psycopg's generators
and its row factory; sent through libpq directly, as here, 255-303 us (docs/benchmarks.md,
"Issue 10, eleventh session"). So :class:`Channel`:

- turns the statement's ``%(name)s`` placeholders into ``$n`` once per text;
- sends every parameter as text with its type (a string as "unknown", so the server infers
  it, as psycopg does);
- prepares it once per connection (not behind PgBouncer: then it is sent whole each time);
- answers its one row as Python values.

Only the types placement sends and reads are known here: anything else is a ``TypeError``, a
bug, never a guess. Errors are psycopg's own: a failed connection is its
``OperationalError``, and the server's error is the exception psycopg would raise for it.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import pq
from psycopg.errors import error_from_result

if TYPE_CHECKING:
    from psycopg.pq.abc import PGresult

ENCODING = "utf-8"
"""The connections' client encoding (``client_encoding=utf8``, set at connect)."""

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
_UNKNOWN, _BOOL, _INT8, _INT8_ARRAY, _NUMERIC, _TIMESTAMPTZ = 0, 16, 20, 1016, 1700, 1184
_READ: dict[int, Callable[[bytes], Any]] = {
    16: lambda value: value == b"t",  # bool
    20: int,  # int8
    21: int,  # int2
    23: int,  # int4
    25: lambda value: value.decode(ENCODING),  # text
    1043: lambda value: value.decode(ENCODING),  # varchar
    1700: lambda value: Decimal(value.decode()),  # numeric
}
_Types = tuple[int, ...]


class _Statement:
    """A statement's text with ``$n`` placeholders, and its parameters' names in order."""

    __slots__ = ("names", "prepared_as", "text")

    def __init__(self, sql: str) -> None:
        names: list[str] = []

        def number(match: re.Match[str]) -> str:
            if match[1] not in names:
                names.append(match[1])
            return f"${names.index(match[1]) + 1}"

        text = _PLACEHOLDER.sub(number, sql)
        if "%" in text:
            raise ValueError("only %(name)s placeholders, and no other '%', are supported")
        self.text = text.encode(ENCODING)
        self.names = tuple(names)
        self.prepared_as: dict[_Types, bytes] = {}

    def name(self, types: _Types) -> bytes:
        """The prepared statement's name for these parameter types: the same in every
        process and connection, and another for other types."""
        name = self.prepared_as.get(types)
        if name is None:
            digest = hashlib.sha1(self.text + repr(types).encode(), usedforsecurity=False)
            name = self.prepared_as[types] = b"minicommerce_" + digest.hexdigest()[:20].encode()
        return name


_statements: dict[str, _Statement] = {}


def _statement(sql: str) -> _Statement:
    known = _statements.get(sql)
    if known is None:
        known = _statements[sql] = _Statement(sql)
    return known


def text_of(value: Any) -> tuple[bytes | None, int]:
    """A parameter's text and type OID."""
    if value is None:
        return None, _UNKNOWN
    if isinstance(value, str):
        return value.encode(ENCODING), _UNKNOWN
    if isinstance(value, bool):
        return (b"t" if value else b"f"), _BOOL
    if isinstance(value, int):
        return b"%d" % value, _INT8
    if isinstance(value, Decimal) and value.is_finite():
        return str(value).encode(), _NUMERIC
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.isoformat().encode(), _TIMESTAMPTZ
    if isinstance(value, list) and all(type(item) is int for item in value):
        return ("{" + ",".join(map(str, value)) + "}").encode(), _INT8_ARRAY
    raise TypeError(f"no text form here for {type(value).__name__} {value!r}")


class Channel:
    """A psycopg async connection, used by one caller at a time, for statements answered by
    one row. The connection must be in autocommit and used by nothing else.

    Its socket is watched from its first statement on, by the loop that sent it, until
    :meth:`close`, rather than once per wait: adding and removing the loop's reader at each
    wait cost about as much as the rest of the wait. Whatever arrives is read at once; an
    idle connection that the server ended is then known to be unusable."""

    __slots__ = ("_fd", "_loop", "_prepared", "_prepares", "_waiter", "connection")

    def __init__(self, connection: psycopg.AsyncConnection[Any], *, prepare: bool) -> None:
        self.connection = connection
        self._prepares = prepare
        self._prepared: set[bytes] = set()
        self._loop: asyncio.AbstractEventLoop | None = None  # watching ``_fd``
        self._fd = -1
        self._waiter: asyncio.Future[None] | None = None

    @property
    def usable(self) -> bool:
        """Whether the connection can take a statement: it is up, and between statements."""
        pgconn = self.connection.pgconn
        return pgconn.status == pq.ConnStatus.OK and not pgconn.is_busy()

    async def one_row(self, sql: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """The row that ``sql`` (``%(name)s`` placeholders) answers with ``params``."""
        statement = _statement(sql)
        values: list[bytes | None] = []
        types: list[int] = []
        for name in statement.names:
            value, oid = text_of(params[name])
            values.append(value)
            types.append(oid)
        pgconn = self.connection.pgconn
        if not self._prepares:
            pgconn.send_query_params(statement.text, values, types)
            return _row(await self._answer())
        prepared = statement.name(tuple(types))
        if prepared not in self._prepared:
            pgconn.send_prepare(prepared, statement.text, types)
            _check(await self._answer(), pq.ExecStatus.COMMAND_OK)
            self._prepared.add(prepared)
        pgconn.send_query_prepared(prepared, values)
        return _row(await self._answer())

    def interrupt(self, error: Exception) -> None:
        """End the statement's wait now with ``error`` (its deadline passed): the caller
        then drops the connection."""
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def close(self) -> None:
        """Stop watching the socket, and close the connection, without waiting. From
        another thread than that of the loop watching it, while that loop runs, this is
        left to the loop: a reader removed after its descriptor was closed (and perhaps
        reused) would be another socket's."""
        loop = self._loop
        if loop is not None and loop.is_running() and _running_loop() is not loop:
            loop.call_soon_threadsafe(self.close)
            return
        self._unwatch()
        self.connection.pgconn.finish()

    async def _answer(self) -> PGresult:
        """Flush what was sent, then read its results; the last one is the answer."""
        pgconn = self.connection.pgconn
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._fd = pgconn.socket
            loop.add_reader(self._fd, self._readable)
            self._loop = loop
        while pgconn.flush():  # more to send: wait until the socket takes it
            self._waiter = waiter = loop.create_future()
            loop.add_writer(self._fd, _wake, waiter)
            try:
                await waiter
            finally:
                loop.remove_writer(self._fd)
                self._waiter = None
        results = []
        while True:
            while pgconn.is_busy():
                self._waiter = waiter = loop.create_future()
                try:
                    await waiter
                finally:
                    self._waiter = None
            result = pgconn.get_result()
            if result is None:
                break
            results.append(result)
        if not results:  # pragma: no cover - libpq answers every query with a result
            raise psycopg.OperationalError("the server sent no result")
        for result in results:
            if result.status == pq.ExecStatus.FATAL_ERROR:
                raise error_from_result(result, encoding=ENCODING)
        return results[-1]

    def _readable(self) -> None:
        waiter = self._waiter
        pgconn = self.connection.pgconn
        try:
            pgconn.consume_input()
        except psycopg.OperationalError as exc:  # the connection is gone: stop watching it
            self._unwatch()
            if waiter is not None and not waiter.done():
                waiter.set_exception(exc)
            return
        if waiter is not None and not waiter.done() and not pgconn.is_busy():
            waiter.set_result(None)

    def _unwatch(self) -> None:
        loop, self._loop = self._loop, None
        if loop is not None and not loop.is_closed():
            loop.remove_reader(self._fd)


def _check(result: PGresult, status: pq.ExecStatus) -> None:
    if result.status != status:  # pragma: no cover - a statement of another kind
        raise psycopg.ProgrammingError(f"expected {status.name}, the server answered "
                                       f"{pq.ExecStatus(result.status).name}")  # fmt: skip


def _row(result: PGresult) -> dict[str, Any]:
    _check(result, pq.ExecStatus.TUPLES_OK)
    if result.ntuples != 1:
        raise psycopg.ProgrammingError(f"one row expected, the server sent {result.ntuples}")
    row: dict[str, Any] = {}
    for column in range(result.nfields):
        name = (result.fname(column) or b"").decode(ENCODING)
        value = result.get_value(0, column)
        if value is not None:
            read = _READ.get(result.ftype(column))
            if read is None:
                raise TypeError(
                    f"no reader here for column {name!r} of type {result.ftype(column)}"
                )
            value = read(value)
        row[name] = value
    return row


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _wake(ready: asyncio.Future[None]) -> None:
    if not ready.done():
        ready.set_result(None)
