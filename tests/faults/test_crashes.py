"""``kill -9`` in the middle of an upgrade: the next run undoes the half-done install
(its journal says what), and the environment is whole again."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from helpers import IndexFile, IndexServer, WheelSpec, build_wheel, pip, run_cli, run_in

N_FILES = 2500


def _install_cmd(python: Path, index: IndexServer, cache: Path, req: str) -> list[str]:
    return [sys.executable, "-m", "pyinst", "install", "-q", "-p", str(python), "-i",
            index.url, "--cache-dir", str(cache), req]


def _whole(python: Path, site: Path, version: str) -> None:
    infos = sorted(p.name for p in site.glob("big-*.dist-info"))
    assert infos == [f"big-{version}.dist-info"], infos
    assert (site / infos[0] / "RECORD").is_file()
    assert run_in(python, "import big, importlib.metadata as m; "
                          "print(big.VERSION, m.version('big'))") == f"{version} {version}"
    prefix = "m" if version == "1.0" else "n"
    assert len(list((site / "big").glob(f"{prefix}*.py"))) == N_FILES
    assert not list((site / "big").glob(f"{'n' if prefix == 'm' else 'm'}*.py"))
    assert not list(site.glob(".pyinst-*"))


def test_kill_9_during_an_upgrade_then_the_next_run_repairs(
        tmp_path: Path, make_index: Callable[..., IndexServer],
        venv_factory: Callable[[str], Path]) -> None:
    old = build_wheel(WheelSpec("big", "1.0", files={f"big/m{i}.py": f"X = {i}\n"
                                                     for i in range(N_FILES)}), tmp_path / "w")
    new = build_wheel(WheelSpec("big", "2.0", files={f"big/n{i}.py": f"Y = {i}\n"
                                                     for i in range(N_FILES)}), tmp_path / "w")
    index = make_index({"big": [IndexFile(old), IndexFile(new)]})
    python = venv_factory("3.12")
    site = Path(run_in(python, "import sysconfig; print(sysconfig.get_paths()['purelib'])"))
    cache = tmp_path / "cache"

    # warm the cache with both versions, and time a whole upgrade
    for req in ("big==2.0", "big==1.0"):
        assert subprocess.run(_install_cmd(python, index, cache, req)).returncode == 0
    t0 = time.perf_counter()
    assert subprocess.run(_install_cmd(python, index, cache, "big==2.0")).returncode == 0
    whole = time.perf_counter() - t0
    assert subprocess.run(_install_cmd(python, index, cache, "big==1.0")).returncode == 0

    interrupted = 0
    # kill points: spread over an upgrade's lifetime, and (to be sure some land while
    # files are being written) just after its journal appears
    points = [("at", whole * k / 10) for k in range(2, 10, 2)]
    points += [("after journal", extra) for extra in (0.0, 0.002, 0.01, 0.03)]
    for kind, delay in points:
        proc = subprocess.Popen(_install_cmd(python, index, cache, "big==2.0"))
        if kind == "at":
            time.sleep(delay)
        else:
            deadline = time.monotonic() + 30
            while proc.poll() is None and time.monotonic() < deadline \
                    and not list(site.glob(".pyinst-journal-*")):
                time.sleep(0.0005)
            time.sleep(delay)
        proc.kill()
        proc.wait()
        if list(site.glob(".pyinst-journal-*")):
            interrupted += 1  # killed while writing: a journal was left behind
        # whatever state it left, the next run starts by undoing a half-done install
        repair = run_cli("install", "-p", str(python), "-i", index.url, "--cache-dir",
                         str(cache), "big==1.0")
        assert repair.returncode == 0, repair.stderr
        _whole(python, site, "1.0")
    assert interrupted >= 1, "no kill landed while files were being written"
    assert pip(python, "check").returncode == 0
