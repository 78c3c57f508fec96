"""Order placement's write on PostgreSQL from an event loop: psycopg's async connections.

A placement that runs in a thread pays for the hand-offs: the event loop to the thread, the
GIL back and forth at each round trip, and back to the loop. Placed on the loop, a spread
order cost about a quarter less server CPU, for 28-34 % more orders per second
(docs/benchmarks.md). So ``OrderService.place_async`` sends placement's one statement
(``postgres_orders.add_statement``) here, on connections of its own:

- at most ``size`` per event loop (``placement_concurrency``), made as they are needed;
  callers beyond that wait in arrival order, at most ``Timeouts.pool`` seconds;
- with the writer's settings: UTC, the statement timeout, keepalives, generic plans (and
  behind PgBouncer no prepared statements and no ``options``, as ``engine.py`` does);
- autocommit: the statement is its own transaction, as on the sync path (``autocommit.py``);
- the statement sent through the connection's libpq handle (``libpq.py``: about a third
  less client CPU than psycopg's cursor), which also tells when the server ended an idle
  connection: the pool then opens a new one rather than fail a placement on it.

A connection that failed is dropped, and an error that means the database cannot serve
becomes :class:`~minicommerce.errors.ServiceUnavailable`, as in the unit of work; so does a
statement not answered within ``Timeouts.longest_read`` (a database that stalls), whose
connection is dropped too. Then whether the order was recorded is not known: a retry with
the same idempotency key answers it either way. With read replicas, the write's WAL
position is recorded for the user after it, as the unit of work does (``positions.py``).

Connections belong to the loop that made them: a shop used from another loop (tests start
one per app) gets connections of its own there.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections import deque
from typing import Any

from psycopg import OperationalError

from minicommerce.accounts.models import SignedOut
from minicommerce.orders.models import Order
from minicommerce.orders.placement import OrderDraft
from minicommerce.orders.repository import KeyTaken, NewOrder, Seen, Stale
from minicommerce.storage.availability import database_unavailable, is_unavailable
from minicommerce.storage.engine import Database, writer_connect_args
from minicommerce.storage.libpq import Channel
from minicommerce.storage.positions import WritePositions
from minicommerce.storage.postgres_orders import add_outcome, add_statement
from minicommerce.storage.replicas import LSN_SQL, UNREACHABLE

log = logging.getLogger("minicommerce.storage")


class _LoopPool:
    """The connections of one event loop: idle ones, and the callers waiting for one."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.idle: list[Channel] = []
        self.waiting: deque[asyncio.Future[Channel | None]] = deque()
        self.open = 0  # made and not dropped: idle, in use, or being made


