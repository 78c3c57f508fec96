"""One pipelined Redis connection per event loop, for one command at a time per caller: the
rate limiter's script call per request (the server), and the catalog cache's invalidation
from an event loop (``catalog/redis_cache.py``, ``changed_async``).

The limiter sends one script call per API request. Through redis.asyncio that cost about
60 µs of the worker's CPU per call (connection pool, command machinery, parser; hiredis
made no difference), more than the rest of a cached catalog read. Here every call of the
loop shares one connection: commands queued during one turn of the event loop go out in one
write, and Redis answers in order, so each reply settles the oldest waiting call. That is
all the limiter needs: commands whose replies are integers or simple strings.

Every call is bounded by ``timeout`` (connecting included). A call that times out while
nothing at all came back on the connection for as long drops the connection, and with it
every call still waiting (they fail at once rather than wait out their own timeouts); the
next call connects again. A call that times out while replies still flow (a busy machine)
fails alone, and its reply, when it comes, is skipped. The rate limiter's breaker decides what
a failure means (``minicommerce_server.ratelimit``).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections import deque
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Any, cast

log = logging.getLogger("minicommerce.redis")

Reply = int | str
Arg = str | bytes | int


class RedisReplyError(Exception):
    """Redis answered the command with an error (``-ERR ...``)."""

    @property
    def noscript(self) -> bool:
        return str(self).startswith("NOSCRIPT")


def encode_command(args: tuple[Arg, ...]) -> bytes:
    """A command in RESP: an array of bulk strings."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        raw = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
    return b"".join(parts)


class _Connection(asyncio.Protocol):
    """The connection: commands written in order, replies matched in order."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiting: deque[asyncio.Future[Reply]] = deque()
        self.out = bytearray()
        self.flush_scheduled = False
        self.lost = False
        self.last_read = 0.0  # loop time of the last bytes received
        self._buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's are not subclasses of asyncio.Transport).
        self.transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # Small writes must leave at once, not wait for the previous one's ACK.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def flush(self) -> None:
        self.flush_scheduled = False
        if self.out and self.transport is not None and not self.lost:
            self.transport.write(bytes(self.out))
        self.out.clear()

    def data_received(self, data: bytes) -> None:
        self.last_read = asyncio.get_running_loop().time()
        buffer = self._buffer
        buffer += data
        start = 0
        while (end := buffer.find(b"\r\n", start)) >= 0:
            kind, line = buffer[start], bytes(buffer[start + 1 : end])
            start = end + 2
            if not self.waiting or kind not in b":+-":
                # A reply nobody asked for, or a kind no command here gets: out of step.
                self.close(ConnectionError("unexpected reply from Redis"))
                return
            future = self.waiting.popleft()
            if future.done():  # its caller gave up; the reply is still its own
                continue
            if kind == 0x3A:  # ':'
                future.set_result(int(line))
            elif kind == 0x2B:  # '+'
                future.set_result(line.decode())
            else:
                future.set_exception(RedisReplyError(line.decode(errors="replace")))
        del buffer[:start]

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(ConnectionError(f"Redis connection lost: {exc or 'closed'}"))

    def close(self, exc: Exception) -> None:
        if self.transport is not None:
            self.transport.abort()
        self._fail(exc)

    def _fail(self, exc: Exception) -> None:
        self.lost = True
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_exception(exc)


def _expire(reply: asyncio.Future[Reply]) -> None:
    if not reply.done():  # its reply, when it comes, is skipped
        reply.set_exception(TimeoutError("Redis did not answer in time"))


class PipelinedRedis:
    """Calls on one shared connection per event loop; see the module's docstring."""

    def __init__(self, url: str, *, timeout: float) -> None:
        self._target = _Target.parse(url)
        self._timeout = timeout
        self._connection: _Connection | None = None
        self._connecting: asyncio.Future[_Connection] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def call(self, *args: Arg) -> Reply:
        """Send one command and return its reply; raises ``TimeoutError``,
        ``ConnectionError``/``OSError`` or :class:`RedisReplyError`."""
        loop = asyncio.get_running_loop()
        connection = self._connection
        try:
            if connection is None or connection.lost or self._loop is not loop:
                async with asyncio.timeout(self._timeout):
                    connection = await self._connect(loop)
                    return await self._send(connection, loop, args)
            # Connected, the common case: one timer on the reply. asyncio.timeout (a
            # context object, the current task, a rescheduled handle) cost a third of
            # the call's CPU.
            reply = self._send(connection, loop, args)
            timer = loop.call_later(self._timeout, _expire, reply)
            try:
                return await reply
            finally:
                timer.cancel()
        except TimeoutError:
            connection = self._connection
            if connection is None or loop.time() - connection.last_read >= self._timeout:
                # Nothing came back for a whole timeout: a stalled connection, not a slow
                # answer among others. The calls still waiting on it fail now.
                self._drop(TimeoutError("Redis did not answer in time"))
            raise

    def _send(
        self, connection: _Connection, loop: asyncio.AbstractEventLoop, args: tuple[Arg, ...]
    ) -> asyncio.Future[Reply]:
        future: asyncio.Future[Reply] = loop.create_future()
        connection.waiting.append(future)
        connection.out += encode_command(args)
        if not connection.flush_scheduled:
            connection.flush_scheduled = True
            loop.call_soon(connection.flush)
        return future

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> _Connection:
        if self._loop is not loop:
            # A connection belongs to the loop that opened it (an app started twice, as
            # tests do, runs on a new loop).
            self._connection, self._connecting, self._loop = None, None, loop
        if self._connecting is None or self._connecting.done():
            self._connecting = loop.create_future()
            attempt = self._connecting
            try:
                connection = await self._open(loop)
            except BaseException as exc:
                if isinstance(exc, Exception):
                    attempt.set_exception(exc)
                    attempt.exception()  # retrieved: those who wait see it, nobody else
                else:  # its caller's deadline cancelled it
                    attempt.cancel()
                self._connecting = None
                raise
            self._connection = connection
            attempt.set_result(connection)
            return connection
        attempt = self._connecting
        try:
            return await asyncio.shield(attempt)
        except asyncio.CancelledError:
            if attempt.cancelled():  # abandoned by the call that began it, not by ours
                raise ConnectionError("connecting to Redis was abandoned") from None
            raise

    async def _open(self, loop: asyncio.AbstractEventLoop) -> _Connection:
        target = self._target
        if target.path is not None:
            _, connection = await loop.create_unix_connection(_Connection, target.path)
        else:
            context = ssl.create_default_context() if target.tls else None
            _, connection = await loop.create_connection(
                _Connection, target.host, target.port, ssl=context
            )
        hello: list[asyncio.Future[Reply]] = []
        if target.password is not None:
            auth: tuple[Arg, ...] = ("AUTH", target.password)
            if target.username:
                auth = ("AUTH", target.username, target.password)
            hello.append(self._send(connection, loop, auth))
        if target.db:
            hello.append(self._send(connection, loop, ("SELECT", target.db)))
        try:
            for answer in hello:
                await answer
        except BaseException:
            connection.close(ConnectionError("Redis refused the connection's set-up"))
            raise
        return connection

    def _drop(self, exc: Exception) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close(exc)

    async def aclose(self) -> None:
        self._drop(ConnectionError("closed"))

    def close(self) -> None:
        """:meth:`aclose` for a caller on the connection's loop that cannot await."""
        self._drop(ConnectionError("closed"))


