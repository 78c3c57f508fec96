"""Read replicas: which one may serve a read now, from a cached, background-probed health.

A prober thread (started with the set, and again in a process forked from it) asks, every
``probe_interval`` seconds, the primary for its WAL position (``pg_current_wal_lsn()``) and
keeps those samples with their times; then each replica for its replay position
(``pg_last_wal_replay_lsn()``). A replica's *lag* is how long ago the primary was last at a
position the replica has replayed: measured against the primary's own clock-free samples,
so an idle primary means no lag and a replica whose replay is paused, or whose link to the
primary is cut, lags more with every second. Between probes the lag only grows with the
time since the probe, so a replica is used while ``lag + time since probe <= max_lag``.

Requests never probe: :meth:`ReplicaSet.choose` reads the cached states. A replica that
fails a probe, or a request (:meth:`ReplicaSet.mark_down`), is skipped until a probe finds
it answering again; no restart is needed.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine

log = logging.getLogger("minicommerce.storage.replicas")

LSN_SQL = "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint"
REPLAY_SQL = "SELECT pg_is_in_recovery(), (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint"
T = TypeVar("T")
UNREACHABLE = 2**63
"""A WAL position no replica reaches: the read goes to the primary."""


def current_lsn(conn: sa.Connection) -> int:
    """The primary's WAL position now, as bytes since 0/0."""
    return int(conn.exec_driver_sql(LSN_SQL).scalar_one())


@dataclass(frozen=True, slots=True)
class ReplicaState:
    """What the last probe found: ``lag`` in seconds at ``probed_at`` (monotonic)."""

    up: bool
    replay_lsn: int = 0
    lag: float = float("inf")
    probed_at: float = 0.0


DOWN = ReplicaState(up=False)


