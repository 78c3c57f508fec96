"""The rate limiter's pipelined Redis connection, against a real Redis (and the test proxy)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest
import redis

from minicommerce.ratelimit import Rate
from minicommerce.redis_pipe import (
    LoopGuard,
    PipelinedRedis,
    RedisReplyError,
    _Target,
    close_at_shutdown,
    encode_command,
)
from minicommerce_server.ratelimit import AsyncRedisRateLimiter
from tests.proxy import Proxy

T = TypeVar("T")


def test_urls_name_the_server_the_database_and_the_credentials() -> None:
    plain = _Target.parse("redis://cache.internal:6380/3")
    assert (plain.host, plain.port, plain.db, plain.password, plain.tls) == (
        "cache.internal", 6380, 3, None, False,
    )  # fmt: skip
    secured = _Target.parse("rediss://app:s%40cret@cache/0")
    assert (secured.username, secured.password, secured.tls) == ("app", "s@cret", True)
    assert _Target.parse("redis://:pw@localhost?db=5").db == 5
    assert _Target.parse("redis://:pw@localhost?db=5").password == "pw"
    socket = _Target.parse("unix:///run/redis.sock?db=2")
    assert (socket.path, socket.db) == ("/run/redis.sock", 2)
    with pytest.raises(ValueError, match="not a Redis URL"):
        _Target.parse("http://localhost")


def test_commands_are_resp_arrays_of_bulk_strings() -> None:
    assert encode_command(("INCR", "k", 5)) == b"*3\r\n$4\r\nINCR\r\n$1\r\nk\r\n$1\r\n5\r\n"
    assert encode_command(("SET", "é")) == b"*2\r\n$3\r\nSET\r\n$2\r\n\xc3\xa9\r\n"


def run_on(loop: str, main: Coroutine[Any, Any, T]) -> T:
    """Run on asyncio's own loop, or on uvloop (which the servers run on)."""
    if loop == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(main)
    return asyncio.run(main)


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_concurrent_calls_share_one_connection_and_each_gets_its_own_reply(
    redis_url: str, loop: str
) -> None:
    pipe = PipelinedRedis(redis_url, timeout=2)

    async def run() -> list[int | str]:
        try:
            await pipe.call("DEL", "pipe:n")
            replies = await asyncio.gather(*(pipe.call("INCR", "pipe:n") for _ in range(500)))
            assert await pipe.call("PING") == "PONG"
            return list(replies)
        finally:
            await pipe.aclose()

    assert sorted(map(int, run_on(loop, run()))) == list(range(1, 501))
    assert int(redis.Redis.from_url(redis_url).get("pipe:n") or 0) == 500


def test_the_database_of_the_url_is_selected(redis_url: str) -> None:
    parts = urlsplit(redis_url)
    other_db = 3 if parts.path.strip("/") != "3" else 4
    other = f"{parts.scheme}://{parts.netloc}/{other_db}"
    pipe = PipelinedRedis(other, timeout=2)

    async def run() -> None:
        try:
            await pipe.call("SET", "pipe:db", "here")
        finally:
            await pipe.aclose()

    asyncio.run(run())
    client = redis.Redis.from_url(other)
    try:
        assert client.get("pipe:db") == b"here"
        assert redis.Redis.from_url(redis_url).get("pipe:db") is None
    finally:
        client.delete("pipe:db")


def test_an_error_reply_fails_only_its_own_call(redis_url: str) -> None:
    pipe = PipelinedRedis(redis_url, timeout=2)

    async def run() -> tuple[object, ...]:
        try:
            return tuple(
                await asyncio.gather(
                    pipe.call("INCR", "pipe:x"),
                    pipe.call("NOSUCHCOMMAND"),
                    pipe.call("PING"),
                    return_exceptions=True,
                )
            )
        finally:
            await pipe.aclose()

    redis.Redis.from_url(redis_url).delete("pipe:x")
    first, error, pong = asyncio.run(run())
    assert first == 1
    assert isinstance(error, RedisReplyError)
    assert "unknown command" in str(error)
    assert pong == "PONG"