async def _closing_at_shutdown(pipe: PipelinedRedis) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        pipe.close()


class LoopGuard:
    """Closes a loop's ``pipe`` as the loop shuts down (:func:`close_at_shutdown`), or
    at :meth:`close`."""

    __slots__ = ("_guard", "pipe")

    def __init__(self, pipe: PipelinedRedis, guard: AsyncGenerator[None, None]) -> None:
        self.pipe = pipe
        self._guard = guard

    def close(self) -> None:
        """Close the pipe now, from its loop's thread (or with its loop closed): the
        guard ends here, so nothing is left for the loop to finalize later."""
        closing = self._guard.aclose()
        try:
            closing.send(None)
        except StopIteration:
            pass
        except RuntimeError:  # its loop closed first: the connection cannot be closed now
            log.debug("a pipelined Redis connection outlived its event loop")


async def close_at_shutdown(pipe: PipelinedRedis) -> LoopGuard:
    """Have the running loop close ``pipe`` as it shuts down; keep the guard as long as
    the pipe. For a loop that a library user starts and ends (``asyncio.run``): a
    connection still open once its loop closed could not be closed cleanly any more.

    How: an asynchronous generator left suspended registers with the loop, and
    ``asyncio.run`` (and ``uvloop.run``) close every such generator before the loop."""
    guard = _closing_at_shutdown(pipe)
    await anext(guard)
    return LoopGuard(pipe, guard)


@dataclass(frozen=True, slots=True)
class _Target:
    """Where Redis is, read from its URL as redis-py reads it (the catalog cache and the
    readiness check connect with redis-py: one reading of the same setting)."""

    host: str = "localhost"
    port: int = 6379
    path: str | None = None  # a Unix socket
    db: int = 0
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> _Target:
        from redis.connection import SSLConnection, parse_url

        parse: Callable[[str], dict[str, Any]] = parse_url  # redis-py leaves it untyped
        try:
            found = parse(url)
        except ValueError as exc:
            raise ValueError(f"not a Redis URL: {exc}") from None
        return cls(
            host=found.get("host") or "localhost",
            port=int(found.get("port") or 6379),
            path=found.get("path"),
            db=int(found.get("db") or 0),
            username=found.get("username"),
            password=found.get("password"),
            tls=found.get("connection_class") is SSLConnection,
        )