class ReplicaSet:
    def __init__(
        self,
        primary: Engine,
        replicas: Sequence[Engine],
        *,
        max_lag: float,
        probe_interval: float,
        probes: Sequence[Engine] | None = None,
        probe_timeout: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``probes``: an engine per replica for the probes, with short timeouts (the
        replicas' own engines when ``None``); a probe unanswered after ``probe_timeout``
        seconds counts as a failure."""
        self.primary = primary
        self.engines = tuple(replicas)
        self._probes = dict(zip(self.engines, probes or self.engines, strict=True))
        self.max_lag = max_lag
        self.probe_interval = probe_interval
        self.probe_timeout = probe_timeout
        self._pending: dict[Engine, Future[Any]] = {}
        self._clock = clock
        self._states: dict[Engine, ReplicaState] = dict.fromkeys(self.engines, DOWN)
        # (time, primary LSN): enough history to tell any lag up to max_lag.
        self._samples: deque[tuple[float, int]] = deque()
        self._turn = itertools.count()
        self._probing = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._closed = False
        # At once, so that a new worker's first reads find the replicas already probed;
        # choose() starts another in a process forked from this one.
        self._ensure_prober()

    def state(self, engine: Engine) -> ReplicaState:
        return self._states[engine]

    def choose(self, min_lsn: int = 0) -> Engine | None:
        """A replica that answers, lags at most ``max_lag`` seconds and has replayed
        ``min_lsn``; ``None`` when there is none (read on the primary). Round robin."""
        self._ensure_prober()
        now = self._clock()
        fit = [
            engine
            for engine in self.engines
            if (s := self._states[engine]).up
            and s.replay_lsn >= min_lsn
            and s.lag + (now - s.probed_at) <= self.max_lag
        ]
        if not fit:
            return None
        return fit[next(self._turn) % len(fit)]

    def mark_down(self, engine: Engine) -> None:
        """A request could not use ``engine``: skip it until a probe finds it again."""
        if self._states.get(engine, DOWN).up:
            log.warning("replica %s failed a read; skipped until it answers", _name(engine))
        self._states[engine] = DOWN

    # --- probing -------------------------------------------------------------------------

    def probe(self) -> None:
        """Probe the primary and every replica once, in parallel, each given at most
        ``probe_timeout`` seconds (the prober does this every ``probe_interval``; tests
        call it to see a change at once)."""
        with self._probing:
            asks = {engine: self._ask(engine, self._replay_of) for engine in self.engines}
            sample = self._ask(self.primary, current_lsn)
            now = self._clock()
            try:
                self._samples.append((now, sample.result(self.probe_timeout)))
            except Exception:
                log.debug("primary position probe failed", exc_info=True)
            keep = self.max_lag + 10 * self.probe_interval + 1
            while len(self._samples) > 1 and self._samples[1][0] < now - keep:
                self._samples.popleft()
            deadline = self._clock() + self.probe_timeout
            for engine, ask in asks.items():
                try:
                    recovering, replay = ask.result(max(0.0, deadline - self._clock()))
                except Exception as exc:
                    self._failed(engine, exc)
                else:
                    self._answered(engine, recovering, replay)

    def _replay_of(self, conn: sa.Connection) -> tuple[bool, int | None]:
        recovering, replay = conn.exec_driver_sql(REPLAY_SQL).one()
        return bool(recovering), None if replay is None else int(replay)

    def _ask(self, engine: Engine, query: Callable[[sa.Connection], T]) -> Future[T]:
        """Run ``query`` on ``engine`` in a thread of its own: a server that stops
        answering (a stalled network) holds that thread, never the prober. While an
        earlier question to it is still unanswered, none is asked."""
        answer: Future[T] = Future()
        pending = self._pending.get(engine)
        if pending is not None and not pending.done():
            answer.set_exception(TimeoutError("an earlier probe is still unanswered"))
            return answer

        def run() -> None:
            try:
                probe = self._probes.get(engine, engine)
                with probe.connect() as conn:
                    answer.set_result(query(conn))
            except BaseException as exc:
                answer.set_exception(exc)

        self._pending[engine] = answer
        threading.Thread(target=run, name="minicommerce-replica-probe", daemon=True).start()
        return answer

    def _failed(self, engine: Engine, exc: BaseException) -> None:
        was = self._states[engine]
        if was.up or was.probed_at == 0.0:
            log.warning("replica %s does not answer: %s", _name(engine), _first_line(exc))
        if was.up and not isinstance(exc, TimeoutError):
            # Its idle pooled connections are dead; the next use connects afresh. (Not
            # after a timeout: the probe still holds its connection, which returns to
            # the pool once the replica answers, or fails, on its own.)
            engine.dispose()
            self._probes[engine].dispose()
        self._states[engine] = ReplicaState(up=False, probed_at=self._clock())

    def _answered(self, engine: Engine, recovering: bool, replay: int | None) -> None:
        was = self._states[engine]
        now = self._clock()
        if not recovering or replay is None:
            # Promoted (or not a replica at all): it no longer follows this primary.
            if was.up or was.probed_at == 0.0:
                log.warning("%s is not in recovery: not used as a replica", _name(engine))
            self._states[engine] = ReplicaState(up=False, probed_at=now)
            return
        if not was.up and was.probed_at != 0.0:
            log.warning("replica %s answers again", _name(engine))
        self._states[engine] = ReplicaState(True, replay, self._lag(replay, now), now)

    def _lag(self, replay: int, now: float) -> float:
        """Seconds since the primary was last at a position ``replay`` covers."""
        for at, lsn in reversed(self._samples):
            if lsn <= replay:
                return max(0.0, now - at)
        return float("inf")

    def _ensure_prober(self) -> None:
        if self._closed or (self._thread is not None and self._pid == os.getpid()):
            return
        with self._probing:
            if self._closed or (self._thread is not None and self._pid == os.getpid()):
                return
            # A forked worker has no thread (and shares nothing) with its parent's prober.
            self._pid = os.getpid()
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._run, name="minicommerce-replica-prober", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        stop = self._stop
        while not stop.is_set():
            started = self._clock()
            try:
                self.probe()
            except Exception:  # pragma: no cover - probe() catches what a server can do
                log.exception("replica probe failed")
            stop.wait(max(0.0, self.probe_interval - (self._clock() - started)))

    def close(self) -> None:
        self._closed = True
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)
        for engine in self.engines:
            engine.dispose()
            self._probes[engine].dispose()


def _name(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
