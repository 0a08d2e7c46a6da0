"""Big wheels are unpacked by worker processes, and small ones too once workers run;
small ones before that (a call of small wheels starts no process), and every wheel when
no worker can run, in the Installer's threads. Real index, real venvs, real workers."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest

import pyinst.unpack
import pyinst.workers
from pyinst import Config, Installer, Target
from pyinst.workers import BIG_WHEEL, can_restart

from helpers import (
    IndexFile,
    IndexServer,
    WheelSpec,
    build_wheel,
    find_python,
    pip,
    run_cli,
    run_in,
    tree_snapshot,
)

#: text that deflate cannot shrink much (hex digests), so the wheel is really big
_DATA = "".join(hashlib.sha256(str(i).encode()).hexdigest() + "\n" for i in range(16_000))
_DATA_SHA = hashlib.sha256(_DATA.encode()).hexdigest()


@pytest.fixture
def big_index(tmp_path: Path, make_index: Callable[..., IndexServer]) -> IndexServer:
    out = tmp_path / "wheels"
    big = build_wheel(WheelSpec("bigdata", "1.0", requires=("tiny",),
                                files={"bigdata/data.txt": _DATA}), out)
    tiny = build_wheel(WheelSpec("tiny", "1.0"), out)
    assert big.stat().st_size >= BIG_WHEEL > tiny.stat().st_size
    return make_index({"bigdata": [IndexFile(big)], "tiny": [IndexFile(tiny)]})


@pytest.fixture
def unpacked_here(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Names of the wheels unpacked in this process (the others went to workers); a
    wheel may be asked for twice (early, while resolving, and when installing)."""
    seen: set[str] = set()
    real = pyinst.unpack.unpack

    def spy(pin: Any, wheel: Path, cache_root: Path) -> Any:
        seen.add(wheel.name.split("-")[0])
        return real(pin, wheel, cache_root)

    monkeypatch.setattr(pyinst.unpack, "unpack", spy)
    return seen


def _children() -> list[str]:
    """This process's child processes (Linux)."""
    out = []
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        out += (task / "children").read_text().split()
    return out


def _check_installed(python: Path) -> None:
    code = ("import hashlib, importlib.metadata as m, importlib.resources as r, bigdata, tiny;"
            "print(m.version('bigdata'), m.version('tiny'),"
            "hashlib.sha256(r.files('bigdata').joinpath('data.txt').read_bytes()).hexdigest())")
    assert run_in(python, code).split() == ["1.0", "1.0", _DATA_SHA]


