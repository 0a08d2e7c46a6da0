"""Many installs at once: threads sharing an Installer, and processes sharing a venv."""

from __future__ import annotations

import base64
import csv
import hashlib
import subprocess
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import pytest

import pyinst
from pyinst import Config, Installer, Target

from helpers import IndexServer, pip, run_in

SETS: list[Sequence[str]] = [
    ["app"], ["app[extra]"], ["simple<3"], ["lib==1.0", "helper"], ["shared<2", "conflict-a"],
    ["conflict-b"], ["native", "yanky"], ["newpy", "simple==1.0"],
]
SRC = Path(__file__).resolve().parents[2] / "src"


def _installed(python: Path) -> list[str]:
    out = run_in(python, "import importlib.metadata as m; "
                         "print(sorted(f'{d.metadata[\"Name\"]}=={d.version}' "
                         "for d in m.distributions()))")
    return eval(out)  # a list literal printed by the target interpreter


def _records_match(site: Path) -> None:
    """Every file a RECORD lists exists with the recorded hash and size."""
    for record in site.glob("*.dist-info/RECORD"):
        for row in csv.reader(record.read_text().splitlines()):
            path, digest, size = row
            if not digest:
                continue
            data = (site / path).read_bytes()
            algo, want = digest.split("=", 1)
            have = base64.urlsafe_b64encode(hashlib.new(algo, data).digest()).rstrip(b"=")
            assert have.decode() == want, f"{path} differs from {record}"
            assert len(data) == int(size)


@pytest.mark.parametrize("shared", [True, False], ids=["shared-installer", "installer-per-thread"])
def test_eight_threads_eight_venvs(index: IndexServer, venv_factory: Callable[[str], Path],
                                   shared: bool) -> None:
    venvs = [venv_factory("3.13" if i % 2 else "3.9") for i in range(8)]
    config = Config(index_urls=(index.url,), retries=0)
    common = Installer(config)
    barrier = threading.Barrier(8)

    def work(i: int) -> pyinst.InstallResult:
        target = Target.from_python(venvs[i])
        barrier.wait()
        if shared:
            return common.install(SETS[i], target)
        with Installer(config) as own:
            return own.install(SETS[i], target)

    with common, ThreadPoolExecutor(8) as pool:
        results = list(pool.map(work, range(8)))
    for i, (python, result) in enumerate(zip(venvs, results)):
        assert result.installed, SETS[i]
        names = {n for n, _ in result.installed}
        assert {f"{n}=={v}" for n, v in result.installed} == set(_installed(python)), names
        check = pip(python, "check")
        assert check.returncode == 0, check.stdout


def test_lock_timeout_gives_environment_locked(index: IndexServer,
                                               venv_factory: Callable[[str], Path]) -> None:
    python = venv_factory("3.13")
    target = Target.from_python(python)
    with target.lock(), Installer(Config(index_urls=(index.url,), lock_timeout=0.2)) as inst:
        with pytest.raises(pyinst.PyinstError) as info:
            inst.install(["simple"], target)
        assert type(info.value).__name__ == "EnvironmentLocked"
        assert "is locked by another install" in str(info.value)
    assert _installed(python) == []


_WORKER = """
import sys, threading
sys.path.insert(0, {src!r})
from pyinst import Config, Installer, Target
sets = {sets!r}
target = Target.from_python({python!r})
errors = []
def run(reqs):
    try:
        with Installer(Config(index_urls=({url!r},), retries=0)) as inst:
            inst.install(reqs, target)
    except Exception as exc:
        errors.append(repr(exc))
threads = [threading.Thread(target=run, args=(s,)) for s in sets]
for t in threads: t.start()
for t in threads: t.join()
if errors:
    sys.exit("; ".join(errors))
"""


def test_four_processes_two_threads_one_venv(index: IndexServer,
                                             venv_factory: Callable[[str], Path]) -> None:
    shared_venv = venv_factory("3.13")
    overlapping = [["app"], ["app[extra]"], ["simple<3", "lib"], ["helper", "app"],
                   ["lib==1.1", "simple<3"], ["app", "shared<2"], ["conflict-a"], ["helper"]]
    procs = []
    for p in range(4):
        code = _WORKER.format(src=str(SRC), sets=overlapping[2 * p: 2 * p + 2],
                              python=str(shared_venv), url=index.url)
        procs.append(subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE,
                                      text=True))
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    serial = venv_factory("3.13")
    with Installer(Config(index_urls=(index.url,), retries=0)) as inst:
        for reqs in overlapping:
            inst.install(reqs, Target.from_python(serial))
    assert _installed(shared_venv) == _installed(serial)
    site = Path(run_in(shared_venv, "import sysconfig; print(sysconfig.get_paths()['purelib'])"))
    _records_match(site)
    assert not list(site.glob(".pyinst-backup-*"))
    assert pip(shared_venv, "check").returncode == 0