class AsyncPgOrderWriter:
    """``AsyncOrderWriter`` on the primary of ``database`` (module docstring)."""

    def __init__(
        self, database: Database, *, size: int, positions: WritePositions | None = None
    ) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self._conninfo = database.url.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        self._connect_args = writer_connect_args(database.timeouts, database.pgbouncer)
        self._wait = database.timeouts.pool
        self._deadline = database.timeouts.longest_read
        self._size = size
        self._prepare = not database.pgbouncer  # PgBouncer's transaction mode has no session
        self._positions = positions if database.replicas is not None else None
        self._pools: dict[asyncio.AbstractEventLoop, _LoopPool] = {}

    async def add(
        self, new: NewOrder, draft: OrderDraft, seen: Seen
    ) -> Order | Stale | KeyTaken | SignedOut:
        sql, params = add_statement(new, draft, seen)
        pool = self._pool()
        channel = await self._acquire(pool)
        # A database that stalls (no answer, the connection still up) would hold the caller
        # for as long: past ``Timeouts.longest_read``, as for the reads, the connection is
        # cut, and the wait ends at once with an error. Not by cancelling the wait: psycopg
        # then asks the server to cancel the statement and waits seconds for that.
        cut = _Cut(channel)
        timer = pool.loop.call_later(self._deadline, cut)
        try:
            outcome = await self._run(channel, sql, params, new, draft)
        except BaseException as exc:
            self._release(pool, channel, broken=True)
            if cut.fired or (isinstance(exc, Exception) and is_unavailable(exc)):
                raise database_unavailable() from exc
            raise
        finally:
            timer.cancel()
        self._release(pool, channel, broken=cut.fired)
        return outcome

    async def _run(
        self,
        channel: Channel,
        sql: str,
        params: dict[str, Any],
        new: NewOrder,
        draft: OrderDraft,
    ) -> Order | Stale | KeyTaken | SignedOut:
        outcome = add_outcome(await channel.one_row(sql, params), new, draft)
        if isinstance(outcome, Order) and self._positions is not None:
            self._positions.remember(new.user_id, await _lsn(channel))
        return outcome

    def _pool(self) -> _LoopPool:
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is None:
            for other in [p for p in self._pools.values() if p.loop.is_closed()]:
                _finish(other.idle)  # a loop that ended (a test's): its connections go
                del self._pools[other.loop]
            pool = self._pools[loop] = _LoopPool(loop)
        return pool

    async def _acquire(self, pool: _LoopPool) -> Channel:
        while pool.idle:
            idle = pool.idle.pop()
            if idle.usable:
                return idle
            _finish([idle])  # ended by the server while idle (a restart): a new one
            pool.open -= 1
        if pool.open < self._size:
            pool.open += 1
            return await self._connect(pool)
        waiter: asyncio.Future[Channel | None] = pool.loop.create_future()
        pool.waiting.append(waiter)
        try:
            async with asyncio.timeout(self._wait):
                channel = await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():  # handed over as it gave up
                self._release(pool, waiter.result(), broken=False)
            elif waiter in pool.waiting:  # a hand-over may have skipped it already
                pool.waiting.remove(waiter)
            if isinstance(exc, TimeoutError):
                raise database_unavailable() from None
            raise
        if channel is None:  # a slot, handed over by a dropped connection: connect
            return await self._connect(pool)
        return channel

    async def _connect(self, pool: _LoopPool) -> Channel:
        """A new connection, in a slot already counted in ``pool.open``."""
        import psycopg

        try:
            connection = await psycopg.AsyncConnection.connect(
                self._conninfo, autocommit=True, client_encoding="utf8", **self._connect_args
            )
        except BaseException as exc:
            self._free_slot(pool)
            if isinstance(exc, Exception) and is_unavailable(exc):
                raise database_unavailable() from exc
            raise
        return Channel(connection, prepare=self._prepare)

    def _release(self, pool: _LoopPool, channel: Channel | None, *, broken: bool) -> None:
        if channel is None or broken or not channel.usable:
            if channel is not None:
                _finish([channel])
            self._free_slot(pool)
            return
        while pool.waiting:  # the longest waiting caller first
            waiter = pool.waiting.popleft()
            if not waiter.done():
                waiter.set_result(channel)
                return
        pool.idle.append(channel)

    def _free_slot(self, pool: _LoopPool) -> None:
        """A connection is gone: its slot goes to the longest waiting caller, to connect."""
        while pool.waiting:
            waiter = pool.waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        pool.open -= 1

    def connections(self) -> int:
        """How many connections the running loop's pool holds (idle, in use, or being
        made): at most ``size``."""
        pool = self._pools.get(asyncio.get_running_loop())
        return 0 if pool is None else pool.open

    def close(self) -> None:
        for pool in self._pools.values():
            _finish(pool.idle)
            pool.idle = []
        self._pools.clear()


class _Cut:
    """Cuts a connection whose statement ran past its deadline: shut down, not closed, so
    that its descriptor stays libpq's (and the loop's) until the pool drops it, and the
    statement's wait ended at once, whether or not the socket still reports anything."""

    __slots__ = ("channel", "fired")

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.fired = False

    def __call__(self) -> None:
        self.fired = True
        try:
            with socket.socket(fileno=os.dup(self.channel.connection.pgconn.socket)) as sock:
                sock.shutdown(socket.SHUT_RDWR)  # the server side sees the end too
        except Exception as exc:  # closed already (psycopg's error or the socket's)
            log.debug("placement: the stalled connection was closed already: %s", exc)
        self.channel.interrupt(OperationalError("no answer within the deadline"))


async def _lsn(channel: Channel) -> int:
    # After the commit: failing here must not fail a placed order (the unit of work's rule).
    try:
        return int(next(iter((await channel.one_row(LSN_SQL, {})).values())))
    except Exception:
        return UNREACHABLE


def _finish(channels: list[Channel]) -> None:
    # Closed without awaiting: it may be another loop's, or a loop about to end.
    for channel in channels:
        channel.close()
