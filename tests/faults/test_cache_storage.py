"""The cache's filesystem says no: a full disk, a file-size limit, a file where the
cache needs a directory. Each is one line naming what was being stored and why, exit
1, and the target as it was; never a traceback, and never blamed on the wheel.

A full disk is stood in for by a file-size limit (``RLIMIT_FSIZE``, with ``SIGXFSZ``
ignored, as a shell's ``ulimit -f`` does): a write past it fails with EFBIG, as a
write to a full disk fails with ENOSPC, and the same code answers both."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

from pyinst import CacheError, Config, Installer, Target

from helpers import IndexFile, IndexServer, WheelSpec, build_wheel, run_cli, run_in, tree_snapshot

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX resource limits")

#: the largest file the limited CLI may write: far more than any index page, sidecar,
#: RECORD or manifest of these tests, far less than their big members
LIMIT = 256 * 1024

#: ``python -c`` this, then the CLI's arguments: pyinst under the file-size limit (its
#: worker processes inherit it)
_LIMITED = (
    "import resource, signal, sys\n"
    "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
    f"resource.setrlimit(resource.RLIMIT_FSIZE, ({LIMIT}, {LIMIT}))\n"
    "from pyinst.cli import run\n"
    "run()\n"
)


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[IndexFile]]:
    out = tmp_path_factory.mktemp("storage-wheels")
    noise = random.Random(7).randbytes(2 * LIMIT)  # does not compress: a big download
    specs = [
        # the download itself is over the limit
        WheelSpec("bigdownload", "1.0", files={"bigdownload/blob.txt": noise.hex()}),
        # a small download with a member that inflates past the limit
        WheelSpec("bigmember", "1.0", files={"bigmember/zeros.txt": "0" * (4 * LIMIT)}),
        WheelSpec("small", "1.0"),
    ]
    return {s.name: [IndexFile(build_wheel(s, out))] for s in specs}


@pytest.fixture
def storage_index(make_index: Callable[..., IndexServer],
                  wheels: dict[str, list[IndexFile]]) -> IndexServer:
    return make_index(wheels)


def _install_limited(index: IndexServer, venv: Path, cache: Path, *reqs: str
                     ) -> subprocess.CompletedProcess[str]:
    return run_cli("install", "-p", str(venv), "-i", index.url, "--retries", "0",
                   "--cache-dir", str(cache), *reqs, launcher=("-c", _LIMITED))


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def _leftovers(cache: Path) -> list[str]:
    """Half-written files or directories the failed call left in the cache."""
    return sorted(str(p.relative_to(cache)) for p in cache.rglob(".tmp-*"))


@pytest.mark.parametrize(("project", "doing", "options"), [
    ("bigdownload", "saving the download of 'bigdownload'", ()),
    ("bigmember", "unpacking 'bigmember' 1.0", ()),
    # unpacked by a worker process: its error crosses over intact
    ("bigmember", "unpacking 'bigmember' 1.0", ("--unpack-processes", "2")),
])
def test_a_cache_write_past_what_the_disk_allows_is_one_line(
        project: str, doing: str, options: tuple[str, ...], storage_index: IndexServer,
        tmp_path: Path, venv_factory: Callable[[str], Path]) -> None:
    venv = venv_factory("3.12")
    cache = tmp_path / "cache"
    before = tree_snapshot(venv)
    proc = _install_limited(storage_index, venv, cache, *options, "small", project)
    assert proc.returncode == 1, proc.stderr
    line = _one_line(proc.stderr)
    assert line.startswith(f"error: cannot use the cache at {cache} while {doing}: "), line
    assert "File too large" in line and "nothing was installed" in line, line
    assert "invalid wheel" not in line
    assert tree_snapshot(venv) == before
    assert _leftovers(cache) == []
    # the same cache, and the same files, without the limit: all is well
    proc = run_cli("install", "-p", str(venv), "-i", storage_index.url,
                   "--cache-dir", str(cache), "small", project)
    assert proc.returncode == 0, proc.stderr
    run_in(venv, f"import small, {project}")


@pytest.fixture
def in_the_way(tmp_path: Path) -> Path:
    """A file where the cache directory should be."""
    path = tmp_path / "not-a-directory"
    path.write_text("a file\n")
    return path


def test_a_file_where_the_cache_directory_goes_is_one_line(
        index: IndexServer, in_the_way: Path, venv_factory: Callable[[str], Path]) -> None:
    venv = venv_factory("3.12")
    before = tree_snapshot(venv)
    proc = run_cli("install", "-p", str(venv), "-i", index.url, "--retries", "0",
                   "--cache-dir", str(in_the_way), "app")
    assert proc.returncode == 1
    line = _one_line(proc.stderr)
    assert line.startswith(f"error: cannot use the cache at {in_the_way} while saving the "
                           "index page "), line
    assert "a file stands where the cache needs a directory" in line, line
    assert tree_snapshot(venv) == before


def test_the_library_raises_cache_error_and_changes_nothing(
        index: IndexServer, in_the_way: Path, venv_factory: Callable[[str], Path]) -> None:
    venv = venv_factory("3.12")
    before = tree_snapshot(venv)
    with Installer(Config(index_urls=(index.url,), cache_dir=in_the_way, retries=0)) as inst, \
            pytest.raises(CacheError, match=os.strerror(20)):  # ENOTDIR
        inst.install(["app"], Target.from_python(venv))
    assert tree_snapshot(venv) == before


def test_download_into_a_directory_that_cannot_hold_the_file_is_one_line(
        storage_index: IndexServer, tmp_path: Path, venv_factory: Callable[[str], Path]
        ) -> None:
    venv = venv_factory("3.12")
    cache = tmp_path / "cache"
    args = ("-p", str(venv), "-i", storage_index.url, "--cache-dir", str(cache),
            "bigdownload")
    first = run_cli("download", "-d", str(tmp_path / "fits"), *args)
    assert first.returncode == 0, first.stderr  # now in the cache: only the copy is big
    out = tmp_path / "out"
    proc = run_cli("download", "-d", str(out), *args, launcher=("-c", _LIMITED))
    assert proc.returncode == 1
    line = _one_line(proc.stderr)
    assert line == f"error: cannot save 'bigdownload' 1.0 into {out}: File too large", line
    assert sorted(p.name for p in out.iterdir()) == []  # no half-copied file