def test_a_refused_password_is_an_error_not_a_hang(redis_url: str) -> None:
    parts = urlsplit(redis_url)
    pipe = PipelinedRedis(f"redis://:wrong@{parts.netloc}/0", timeout=2)

    async def run() -> None:
        try:
            await pipe.call("PING")
        finally:
            await pipe.aclose()

    with pytest.raises(RedisReplyError):  # no password is set: AUTH is refused
        asyncio.run(run())


def test_the_limiter_loads_its_script_again_after_a_flush(redis_url: str) -> None:
    limiter = AsyncRedisRateLimiter(redis_url, timeout=2, prefix="flush:")

    async def run() -> list[bool]:
        try:
            first = (await limiter.hit("k", Rate(3, 60))).allowed
            redis.Redis.from_url(redis_url).script_flush()
            return [first] + [(await limiter.hit("k", Rate(3, 60))).allowed for _ in range(3)]
        finally:
            await limiter.aclose()

    assert asyncio.run(run()) == [True, True, True, False]


def test_a_stalled_redis_times_out_every_waiting_call_and_the_next_call_reconnects(
    redis_url: str,
) -> None:
    target = urlsplit(redis_url)
    with Proxy(target.hostname or "127.0.0.1", target.port or 6379) as proxy:
        pipe = PipelinedRedis(f"redis://{proxy.url_netloc}{target.path}", timeout=0.2)

        async def run() -> tuple[list[int | str | BaseException], float, int | str]:
            loop = asyncio.get_running_loop()
            try:
                assert await pipe.call("PING") == "PONG"
                proxy.stall()
                began = loop.time()
                stalled = await asyncio.gather(
                    *(pipe.call("PING") for _ in range(20)), return_exceptions=True
                )
                waited = loop.time() - began
                proxy.forward()
                return stalled, waited, await pipe.call("PING")
            finally:
                await pipe.aclose()

        stalled, waited, after = asyncio.run(run())
    assert all(isinstance(e, (TimeoutError, ConnectionError)) for e in stalled)
    assert any(isinstance(e, TimeoutError) for e in stalled)
    assert waited < 1.0  # one deadline for all of them, not twenty in a row
    assert after == "PONG"


def test_a_refused_connection_fails_fast(redis_url: str) -> None:
    target = urlsplit(redis_url)
    with Proxy(target.hostname or "127.0.0.1", target.port or 6379) as proxy:
        proxy.refuse()
        pipe = PipelinedRedis(f"redis://{proxy.url_netloc}{target.path}", timeout=1)

        async def run() -> list[object]:
            try:
                return list(
                    await asyncio.gather(
                        *(pipe.call("PING") for _ in range(5)), return_exceptions=True
                    )
                )
            finally:
                await pipe.aclose()

        results = asyncio.run(run())
    assert all(isinstance(r, (ConnectionError, OSError)) for r in results), results


def open_connections(pipe: PipelinedRedis) -> bool:
    connection = pipe._connection
    return connection is not None and not connection.lost


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_guarded_pipe_is_closed_as_its_loop_shuts_down(redis_url: str, loop: str) -> None:
    """A library user's ``asyncio.run``: the connection closes with the loop, not later as
    an unclosed transport (a ResourceWarning, an error under this suite's settings)."""
    pipe = PipelinedRedis(redis_url, timeout=2)
    kept: list[LoopGuard] = []

    async def main() -> None:
        assert await pipe.call("PING") == "PONG"
        kept.append(await close_at_shutdown(pipe))
        assert open_connections(pipe)

    run_on(loop, main())
    assert not open_connections(pipe)


def test_a_guard_closes_its_pipe_when_told(redis_url: str) -> None:
    pipe = PipelinedRedis(redis_url, timeout=2)

    async def main() -> bool:
        assert await pipe.call("PING") == "PONG"
        guard = await close_at_shutdown(pipe)
        guard.close()
        guard.close()  # twice is once
        return open_connections(pipe)

    assert asyncio.run(main()) is False
