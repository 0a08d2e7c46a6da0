"""`BiggestFirst`: the lane wheels wait in to be unpacked takes the biggest waiting one
first, and hands back each job's result or error."""

from __future__ import annotations

import functools
import threading
import time

import pytest

from pyinst.workers import BiggestFirst


def test_the_biggest_waiting_job_runs_first() -> None:
    lane = BiggestFirst(1, "test-lane")
    busy, release = threading.Event(), threading.Event()
    order: list[object] = []

    def first() -> None:  # holds the lane's one thread while the others queue
        busy.set()
        assert release.wait(10)
        order.append("first")

    lane.submit(1, first)
    assert busy.wait(10)
    waiting = [lane.submit(size, functools.partial(order.append, size))
               for size in (5, 50, 1, 20, 50)]
    release.set()
    for future in waiting:
        future.result(timeout=10)
    lane.shutdown()
    assert order == ["first", 50, 50, 20, 5, 1]  # of two the same size, the earlier first


def test_a_job_gives_back_its_result_or_its_error() -> None:
    lane = BiggestFirst(2, "test-lane")
    good = lane.submit(3, lambda: "unpacked")
    bad = lane.submit(3, lambda: 1 // 0)
    assert good.result(timeout=10) == "unpacked"
    with pytest.raises(ZeroDivisionError):
        bad.result(timeout=10)
    lane.shutdown()
    assert not [t for t in threading.enumerate() if t.name.startswith("test-lane")]


def test_shutting_down_drops_the_waiting_jobs_and_lets_the_running_one_end() -> None:
    lane = BiggestFirst(1, "test-lane")
    busy, release = threading.Event(), threading.Event()
    ran: list[str] = []

    def running() -> str:
        busy.set()
        assert release.wait(10)
        ran.append("running")
        return "done"

    first = lane.submit(1, running)
    assert busy.wait(10)
    waiting = [lane.submit(9, functools.partial(ran.append, "waiting")) for _ in range(2)]
    ender = threading.Thread(target=lane.shutdown)
    ender.start()
    deadline = time.monotonic() + 10
    while not all(f.cancelled() for f in waiting) and time.monotonic() < deadline:
        threading.Event().wait(0.01)
    assert all(f.cancelled() for f in waiting)  # dropped at once,
    assert ender.is_alive()  # while the running one still runs
    release.set()
    ender.join(10)
    assert not ender.is_alive()
    assert first.result(timeout=0) == "done" and ran == ["running"]
