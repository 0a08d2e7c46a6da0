"""`pyinst bootstrap` and `pyinst venv --seed`: pip as just another wheel.

The index serves the real pip wheels that the pyenv interpreters bundle for ensurepip.
pip 24.2 is announced there with Requires-Python >=3.10 (as a release that dropped
3.8 and 3.9 would be), so "the newest pip that supports the target" differs by target.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import (
    PYENV,
    IndexFile,
    IndexServer,
    WheelSpec,
    build_wheel,
    find_python,
    make_venv,
    run_cli,
    run_in,
    tree_snapshot,
)

MINORS = ["3.8", "3.9", "3.10", "3.11", "3.12", "3.13"]
NEWEST_FOR = {"3.8": "23.2.1", "3.9": "23.2.1", "3.10": "24.2", "3.11": "24.2",
              "3.12": "24.2", "3.13": "24.2"}


def _bundled_pip_wheels() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for whl in sorted(PYENV.glob("3.*/lib/python3.*/ensurepip/_bundled/pip-*.whl")):
        found.setdefault(whl.name, whl)
    return found


@pytest.fixture(scope="module")
def pip_index() -> Iterator[IndexServer]:
    wheels = _bundled_pip_wheels()
    for name in ("pip-23.2.1-py3-none-any.whl", "pip-24.2-py3-none-any.whl"):
        if name not in wheels:  # pragma: no cover - depends on the machine
            pytest.fail(f"no pyenv interpreter bundles {name}")
    files = [IndexFile(p, requires_python=">=3.10" if "24.2" in name else None)
             for name, p in wheels.items()]
    server = IndexServer({"pip": files})
    yield server
    server.close()


def _bootstrap(python: Path, *args: str, cache: Path,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli("bootstrap", "-p", str(python), "--cache-dir", str(cache), *args, env=env)


def _scripts(python: Path) -> list[str]:
    return sorted(p.name for p in python.parent.iterdir() if p.name.startswith("pip"))


@pytest.mark.parametrize("minor", MINORS)
def test_bootstrap_gives_a_working_pip_that_can_remove_itself(
        minor: str, pip_index: IndexServer, tmp_path: Path) -> None:
    python = make_venv(tmp_path / "v", minor)
    root = python.parent.parent
    before = tree_snapshot(root)
    proc = _bootstrap(python, "-i", pip_index.url, cache=tmp_path / "cache")
    expected = NEWEST_FOR[minor]
    assert proc.returncode == 0, proc.stderr
    assert f"Installed pip {expected}" in proc.stdout
    written = set(tree_snapshot(root)) - set(before)
    # the commands ensurepip makes in a venv, for this interpreter, with its shebang
    assert _scripts(python) == sorted(["pip", "pip3", f"pip{minor}"])
    assert (python.parent / "pip3").read_text().splitlines()[0] == f"#!{python}"
    version = subprocess.run([str(python.parent / "pip"), "--version"], capture_output=True,
                             text=True, check=True).stdout
    assert version.startswith(f"pip {expected} from {root}")

    wheel = build_wheel(WheelSpec("localpkg", "1.0"), tmp_path / "wheels")
    pip_cmd = [str(python.parent / "pip"), "--disable-pip-version-check", "--no-input"]
    done = subprocess.run([*pip_cmd, "install", "--no-index", str(wheel)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert run_in(python, "import localpkg; print(localpkg.VERSION)") == "1.0"

    gone = subprocess.run([*pip_cmd, "uninstall", "-y", "pip"], capture_output=True,
                          text=True, check=False)
    assert gone.returncode == 0, gone.stderr
    left = written & set(tree_snapshot(root))
    assert not left, f"pip uninstall left files pyinst wrote: {sorted(left)}"


def test_already_present_does_nothing_and_upgrade_replaces_by_record(
        pip_index: IndexServer, tmp_path: Path) -> None:
    python = make_venv(tmp_path / "v", "3.12")
    root = python.parent.parent
    cache = tmp_path / "cache"
    first = _bootstrap(python, "-i", pip_index.url, "--pip-version", "23.2.1", cache=cache)
    assert first.returncode == 0, first.stderr
    old = tree_snapshot(root)
    again = _bootstrap(python, "-i", pip_index.url, cache=cache)
    assert again.returncode == 0, again.stderr
    assert "pip 23.2.1 is already installed" in again.stdout
    assert tree_snapshot(root) == old

    up = _bootstrap(python, "-i", pip_index.url, "--upgrade", cache=cache)
    assert up.returncode == 0, up.stderr
    assert "Replaced pip 23.2.1 with pip 24.2" in up.stdout
    new = tree_snapshot(root)
    assert not any("pip-23.2.1.dist-info" in p for p in new)
    old_only = {p for p in old if "/pip/" in p} - set(new)
    assert old_only, "pip 24.2 ships a different file set; the test expects some to go"
    assert run_in(python, "import pip; print(pip.__version__)") == "24.2"


@pytest.mark.parametrize(("minor", "bundled"), [("3.8", "23.0.1"), ("3.13", "24.2")])
def test_offline_uses_the_bundled_wheel_and_makes_no_request(
        minor: str, bundled: str, pip_index: IndexServer, tmp_path: Path) -> None:
    server = IndexServer({})
    server.close()  # unreachable: nothing listens on its port any more
    python = make_venv(tmp_path / "v", minor)
    proc = _bootstrap(python, "--offline", "-i", server.url, cache=tmp_path / "empty-cache")
    assert proc.returncode == 0, proc.stderr
    assert f"Installed pip {bundled}" in proc.stdout
    assert run_in(python, "import pip; print(pip.__version__)") == bundled
    # and with an index that would answer, --offline still asks it nothing
    seen = len(pip_index.requests)
    again = make_venv(tmp_path / "again", minor)
    proc = _bootstrap(again, "--offline", "-i", pip_index.url, cache=tmp_path / "c2")
    assert proc.returncode == 0, proc.stderr
    assert len(pip_index.requests) == seen


def test_offline_falls_back_to_the_cache_then_fails_cleanly(
        pip_index: IndexServer, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    warm = make_venv(tmp_path / "warm", "3.12")
    assert _bootstrap(warm, "-i", pip_index.url, cache=cache).returncode == 0  # caches 24.2
    n_requests = len(pip_index.requests)

    # 3.12 bundles 23.2.1; 24.2 can only come from the cache
    python = make_venv(tmp_path / "v", "3.12")
    proc = _bootstrap(python, "--offline", "--pip-version", "24.2", "-i", pip_index.url,
                      cache=cache)
    assert proc.returncode == 0, proc.stderr
    assert "Installed pip 24.2" in proc.stdout
    assert len(pip_index.requests) == n_requests

    other = make_venv(tmp_path / "other", "3.12")
    before = tree_snapshot(other.parent.parent)
    fail = _bootstrap(other, "--offline", "--pip-version", "22.3", "-i", pip_index.url,
                      cache=cache)
    assert fail.returncode == 1
    assert fail.stderr.startswith("error: no pip==22.3 wheel for Python 3.12")
    assert "Traceback" not in fail.stderr and len(fail.stderr.splitlines()) == 1
    assert tree_snapshot(other.parent.parent) == before
    assert len(pip_index.requests) == n_requests


def test_ensurepip_script_flags_in_a_venv(pip_index: IndexServer, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    alt = make_venv(tmp_path / "alt", "3.11")
    assert _bootstrap(alt, "--altinstall", "--offline", cache=cache).returncode == 0
    assert _scripts(alt) == ["pip3.11"]
    dflt = make_venv(tmp_path / "dflt", "3.11")
    assert _bootstrap(dflt, "--default-pip", "--offline", cache=cache).returncode == 0
    assert _scripts(dflt) == ["pip", "pip3", "pip3.11"]

    both = make_venv(tmp_path / "both", "3.11")
    before = tree_snapshot(both.parent.parent)
    proc = _bootstrap(both, "--altinstall", "--default-pip", "--offline", cache=cache)
    assert proc.returncode == 2
    assert proc.stderr == "error: --altinstall and --default-pip cannot be used together\n"
    user = _bootstrap(both, "--user", "--offline", cache=cache)
    assert user.returncode == 1
    assert "user site-packages are not visible in the virtual environment" in user.stderr
    assert tree_snapshot(both.parent.parent) == before


def test_user_and_root_outside_a_venv(tmp_path: Path) -> None:
    base = find_python("3.12")
    cache = tmp_path / "cache"
    userbase = tmp_path / "userbase"
    env = {"PYTHONUSERBASE": str(userbase)}
    proc = _bootstrap(base, "--user", "--offline", cache=cache, env=env)
    assert proc.returncode == 0, proc.stderr
    site = userbase / "lib" / "python3.12" / "site-packages"
    assert (site / "pip-23.2.1.dist-info" / "RECORD").exists()
    # not a venv and no --default-pip: pipX and pipX.Y only
    assert sorted(p.name for p in (userbase / "bin").iterdir()) == ["pip3", "pip3.12"]
    where = subprocess.run([str(base), "-c", "import pip; print(pip.__file__)"],
                           capture_output=True, text=True, check=True, env=env).stdout
    assert where.startswith(str(site))

    staged = tmp_path / "stage"
    proc = _bootstrap(base, "--root", str(staged), "--default-pip", "--offline", cache=cache)
    assert proc.returncode == 0, proc.stderr
    prefix = base.parent.parent
    rooted = staged / prefix.relative_to("/")
    assert (rooted / "lib" / "python3.12" / "site-packages" / "pip" / "__init__.py").exists()
    bin_dir = rooted / "bin"
    assert sorted(p.name for p in bin_dir.iterdir()) == ["pip", "pip3", "pip3.12"]
    # the commands run the real interpreter once the tree is unpacked in place
    assert (bin_dir / "pip").read_text().splitlines()[0] == f"#!{base}"


def test_venv_seed(pip_index: IndexServer, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    path = tmp_path / "env"
    proc = run_cli("venv", str(path), "-p", str(find_python("3.10")), "--seed", "-i",
                   pip_index.url, "--cache-dir", str(cache))
    assert proc.returncode == 0, proc.stderr
    assert "Installed pip 24.2" in proc.stdout
    python = path / "bin" / "python"
    assert run_in(python, "import sys, pip; print(sys.prefix != sys.base_prefix, "
                          "pip.__version__)") == "True 24.2"
    assert _scripts(python) == ["pip", "pip3", "pip3.10"]

    bare = tmp_path / "bare"
    proc = run_cli("venv", str(bare), "-p", str(find_python("3.10")))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"Created a virtual environment at {bare} with ")
    assert _scripts(bare / "bin" / "python") == []
    assert (bare / "pyvenv.cfg").exists()

    # venv's own options pass through: prompt, system site-packages, clear
    (bare / "leftover.txt").write_text("x")
    proc = run_cli("venv", str(bare), "-p", str(find_python("3.10")), "--clear",
                   "--prompt", "my-prompt", "--system-site-packages")
    assert proc.returncode == 0, proc.stderr
    cfg = (bare / "pyvenv.cfg").read_text()
    assert "prompt = 'my-prompt'" in cfg or "prompt = my-prompt" in cfg
    assert "include-system-site-packages = true" in cfg
    assert not (bare / "leftover.txt").exists()
    # without --clear, an existing environment is updated in place (as python -m venv
    # does), not emptied
    (bare / "keep.txt").write_text("x")
    proc = run_cli("venv", str(bare), "-p", str(find_python("3.10")))
    assert proc.returncode == 0, proc.stderr
    assert (bare / "keep.txt").exists() and (bare / "bin" / "python").exists()
    assert proc.stdout.startswith(f"Updated the virtual environment (what it held is kept; "
                                  f"--clear empties it first) at {bare} with ")


def test_one_installer_bootstraps_many_environments_at_once(
        pip_index: IndexServer, tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from pyinst import Config, Installer, Target, create_venv

    pythons = {minor: create_venv(find_python(minor), tmp_path / minor)
               for minor in ("3.9", "3.11", "3.13")}
    config = Config(index_urls=(pip_index.url,), cache_dir=tmp_path / "cache", retries=0)
    with Installer(config) as inst, ThreadPoolExecutor(3) as pool:
        results = dict(zip(pythons, pool.map(
            lambda py: inst.bootstrap(Target.from_python(py)), pythons.values())))
    for minor, result in results.items():
        assert result.installed == (("pip", NEWEST_FOR[minor]),)
        assert run_in(pythons[minor], "import pip; print(pip.__version__)") == \
            NEWEST_FOR[minor]
