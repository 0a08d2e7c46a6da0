"""PEP 751 locks (with uv and pip), hash-checking mode, dependency groups, scripts."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

from helpers import (
    IndexFile,
    IndexServer,
    WheelSpec,
    build_wheel,
    run_cli,
    run_in,
    tree_snapshot,
)

LOCKED = {"app": "1.0", "lib": "1.1", "helper": "1.0"}


def _uv() -> str:
    beside = Path(sys.executable).parent / "uv"
    found = str(beside) if beside.exists() else shutil.which("uv")
    assert found, "uv is a test dependency"
    return found


def _installed(python: Path) -> dict[str, str]:
    out = run_in(python, "import importlib.metadata as m; print('\\n'.join(sorted("
                         "f\"{d.metadata['Name'].lower()}=={d.version}\" "
                         "for d in m.distributions())))")
    return dict(line.split("==") for line in out.splitlines() if line)


def _pages(index: IndexServer) -> int:
    return sum(1 for p in index.requests if p.startswith("/simple/"))


def _lock(index: IndexServer, python: Path, where: Path, *reqs: str) -> Path:
    out = where / "pylock.toml"
    proc = run_cli("lock", "-p", str(python), "-i", index.url, "--no-cache", "-o", str(out),
                   *reqs)
    assert proc.returncode == 0, proc.stderr
    return out


def test_locks_interoperate_with_uv_and_pip(index: IndexServer, tmp_path: Path,
                                           venv_factory: Callable[[str], Path]) -> None:
    base = venv_factory("3.12")
    lock = _lock(index, base, tmp_path, "app[extra]")
    assert 'created-by = "pyinst' in lock.read_text()

    with_uv = venv_factory("3.12")
    proc = subprocess.run([_uv(), "pip", "install", "-q", "--python", str(with_uv), "-r",
                           str(lock), "--no-config", "--cache-dir", str(tmp_path / "uvc")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    with_pip = venv_factory("3.12")
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(with_pip), "install",
                           "-q", "--disable-pip-version-check", "-r", str(lock)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    with_pyinst = venv_factory("3.12")
    proc = run_cli("install", "-p", str(with_pyinst), "-r", str(lock), "--no-cache")
    assert proc.returncode == 0, proc.stderr
    for python in (with_uv, with_pip, with_pyinst):
        assert _installed(python) == LOCKED

    # and the other way: uv's lock, installed by pyinst
    req_in = tmp_path / "req.in"
    req_in.write_text("app[extra]\n")
    uv_lock = tmp_path / "uv" / "pylock.toml"
    uv_lock.parent.mkdir()
    proc = subprocess.run([_uv(), "pip", "compile", "-q", str(req_in), "-o", str(uv_lock),
                           "--python", str(base), "--index-url", index.url, "--no-config",
                           "--cache-dir", str(tmp_path / "uvc")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert 'created-by = "uv"' in uv_lock.read_text()
    from_uv = venv_factory("3.12")
    proc = run_cli("install", "-p", str(from_uv), "-r", str(uv_lock), "--no-cache")
    assert proc.returncode == 0, proc.stderr
    assert _installed(from_uv) == LOCKED


def test_a_lock_installs_without_reading_any_index_page(
        index: IndexServer, tmp_path: Path, venv_factory: Callable[[str], Path]) -> None:
    lock = _lock(index, venv_factory("3.12"), tmp_path, "app[extra]")
    pages = _pages(index)
    python = venv_factory("3.12")
    proc = run_cli("install", "-p", str(python), "-r", str(lock), "-i", index.url,
                   "--cache-dir", str(tmp_path / "cache"))
    assert proc.returncode == 0, proc.stderr
    assert _pages(index) == pages
    assert _installed(python) == LOCKED
    assert run_in(python, "import app, lib, helper; print('ok')") == "ok"


def test_a_tampered_file_is_refused_with_both_hashes(
        make_index: Callable[..., IndexServer], tmp_path: Path,
        venv_factory: Callable[[str], Path]) -> None:
    wheels = tmp_path / "served"
    good = build_wheel(WheelSpec("tamper", "1.0"), wheels)
    other = build_wheel(WheelSpec("fine", "1.0"), wheels)
    index = make_index({"tamper": [IndexFile(good)], "fine": [IndexFile(other)]})
    lock = _lock(index, venv_factory("3.12"), tmp_path, "tamper", "fine")
    expected = hashlib.sha256(good.read_bytes()).hexdigest()
    data = bytearray(good.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte changed on the server
    good.write_bytes(bytes(data))
    actual = hashlib.sha256(bytes(data)).hexdigest()

    python = venv_factory("3.12")
    before = tree_snapshot(python.parent.parent)
    proc = run_cli("install", "-p", str(python), "-r", str(lock), "--no-cache")
    assert proc.returncode == 1
    assert "tamper" in proc.stderr and expected in proc.stderr and actual in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert tree_snapshot(python.parent.parent) == before


def test_sync_brings_a_venv_to_exactly_the_lock(index: IndexServer, tmp_path: Path,
                                                venv_factory: Callable[[str], Path]) -> None:
    lock = _lock(index, venv_factory("3.12"), tmp_path, "app[extra]")
    python = venv_factory("3.12")
    proc = run_cli("install", "-p", str(python), "-i", index.url, "--no-cache",
                   "simple==1.0", "yanky", "lib==1.0", "shared")
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("install", "-p", str(python), "-r", str(lock), "--no-cache", "--sync",
                   "--keep", "shared")
    assert proc.returncode == 0, proc.stderr
    assert _installed(python) == {**LOCKED, "shared": "2.0"}
    proc = run_cli("install", "-p", str(python), "-r", str(lock), "--no-cache", "--sync")
    assert proc.returncode == 0, proc.stderr
    assert _installed(python) == LOCKED
    assert not (Path(run_in(python, "import sysconfig; print(sysconfig.get_paths()"
                                    "['purelib'])")) / "simple").exists()


def _sha(index_file: IndexFile) -> str:
    return hashlib.sha256(index_file.path.read_bytes()).hexdigest()


def test_hash_checking_mode(index: IndexServer, repo: dict[str, list[IndexFile]],
                            tmp_path: Path, venv_factory: Callable[[str], Path]) -> None:
    python = venv_factory("3.12")
    lib11 = next(f for f in repo["lib"] if "1.1" in f.path.name)
    reqs = tmp_path / "r.txt"

    def attempt(text: str, *extra: str) -> subprocess.CompletedProcess[str]:
        reqs.write_text(text)
        return run_cli("install", "-p", str(python), "-i", index.url, "--no-cache",
                       "-r", str(reqs), *extra)

    before = tree_snapshot(python.parent.parent)
    for text, says in [
        (f"lib>=1 --hash=sha256:{_sha(lib11)}\n", "must be pinned with =="),
        (f"lib==1.1 --hash=md5:{'0' * 32}\n", "weak or unknown algorithm"),
        (f"lib==1.1 --hash=sha256:{'0' * 64}\n", "hash mismatch for 'lib'"),
        (f"lib==1.1 --hash=sha256:{_sha(lib11)}\nhelper==1.0\n", "'helper==1.0' has no --hash"),
    ]:
        proc = attempt(text)
        assert proc.returncode != 0 and says in proc.stderr, (text, proc.stderr)
        assert "Traceback" not in proc.stderr
    proc = attempt("lib==1.1\n", "--require-hashes")
    assert proc.returncode == 1 and "'lib==1.1' has no --hash" in proc.stderr
    assert tree_snapshot(python.parent.parent) == before

    # a dependency that is not listed with a hash is refused too
    app = repo["app"][0]
    proc = attempt(f"app==1.0 --hash=sha256:{_sha(app)}\n")
    assert proc.returncode == 1
    assert "these dependencies have no --hash: lib==1.1" in proc.stderr
    proc = attempt(f"app==1.0 --hash=sha256:{_sha(app)}\n"
                   f"lib==1.1 --hash=sha256:{_sha(lib11)}\n")
    assert proc.returncode == 0, proc.stderr
    assert _installed(python) == {"app": "1.0", "lib": "1.1"}


def test_dependency_groups(index: IndexServer, tmp_path: Path,
                           venv_factory: Callable[[str], Path]) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[dependency-groups]\ntest = ["lib==1.0", {include-group = "tools"}]\n'
        'tools = ["helper"]\n')
    python = venv_factory("3.12")
    proc = run_cli("install", "-p", str(python), "-i", index.url, "--no-cache",
                   "--group", "test", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert _installed(python) == {"lib": "1.0", "helper": "1.0"}
    other = venv_factory("3.12")
    proc = run_cli("install", "-p", str(other), "-i", index.url, "--no-cache",
                   "--group", f"{tmp_path / 'pyproject.toml'}:tools")
    assert proc.returncode == 0, proc.stderr
    assert _installed(other) == {"helper": "1.0"}
    bad = run_cli("install", "-p", str(other), "-i", index.url, "--no-cache",
                  "--group", "nope", cwd=tmp_path)
    assert bad.returncode == 2 and "dependency group 'nope'" in bad.stderr


SCRIPT = '''\
# /// script
# requires-python = ">=3.9"
# dependencies = ["lib==1.0", "helper"]
# ///
import sys
import lib, helper
print("ran with", lib.VERSION, *sys.argv[1:])
'''


def test_inline_script_metadata_install_and_run(index: IndexServer, tmp_path: Path,
                                                venv_factory: Callable[[str], Path]) -> None:
    script = tmp_path / "tool.py"
    script.write_text(SCRIPT)
    python = venv_factory("3.12")
    proc = run_cli("install", "-p", str(python), "-i", index.url, "--no-cache",
                   "-r", str(script))
    assert proc.returncode == 0, proc.stderr
    assert _installed(python) == {"lib": "1.0", "helper": "1.0"}

    cache = tmp_path / "cache"
    args = ["run", "-i", index.url, "--cache-dir", str(cache), "-p",
            str(Path(run_in(python, "import sys; print(sys._base_executable)")))]
    first = run_cli(*args, str(script), "a", "b")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().splitlines()[-1] == "ran with 1.0 a b"
    envs = list((cache / "envs").iterdir())
    pages = _pages(index)
    again = run_cli(*args, str(script), "c")
    assert again.stdout.strip().splitlines()[-1] == "ran with 1.0 c"
    assert list((cache / "envs").iterdir()) == envs and _pages(index) == pages
    assert len([e for e in envs if not e.name.startswith(".")]) == 1
    # --no-cache: a throw-away environment, gone when the script ends; the exit status
    # is the script's
    failing = tmp_path / "fails.py"
    failing.write_text(SCRIPT + "raise SystemExit(3)\n")
    temp_root = tmp_path / "tmp"
    temp_root.mkdir()
    proc = run_cli("run", "--no-cache", *args[1:3], *args[5:], str(failing),
                   env={"TMPDIR": str(temp_root)})
    assert proc.returncode == 3, proc.stderr
    assert list(temp_root.iterdir()) == []


def test_a_bad_lock_is_one_clear_error_and_changes_nothing(
        index: IndexServer, tmp_path: Path, venv_factory: Callable[[str], Path]) -> None:
    lock = _lock(index, venv_factory("3.12"), tmp_path, "app")
    other = venv_factory("3.9")  # the lock says Python 3.12
    before = tree_snapshot(other.parent.parent)
    wrong_python = run_cli("install", "-p", str(other), "-r", str(lock), "--no-cache")
    broken = tmp_path / "b" / "pylock.toml"
    broken.parent.mkdir()
    broken.write_text("lock-version = \n")
    not_toml = run_cli("install", "-p", str(other), "-r", str(broken), "--no-cache")
    broken.write_text('lock-version = "9.0"\ncreated-by = "x"\n[[packages]]\nname = "a"\n')
    too_new = run_cli("install", "-p", str(other), "-r", str(broken), "--no-cache")
    for proc, says in [(wrong_python, "the lock has nothing installable for Python 3.9"),
                       (not_toml, "is not valid TOML"),
                       (too_new, "is not a valid PEP 751 lock")]:
        assert proc.returncode == 1, proc.stdout
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and says in lines[0] and "Traceback" not in proc.stderr
    assert tree_snapshot(other.parent.parent) == before


def test_lock_extras_choose_the_packages_their_markers_name(
        index: IndexServer, tmp_path: Path, venv_factory: Callable[[str], Path]) -> None:
    """A lock with ``extras`` (as a project's lock has): ``--extra`` selects the packages
    whose marker names it; without it they are left out; an unknown one is an error."""
    import tomli_w
    import tomllib

    lock = _lock(index, venv_factory("3.12"), tmp_path, "app[extra]")
    data = tomllib.loads(lock.read_text())
    data["extras"] = ["fancy"]
    for package in data["packages"]:
        if package["name"] == "helper":
            package["marker"] = "'fancy' in extras"
    lock.write_text(tomli_w.dumps(data))
    plain = venv_factory("3.12")
    proc = run_cli("install", "-p", str(plain), "-r", str(lock), "--no-cache")
    assert proc.returncode == 0, proc.stderr
    assert _installed(plain) == {"app": "1.0", "lib": "1.1"}
    fancy = venv_factory("3.12")
    proc = run_cli("install", "-p", str(fancy), "-r", str(lock), "--extra", "fancy",
                   "--no-cache")
    assert proc.returncode == 0, proc.stderr
    assert _installed(fancy) == LOCKED
    proc = run_cli("install", "-p", str(plain), "-r", str(lock), "--extra", "nope",
                   "--no-cache")
    assert proc.returncode != 0 and "nope" in proc.stderr and "Traceback" not in proc.stderr
    assert _installed(plain) == {"app": "1.0", "lib": "1.1"}


def test_lock_and_download_destinations_are_checked_before_resolving(
        index: IndexServer, tmp_path: Path, venv_factory: Callable[[str], Path]) -> None:
    """An unwritable -o or -d was a traceback (for -o, after resolving); now one usage
    line before any index request."""
    python = venv_factory("3.12")
    blocker = tmp_path / "afile"
    blocker.write_text("x\n")
    for args, expected in (
            (["lock", "-o", str(tmp_path / "missing" / "pylock.toml")],
             f"cannot write the lock to {tmp_path / 'missing' / 'pylock.toml'}: No such file "
             "or directory"),
            (["lock", "-o", str(tmp_path)], f"cannot write the lock to {tmp_path}: Is a "
                                            "directory"),
            (["download", "-d", str(blocker)], f"cannot save files into {blocker}: it is a "
                                               "file, not a directory")):
        index.requests.clear()
        proc = run_cli(*args, "-p", str(python), "-i", index.url, "--no-cache", "app")
        assert (proc.returncode, proc.stderr.strip()) == (2, f"error: {expected}")
        assert _pages(index) == 0
    assert blocker.read_text() == "x\n" and not (tmp_path / "missing").exists()
    # a lock over an older one replaces its content
    old = tmp_path / "pylock.toml"
    old.write_text("an older lock\n")
    assert _lock(index, python, tmp_path, "app") == old
    assert old.read_text().startswith('lock-version = "1.0"')