def _install(inst: Installer, how: str, target: Target, lock_dir: Path) -> Any:
    """``bigdata`` into ``target``: resolved ("install"), or from a lock of it made
    first ("install_lock")."""
    if how == "install":
        return inst.install(["bigdata"], target)
    return inst.install_lock(inst.lock(["bigdata"], target, lock_dir=lock_dir), target,
                             lock_dir=lock_dir)


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="counts children in /proc")
def test_a_big_wheel_is_unpacked_by_a_worker_process(
        big_index: IndexServer, tmp_path: Path, venv_factory: Callable[[str], Path],
        unpacked_here: set[str]) -> None:
    python = venv_factory("3.12")
    config = Config(index_urls=(big_index.url,), cache_dir=tmp_path / "cache",
                    unpack_processes=2)
    with Installer(config) as inst:
        result = inst.install(["bigdata"], Target.from_python(python))
        assert _children() == []  # the call's workers ended with the call
    assert sorted(result.installed) == [("bigdata", "1.0"), ("tiny", "1.0")]
    # the big one in a worker; the small one here unless it came after a worker started
    assert "bigdata" not in unpacked_here
    _check_installed(python)
    check = pip(python, "check")  # pip (of the same Python) agrees the set is whole
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="counts children in /proc")
@pytest.mark.parametrize("how", ["install", "install_lock"])
def test_the_workers_end_before_the_wheels_are_linked(
        how: str, big_index: IndexServer, tmp_path: Path, venv_factory: Callable[[str], Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Once every wheel is unpacked the workers have nothing left to do: they are ended
    then, not when the call ends, so their memory is not held while the wheels are
    linked (and compiled). The install is whole all the same."""
    import pyinst.apply

    monkeypatch.setattr(pyinst.workers, "BIG_WHEEL", 0)  # every wheel goes to a worker
    alive_at_apply: list[list[str]] = []
    real_apply = pyinst.apply.apply_plan

    def apply_plan(*args: Any, **kwargs: Any) -> None:
        alive_at_apply.append(_children())
        real_apply(*args, **kwargs)

    monkeypatch.setattr(pyinst.apply, "apply_plan", apply_plan)
    python = venv_factory("3.12")
    config = Config(index_urls=(big_index.url,), cache_dir=tmp_path / "cache",
                    unpack_processes=2)
    with Installer(config) as inst:
        _install(inst, how, Target.from_python(python), tmp_path)
    assert alive_at_apply == [[]]
    _check_installed(python)


def test_downloads_go_on_while_wheels_wait_to_be_unpacked(
        big_index: IndexServer, tmp_path: Path, venv_factory: Callable[[str], Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A downloaded wheel is handed to the unpacking threads, and the pool's thread goes
    on to the next download: with one pool thread, the second wheel is fetched while
    the first one's unpacking is held up (a pool thread that waited for its unpacking
    would hold every other download up with it). The call's threads end with it."""
    wheels = {f"/files/{f.path.name}" for files in big_index.projects.values() for f in files}
    assert len(wheels) == 2
    fetched_first: list[bool] = []
    real = pyinst.unpack.unpack

    def unpack(pin: Any, wheel: Path, cache_root: Path) -> Any:
        if not fetched_first:  # the first wheel waits until both have been fetched
            deadline = time.monotonic() + 15
            while not wheels <= set(big_index.requests) and time.monotonic() < deadline:
                time.sleep(0.02)
            fetched_first.append(wheels <= set(big_index.requests))
        return real(pin, wheel, cache_root)

    monkeypatch.setattr(pyinst.unpack, "unpack", unpack)
    python = venv_factory("3.12")
    config = Config(index_urls=(big_index.url,), cache_dir=tmp_path / "cache",
                    max_workers=1, unpack_processes=0)
    with Installer(config) as inst:
        inst.install(["bigdata"], Target.from_python(python))
        assert not [t.name for t in threading.enumerate()
                    if t.name.startswith("pyinst-unpack")]
    assert fetched_first == [True]
    _check_installed(python)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one core unpacks one anyway")
@pytest.mark.parametrize("processes", [2, 0])
def test_beside_workers_this_process_unpacks_one_wheel_at_a_time(
        processes: int, tmp_path: Path, make_index: Callable[..., IndexServer],
        venv_factory: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """With worker processes for the big wheels, this process (which downloads too)
    unpacks the small ones one at a time: a second thread only contended for the GIL.
    Without workers, its threads unpack one wheel per core at once."""
    out = tmp_path / "wheels"
    names = [f"small{i}" for i in range(4)]
    projects = {n: [IndexFile(build_wheel(WheelSpec(n, "1.0"), out))] for n in names}
    projects["app"] = [IndexFile(build_wheel(WheelSpec("app", "1.0", requires=tuple(names)),
                                             out))]
    index = make_index(projects)
    lock = threading.Lock()
    now, most = [0], [0]
    real = pyinst.unpack.unpack

    def unpack(pin: Any, wheel: Path, cache_root: Path) -> Any:
        with lock:
            now[0] += 1
            most[0] = max(most[0], now[0])
        try:
            time.sleep(0.3)  # long enough for the others to arrive
            return real(pin, wheel, cache_root)
        finally:
            with lock:
                now[0] -= 1

    monkeypatch.setattr(pyinst.unpack, "unpack", unpack)
    python = venv_factory("3.12")
    config = Config(index_urls=(index.url,), cache_dir=tmp_path / "cache",
                    unpack_processes=processes)
    with Installer(config) as inst:
        result = inst.install(["app"], Target.from_python(python))
    assert len(result.installed) == 5
    assert most[0] == (1 if processes else min(len(names), len(os.sched_getaffinity(0))))
    assert run_in(python, "import small0, small3; print('ok')") == "ok"


@pytest.mark.parametrize("how", ["install", "install_lock"])
def test_once_workers_run_the_small_wheels_go_to_them_too(
        how: str, tmp_path: Path, make_index: Callable[..., IndexServer],
        venv_factory: Callable[[str], Path], unpacked_here: set[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The processes are paid for once a big wheel started them: the small wheels that
    come after are unpacked there too, not in this process, where they would contend
    with the downloads (and the resolver) for the GIL (measured: a cold install from
    the benchmark's lock 1.75 -> 1.70 s, medians of 6). Each small wheel here waits,
    before its download, until a worker is running."""
    import pyinst.fetch

    out = tmp_path / "wheels"
    small = [f"small{i}" for i in range(3)]
    projects = {n: [IndexFile(build_wheel(WheelSpec(n, "1.0"), out))] for n in small}
    big = build_wheel(WheelSpec("bigdata", "1.0", requires=tuple(small),
                                files={"bigdata/data.txt": _DATA}), out)
    projects["bigdata"] = [IndexFile(big)]
    index = make_index(projects)
    running = threading.Event()
    real_take = pyinst.workers.UnpackWorkers._take

    def take(self: Any) -> Any:
        worker = real_take(self)
        running.set()
        return worker

    real_wheel = pyinst.fetch.Fetcher.wheel

    def wheel(self: Any, link: Any, **kwargs: Any) -> Path:
        if not link.filename.startswith("bigdata"):
            assert running.wait(30), "no worker started"
        return real_wheel(self, link, **kwargs)

    monkeypatch.setattr(pyinst.workers.UnpackWorkers, "_take", take)
    monkeypatch.setattr(pyinst.fetch.Fetcher, "wheel", wheel)
    python = venv_factory("3.12")
    config = Config(index_urls=(index.url,), cache_dir=tmp_path / "cache",
                    unpack_processes=2)
    with Installer(config) as inst:
        result = _install(inst, how, Target.from_python(python), tmp_path)
    assert len(result.installed) == 4
    assert unpacked_here == set()  # all four in the workers
    assert run_in(python, "import small0, small2, bigdata; print('ok')") == "ok"


def test_a_lone_big_wheel_is_unpacked_here_without_starting_a_worker(
        tmp_path: Path, make_index: Callable[..., IndexServer],
        venv_factory: Callable[[str], Path], unpacked_here: set[str]) -> None:
    # by default a worker is worth starting only while another wheel is being
    # unpacked: one wheel alone unpacks here sooner than a worker would start
    wheel = build_wheel(WheelSpec("bigalone", "1.0", files={"bigalone/data.txt": _DATA}),
                        tmp_path / "w")
    index = make_index({"bigalone": [IndexFile(wheel)]})
    python = venv_factory("3.12")
    spawned: list[object] = []
    real = pyinst.workers._Worker.__init__

    def counting(self: Any, *args: Any) -> None:
        spawned.append(args)
        real(self, *args)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pyinst.workers._Worker, "__init__", counting)
        with Installer(Config(index_urls=(index.url,), cache_dir=tmp_path / "c")) as inst:
            inst.install(["bigalone"], Target.from_python(python))
    assert unpacked_here == {"bigalone"} and spawned == []
    assert run_in(python, "import importlib.metadata as m; print(m.version('bigalone'))") \
        == "1.0"


def _script(path: Path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.mark.parametrize("worker", ["missing", "exits", "babbles", "hangs", "other-python"])
def test_when_no_worker_can_run_the_threads_unpack(
        worker: str, big_index: IndexServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        venv_factory: Callable[[str], Path], unpacked_here: set[str]) -> None:
    pythons = {
        "missing": str(tmp_path / "no-such-python"),
        "exits": _script(tmp_path / "python-exits", "exit 3\n"),
        "babbles": _script(tmp_path / "python-babbles", "echo 'not a worker at all'\n"),
        # starts, and never says hello (nor reads its input; its child holds the pipe)
        "hangs": _script(tmp_path / "python-hangs", "sleep 20\n"),
        # Python 3.8: starts, but cannot be the worker of this interpreter
        "other-python": str(find_python("3.8")),
    }
    monkeypatch.setattr(pyinst.workers, "HELLO_TIMEOUT", 1.0)
    python = venv_factory("3.12")
    config = Config(index_urls=(big_index.url,), cache_dir=tmp_path / "cache",
                    unpack_processes=2, worker_python=pythons[worker])
    with Installer(config) as inst:
        inst.install(["bigdata"], Target.from_python(python))
    assert unpacked_here == {"bigdata", "tiny"}
    _check_installed(python)
    assert _children() == []  # the hanging one too: stopped, and waited for


def test_many_targets_at_once_share_the_workers(
        big_index: IndexServer, tmp_path: Path, venv_factory: Callable[[str], Path],
        unpacked_here: set[str]) -> None:
    pythons = [venv_factory(minor) for minor in ("3.9", "3.12", "3.13")]
    config = Config(index_urls=(big_index.url,), cache_dir=tmp_path / "cache",
                    unpack_processes=2)
    with Installer(config) as inst:
        results = inst.provision({Target.from_python(p): ["bigdata"] for p in pythons},
                                 max_workers=3)
    assert all(not isinstance(r, Exception) for r in results.values()), results
    assert "bigdata" not in unpacked_here
    for python in pythons:
        _check_installed(python)


def test_which_interpreters_may_be_restarted() -> None:
    assert can_restart(sys.executable, frozen=False, gil=True) == os.path.basename(
        sys.executable).startswith("python")
    for name in ("/usr/bin/python3", "/usr/bin/python3.13t", "python.exe", "pythonw.exe",
                 "/opt/pypy/bin/pypy3.10"):
        assert can_restart(name, frozen=False, gil=True), name
    assert not can_restart("/usr/bin/uwsgi", frozen=False, gil=True)  # embeds Python
    assert not can_restart("/opt/app/blender", frozen=False, gil=True)
    assert not can_restart("", frozen=False, gil=True)
    assert not can_restart("/usr/bin/python3", frozen=True, gil=True)  # a frozen app
    assert not can_restart("/usr/bin/python3.13t", frozen=False, gil=False)  # no GIL


def test_a_worker_error_is_the_error_the_thread_would_raise(
        tmp_path: Path, venv_factory: Callable[[str], Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # a big wheel whose RECORD does not match its data: refused by the worker, with
    # the same error type and fields as when a thread unpacks it
    monkeypatch.setattr(pyinst.workers, "BIG_WHEEL", 0)
    wheel = build_wheel(WheelSpec("bigdata", "1.0", files={"bigdata/data.txt": _DATA},
                                  break_record=True), tmp_path / "w")
    python = venv_factory("3.12")
    errors = []
    for processes in (0, 2):
        config = Config(index_urls=(), cache_dir=tmp_path / f"cache{processes}",
                        unpack_processes=processes)
        with Installer(config) as inst, pytest.raises(pyinst.InvalidWheel) as info:
            inst.install([str(wheel)], Target.from_python(python))
        errors.append((type(info.value), str(info.value), info.value.package,
                       info.value.path))
    assert errors[0] == errors[1]
    assert "bigdata" in errors[0][1] and "does not match its RECORD" in errors[0][1]
    assert run_in(python, "import importlib.util as u; print(u.find_spec('bigdata'))") == \
        "None"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_a_worker_ends_when_its_parent_dies_without_closing(
        tmp_path: Path, big_index: IndexServer) -> None:
    # a host killed in the middle (kill -9, os._exit) closes nothing: its workers see
    # the end of their input and exit, instead of living on
    wheel = next(p for p in big_index.projects["bigdata"]).path
    script = f"""
import os, sys
from pathlib import Path
from packaging.version import Version
from pyinst.models import Pin
from pyinst.workers import UnpackWorkers
workers = UnpackWorkers(sys.executable, 1)
done = workers.unpack(Pin("bigdata", Version("1.0"), None), Path({str(wheel)!r}),
                      Path({str(tmp_path / "cache")!r}))
assert done is not None and done.dist_info == "bigdata-1.0.dist-info"
print(workers._all[0].proc.pid, flush=True)
os._exit(0)
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    pid = int(proc.stdout)
    deadline = time.monotonic() + 20
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


def test_a_worker_leaves_at_once_at_the_end_of_its_input() -> None:
    """With its input over, a worker has nothing left to write (each answer was flushed
    as it was sent): it ends without the interpreter's teardown, which the parent would
    wait through before linking the wheels."""
    watch = ("import atexit, sys;"
             "atexit.register(lambda: sys.stderr.write('interpreter torn down'));"
             "from pyinst._worker import main; main()")
    proc = subprocess.run([sys.executable, "-c", watch], input=b"", capture_output=True,
                          check=False, timeout=60)
    assert (proc.returncode, proc.stderr) == (0, b"")
    assert proc.stdout  # its hello, all the same


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited (its parent is gone; init reaps it)


def test_the_command_line_sets_the_workers(
        big_index: IndexServer, tmp_path: Path, venv_factory: Callable[[str], Path]) -> None:
    python = venv_factory("3.12")
    base = ["install", "-p", str(python), "-i", big_index.url,
            "--cache-dir", str(tmp_path / "cache")]
    # a setting that is not a number: one message, exit 2, the venv as it was
    before = tree_snapshot(python.parent.parent)
    bad = run_cli(*base, "bigdata", env={"PYINST_UNPACK_PROCESSES": "many"})
    assert bad.returncode == 2 and "Traceback" not in bad.stderr, bad.stderr
    assert "PYINST_UNPACK_PROCESSES" in bad.stderr
    assert tree_snapshot(python.parent.parent) == before
    ok = run_cli(*base, "--unpack-processes", "2", "bigdata")
    assert ok.returncode == 0, ok.stderr
    _check_installed(python)