_FETCHER = """
import sys
sys.path.insert(0, {src!r})
from pyinst import Config, Installer, Target
target = Target.from_python(sys.executable)
with Installer(Config(index_urls=({url!r},), retries=0, cache_dir={cache!r})) as inst:
    res = inst.resolve(["bigwheel"], target)
    (w,) = inst.fetch(list(res))
    print(w.path)
"""


def test_processes_fill_a_cold_cache_once(make_index: Callable[..., IndexServer],
                                          tmp_path: Path) -> None:
    import os

    from helpers import IndexFile, WheelSpec, build_wheel, sha256_file

    blob = base64.b64encode(os.urandom(300_000)).decode()
    wheel = build_wheel(WheelSpec("bigwheel", "1.0", files={"bigwheel/blob.py": f"B = {blob!r}\n"}),
                        tmp_path / "wheels")
    index = make_index({"bigwheel": [IndexFile(wheel)]})
    index.chunk_delay = 0.01
    cache = tmp_path / "cache"
    want = sha256_file(wheel)
    seen_bad: list[str] = []
    stop = threading.Event()

    looks = [0]

    def watch() -> None:
        while not stop.is_set():
            try:
                for p in (cache / "wheels").rglob("*.whl"):
                    if sha256_file(p) != want:
                        seen_bad.append(str(p))
                    looks[0] += 1
            except FileNotFoundError:  # a directory renamed or removed while we walked
                continue

    watcher = threading.Thread(target=watch, name="cache-watcher")
    watcher.start()
    try:
        procs = [subprocess.Popen([sys.executable, "-c", _FETCHER.format(
            src=str(SRC), url=index.url, cache=str(cache))], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True) for _ in range(4)]
        outs = [p.communicate(timeout=120) for p in procs]
    finally:
        stop.set()
        watcher.join()
    assert all(p.returncode == 0 for p in procs), [e for _, e in outs]
    assert len({o.strip() for o, _ in outs}) == 1  # all got the same published entry
    assert not seen_bad, "a reader saw a partial cache entry"
    assert looks[0] > 0, "the watcher never saw the published entry"
    published = list((cache / "wheels").rglob("*.whl"))
    assert len(published) == 1 and sha256_file(published[0]) == want
    assert not [p for p in cache.rglob(".tmp-*")]
    downloads = [r for r in index.requests if r.endswith(".whl")]
    assert len(downloads) == 1, downloads


def test_installs_never_touch_the_umask(index: IndexServer, venv_factory: Callable[[str], Path],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    def forbidden(mask: int) -> int:
        raise AssertionError("os.umask called: it is process-global and not thread-safe")

    monkeypatch.setattr(os, "umask", forbidden)
    python = venv_factory("3.13")
    with Installer(Config(index_urls=(index.url,), retries=0)) as inst:
        inst.install(["app"], Target.from_python(python))
    script = python.parent / "app-run"
    assert script.stat().st_mode & 0o111  # executables still get their x bits


def test_a_corrupt_cache_entry_is_evicted_and_fetched_again(
    index: IndexServer, venv_factory: Callable[[str], Path], tmp_path: Path
) -> None:
    cfg = Config(index_urls=(index.url,), retries=0, cache_dir=tmp_path / "cache")
    with Installer(cfg) as inst:
        inst.install(["simple==2.0"], Target.from_python(venv_factory("3.13")))
    (entry,) = (tmp_path / "cache").rglob("simple-2.0-*.whl")
    entry.write_bytes(b"garbage, not the wheel")
    # without its unpacked tree, the wheel itself must be read again
    import shutil
    shutil.rmtree(tmp_path / "cache" / "unpacked")
    before = len([r for r in index.requests if r.endswith(".whl")])
    python = venv_factory("3.13")
    with Installer(cfg) as inst:
        inst.install(["simple==2.0"], Target.from_python(python))
    assert run_in(python, "import simple; print(simple.VERSION)") == "2.0"
    assert len([r for r in index.requests if r.endswith(".whl")]) == before + 1
    assert entry.read_bytes().startswith(b"PK")
