"""Installer.provision(), progress events, and no resource growth over many installs."""

from __future__ import annotations

import os
import threading
from collections import Counter
from pathlib import Path
from typing import Callable

import pyinst
from pyinst import Config, Installer, Target
from pyinst.events import (
    DownloadFinished,
    DownloadProgress,
    Event,
    InstallProgress,
    ResolveFinished,
    ResolveStarted,
    TargetFinished,
)

from helpers import IndexServer, pip, run_in


def test_provision_eight_targets_fetches_each_file_once(
    index: IndexServer, venv_factory: Callable[[str], Path]
) -> None:
    sets = [["app"], ["app[extra]"], ["app", "simple<3"], ["lib", "helper"],
            ["simple<3"], ["app"], ["nosuchproject"], ["helper", "simple<3"]]
    targets = [Target.from_python(venv_factory("3.13" if i % 2 else "3.9")) for i in range(8)]
    events: list[Event] = []
    with Installer(Config(index_urls=(index.url,), retries=0), on_event=events.append) as inst:
        results = inst.provision({t: s for t, s in zip(targets, sets)}, max_workers=8)

    failed = [t for t, r in results.items() if isinstance(r, pyinst.PyinstError)]
    assert failed == [targets[6]]  # one bad target does not spoil the others
    assert "nosuchproject" in str(results[targets[6]])
    for t, reqs in zip(targets, sets):
        r = results[t]
        if isinstance(r, pyinst.InstallResult):
            assert r.installed
            assert pip(Path(t.python), "check").returncode == 0, reqs
    fetched = Counter(r for r in index.requests if r.endswith(".whl"))
    assert fetched and all(n == 1 for n in fetched.values()), fetched
    pages = Counter(r for r in index.requests if r.startswith("/simple/"))
    assert all(n == 1 for n in pages.values()), pages  # one session shares index pages

    kinds = Counter(type(e) for e in events)
    assert kinds[ResolveStarted] == 8 and kinds[ResolveFinished] == 7
    assert kinds[TargetFinished] == 8
    assert sum(1 for e in events if isinstance(e, TargetFinished) and not e.ok) == 1
    assert kinds[DownloadFinished] == len(fetched)
    assert kinds[InstallProgress] == sum(len(r.installed) for r in results.values()
                                         if isinstance(r, pyinst.InstallResult))
    for e in events:
        if isinstance(e, DownloadProgress):
            assert e.total is not None and 0 < e.done <= e.total


def test_event_callback_calls_are_serialised(index: IndexServer,
                                             venv_factory: Callable[[str], Path]) -> None:
    inside = threading.Lock()
    overlaps: list[Event] = []

    def sink(event: Event) -> None:
        if not inside.acquire(blocking=False):
            overlaps.append(event)
            return
        try:
            threading.Event().wait(0.001)
        finally:
            inside.release()

    targets = {Target.from_python(venv_factory("3.13")): ["app[extra]", "simple<3"]
               for _ in range(4)}
    with Installer(Config(index_urls=(index.url,), retries=0), on_event=sink) as inst:
        inst.provision(targets, max_workers=4)
    assert overlaps == []


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _rss_kb() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_fifty_installs_leave_no_growth(index: IndexServer,
                                        venv_factory: Callable[[str], Path]) -> None:
    python = venv_factory("3.13")
    target = Target.from_python(python)
    cfg = Config(index_urls=(index.url,), retries=0)

    def cycle() -> None:
        with Installer(cfg) as inst:
            inst.install(["app", "simple==1.0"], target)
            inst.install(["simple==2.0"], target, upgrade=True)

    for _ in range(3):  # warm up imports, caches, allocator
        cycle()
    threads, fds, rss = threading.active_count(), _fds(), _rss_kb()
    for _ in range(25):  # 50 installs
        cycle()
    assert threading.active_count() <= threads
    assert _fds() <= fds
    assert _rss_kb() - rss < 20_000, "resident memory grew by more than 20 MB"
    assert run_in(python, "import simple; print(simple.VERSION)") == "2.0"


def test_close_waits_for_running_work_without_deadlock(index: IndexServer) -> None:
    """A pool task still running at close() may need the HTTP client (a speculative
    download); close() must not hold the lock that task needs while it waits."""
    inst = Installer(Config(index_urls=(index.url,), retries=0))
    session = inst._session()
    started = threading.Event()

    def late_download() -> None:
        started.set()
        threading.Event().wait(0.3)  # close() begins meanwhile
        inst._http_client().get(index.url + "simple/")

    session.pool.submit(late_download)
    started.wait()
    closer = threading.Thread(target=inst.close, name="closer")
    closer.start()
    closer.join(timeout=20)
    assert not closer.is_alive(), "Installer.close() deadlocked"
