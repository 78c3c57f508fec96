"""FairSlots: at most n holders at once, and a freed slot goes to the longest waiter."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from minicommerce.slots import FairSlots


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.001)


def queued(slots: FairSlots, n: int) -> None:
    wait_until(lambda: slots.waiting == n)


def test_a_freed_slot_goes_to_the_thread_that_waited_longest() -> None:
    slots = FairSlots(1)
    entered: list[int] = []
    release = threading.Event()

    def take(n: int) -> None:
        with slots:
            entered.append(n)
            if n == 0:
                release.wait(5)

    first = threading.Thread(target=take, args=(0,))
    first.start()
    wait_until(lambda: entered == [0])
    waiters = []
    for n in range(1, 6):  # queued one after the other, in a known order
        waiter = threading.Thread(target=take, args=(n,))
        waiter.start()
        queued(slots, n)
        waiters.append(waiter)
    # A newcomer that arrives while they wait does not jump the queue.
    late = threading.Thread(target=take, args=(6,))
    late.start()
    queued(slots, 6)
    release.set()
    for thread in [first, *waiters, late]:
        thread.join(5)
    assert entered == [0, 1, 2, 3, 4, 5, 6]


def test_a_holder_that_comes_straight_back_waits_its_turn() -> None:
    # What threading.Semaphore gets wrong: the releasing thread still runs, takes the slot
    # it just freed, and the woken waiter finds none.
    slots = FairSlots(1)
    entered: list[str] = []
    release = threading.Event()

    def again_and_again() -> None:
        with slots:
            entered.append("a1")
            release.wait(5)
        with slots:
            entered.append("a2")

    def once() -> None:
        with slots:
            entered.append("b")

    a = threading.Thread(target=again_and_again)
    a.start()
    wait_until(lambda: entered == ["a1"])
    b = threading.Thread(target=once)
    b.start()
    queued(slots, 1)
    release.set()
    a.join(5)
    b.join(5)
    assert entered == ["a1", "b", "a2"]


def test_no_more_than_n_hold_a_slot_at_once() -> None:
    slots = FairSlots(3)
    gauge = threading.Lock()
    inside = most = 0

    def hold() -> None:
        nonlocal inside, most
        with slots:
            with gauge:
                inside += 1
                most = max(most, inside)
            time.sleep(0.005)
            with gauge:
                inside -= 1

    threads = [threading.Thread(target=hold) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert most == 3
    assert slots.waiting == 0
    with slots, slots, slots:  # all three are free again
        pass


def test_a_slot_is_freed_when_its_holder_fails() -> None:
    slots = FairSlots(1)
    with pytest.raises(RuntimeError), slots:
        raise RuntimeError("the placement failed")
    with slots:  # would wait forever if the slot were lost
        pass


def test_at_least_one_slot() -> None:
    with pytest.raises(ValueError, match="at least one"):
        FairSlots(0)
