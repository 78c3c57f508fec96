"""``storage/libpq.py`` against a real PostgreSQL: what is sent arrives as meant, what comes
back is read right, errors are psycopg's, and a connection the server ends is known."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, TypeVar

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minicommerce.storage.libpq import Channel
from tests.conftest import POSTGRES_URL, require_service

T = TypeVar("T")


def with_channel(use: Callable[[Channel], Awaitable[T]], *, prepare: bool = True) -> T:
    """What ``use`` answers with a channel on a new connection (closed afterwards)."""
    require_service("postgres", POSTGRES_URL, 5432)

    async def main() -> T:
        connection = await psycopg.AsyncConnection.connect(
            POSTGRES_URL, autocommit=True, client_encoding="utf8"
        )
        channel = Channel(connection, prepare=prepare)
        try:
            return await use(channel)
        finally:
            channel.close()

    return asyncio.run(main())


def test_values_arrive_as_meant_and_come_back_typed() -> None:
    moment = datetime(2026, 12, 1, 15, 4, 5, 123456, tzinfo=timezone(timedelta(hours=2)))
    params: dict[str, Any] = {
        "yes": True,
        "big": 2**62,
        "money": Decimal("19.90"),
        "name": "Mug ☕ 'quoted'",
        "short": "Mug",
        "moment": moment,
        "utc": moment.astimezone(UTC).isoformat(),
        "ids": [3, 1, 2],
        "nothing": None,
    }
    sql = """SELECT %(yes)s::bool AS yes, %(big)s::int8 AS big, %(money)s::numeric AS money,
        %(name)s AS name, %(short)s::varchar AS short_name,
        %(moment)s::timestamptz = %(utc)s::timestamptz AS same_moment,
        %(ids)s::bigint[] = ARRAY[3, 1, 2]::bigint[] AS same_ids,
        %(nothing)s::int AS nothing, 7::int4 AS four, 8::int2 AS two"""

    row = with_channel(lambda channel: channel.one_row(sql, params))

    assert row == {
        "yes": True,
        "big": 2**62,
        "money": Decimal("19.90"),
        "name": "Mug ☕ 'quoted'",
        "short_name": "Mug",
        "same_moment": True,
        "same_ids": True,
        "nothing": None,
        "four": 7,
        "two": 8,
    }
    assert type(row["money"]) is Decimal


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    money=st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**12),
                      max_value=10**12, places=4),
    number=st.integers(min_value=-(2**63), max_value=2**63 - 1),
    text=st.text(st.characters(codec="utf-8", exclude_characters="\x00")),
)  # fmt: skip
def test_any_amount_number_or_text_round_trips(money: Decimal, number: int, text: str) -> None:
    sql = "SELECT %(money)s::numeric AS money, %(number)s::int8 AS number, %(text)s AS text"
    params = {"money": money, "number": number, "text": text}
    row = with_channel(lambda channel: channel.one_row(sql, params))
    assert row == {"money": money, "number": number, "text": text}


def test_a_server_error_is_psycopgs_and_the_channel_goes_on() -> None:
    async def use(channel: Channel) -> dict[str, Any]:
        with pytest.raises(psycopg.errors.DivisionByZero):
            await channel.one_row("SELECT 1 / %(zero)s AS x", {"zero": 0})
        assert channel.usable
        return await channel.one_row("SELECT 1 / %(one)s AS x", {"one": 1})

    assert with_channel(use) == {"x": 1}


def test_a_statement_is_prepared_once_per_connection() -> None:
    count = "SELECT count(*)::int8 AS n FROM pg_prepared_statements"

    async def use(channel: Channel) -> int:
        for i in range(3):
            assert await channel.one_row("SELECT %(i)s::int8 AS i", {"i": i}) == {"i": i}
        return int((await channel.one_row(count, {}))["n"])

    assert with_channel(use) == 2  # the select, and the count itself
    # Behind PgBouncer nothing is prepared: each statement is sent whole.
    assert with_channel(use, prepare=False) == 0


def test_a_statement_must_answer_one_row() -> None:
    async def use(channel: Channel) -> None:
        with pytest.raises(psycopg.ProgrammingError, match="one row"):
            await channel.one_row("SELECT 1 AS x WHERE false", {})

    with_channel(use)


def test_a_connection_the_server_ended_while_idle_is_known_unusable() -> None:
    async def use(channel: Channel) -> None:
        pid = (await channel.one_row("SELECT pg_backend_pid()::int8 AS pid", {}))["pid"]
        assert channel.usable  # and watched by the loop, from its first statement on
        killer = await psycopg.AsyncConnection.connect(POSTGRES_URL, autocommit=True)
        async with killer:
            await killer.execute("SELECT pg_terminate_backend(%s)", [pid])
        for _ in range(100):  # the loop reads the server's goodbye as it comes
            if not channel.usable:
                break
            await asyncio.sleep(0.05)
        assert not channel.usable
        with pytest.raises(psycopg.OperationalError):
            await channel.one_row("SELECT 1 AS x", {})

    with_channel(use)


def test_closed_from_another_thread_the_loop_closes_it() -> None:
    """A shop closed while the loop that watches a connection still runs elsewhere (a
    server's worker thread): the loop drops its watch and closes it, on its own thread."""
    require_service("postgres", POSTGRES_URL, 5432)
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever)
    runner.start()

    async def open_one() -> Channel:
        connection = await psycopg.AsyncConnection.connect(
            POSTGRES_URL, autocommit=True, client_encoding="utf8"
        )
        channel = Channel(connection, prepare=True)
        assert await channel.one_row("SELECT 1::int8 AS one", {}) == {"one": 1}
        return channel

    def finished(channel: Channel) -> bool:
        for _ in range(100):
            if channel.connection.pgconn.status == psycopg.pq.ConnStatus.BAD:
                return True
            time.sleep(0.02)
        return False

    try:
        channel = asyncio.run_coroutine_threadsafe(open_one(), loop).result(10)
        busy = threading.Event()

        def hold_the_loop() -> None:
            busy.set()
            time.sleep(0.3)

        loop.call_soon_threadsafe(hold_the_loop)
        busy.wait(10)
        channel.close()  # from this thread: left to the loop
        assert channel.connection.pgconn.status == psycopg.pq.ConnStatus.OK
        assert finished(channel)
        # The loop runs on: a new connection there works, and closes the same way.
        again = asyncio.run_coroutine_threadsafe(open_one(), loop).result(10)
        again.close()
        assert finished(again)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        runner.join(10)
        loop.close()
