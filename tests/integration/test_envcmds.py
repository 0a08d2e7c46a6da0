"""``list``, ``freeze``, ``show`` and ``check`` print what pip prints on the same
environment; ``uninstall`` removes by RECORD."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

from helpers import IndexServer, run_cli, tree_snapshot


def _pip(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # pip 26 (a test dependency) against the venv
    return subprocess.run([sys.executable, "-m", "pip", "--python", str(python),
                           "--disable-pip-version-check", *args],
                          capture_output=True, text=True, check=False)


@pytest.fixture
def env(index: IndexServer, repo: dict[str, list], venv_factory: Callable[[str], Path]
        ) -> Path:
    python = venv_factory("3.12")
    for args in (["app[extra]"], ["--no-deps", "conflict-b", "depmissing", "shared==1.0"],
                 [str(repo["yanky"][0].path)]):
        proc = run_cli("install", "-p", str(python), "-i", index.url, "--no-cache", *args)
        assert proc.returncode == 0, proc.stderr
    return python


@pytest.mark.parametrize("args", [
    ["list"], ["list", "--format", "freeze"], ["list", "--format", "json"], ["freeze"],
    ["show", "app", "lib", "shared"], ["check"],
])
def test_output_matches_pip(env: Path, args: list[str]) -> None:
    ours = run_cli(*args, "-p", str(env))
    theirs = _pip(env, *args)
    assert ours.stdout == theirs.stdout
    assert ours.returncode == theirs.returncode


def test_check_names_missing_and_conflicting(env: Path) -> None:
    out = run_cli("check", "-p", str(env))
    assert out.returncode == 1
    assert "depmissing 1.0 requires doesnotexist, which is not installed." in out.stdout
    assert "conflict-b 1.0 has requirement shared>=2, but you have shared 1.0." in out.stdout


def test_uninstall_by_record(env: Path) -> None:
    site = next((env.parent.parent / "lib").glob("python*/site-packages"))
    proc = run_cli("uninstall", "-y", "-p", str(env), "app", "helper", "notinstalled")
    assert proc.returncode == 0, proc.stderr
    assert " - app==1.0" in proc.stdout and " - helper==1.0" in proc.stdout
    assert "skipping notinstalled" in proc.stderr
    assert not (site / "app").exists() and not list(site.glob("app-*.dist-info"))
    assert not (env.parent / "app-run").exists()
    assert run_cli("list", "-p", str(env)).stdout == _pip(env, "list").stdout
    before = tree_snapshot(env.parent.parent)
    piped = run_cli("uninstall", "-p", str(env), "lib")  # no -y and no terminal
    assert piped.returncode == 2 and "pass -y" in piped.stderr
    assert tree_snapshot(env.parent.parent) == before


def test_uninstall_refuses_pyinst_in_its_own_environment() -> None:
    proc = run_cli("uninstall", "-y", "-p", sys.executable, "pyinst")
    assert proc.returncode == 2
    assert "refusing to uninstall pyinst from the environment it runs in" in proc.stderr


def test_an_externally_managed_python_is_refused_unless_asked() -> None:
    import glob

    system = Path("/usr/bin/python3")
    markers = glob.glob("/usr/lib/python3*/EXTERNALLY-MANAGED")
    if not system.exists() or not markers:  # pragma: no cover - depends on the machine
        pytest.skip("no externally managed system Python here")
    proc = run_cli("install", "-p", str(system), "--no-cache", "--no-index", "six")
    assert proc.returncode == 1
    assert "is externally managed (PEP 668)" in proc.stderr
    assert "--break-system-packages" in proc.stderr and "Traceback" not in proc.stderr
    un = run_cli("uninstall", "-y", "-p", str(system), "pip")
    assert un.returncode == 1 and "externally managed" in un.stderr


def _filled_cache(index: IndexServer, tmp_path: Path,
                  venv_factory: Callable[[str], Path]) -> Path:
    """A cache that one real install of 'app' has filled."""
    cache = tmp_path / "cache"
    python = venv_factory("3.12")
    assert run_cli("install", "-p", str(python), "-i", index.url, "--cache-dir", str(cache),
                   "app").returncode == 0
    return cache


def test_cache_dir_info_and_clean(index: IndexServer, tmp_path: Path,
                                  venv_factory: Callable[[str], Path]) -> None:
    cache = _filled_cache(index, tmp_path, venv_factory)
    assert run_cli("cache", "dir", "--cache-dir", str(cache)).stdout.strip() == str(cache)
    assert run_cli("cache", "dir", env={"PYINST_CACHE_DIR": str(cache)}).stdout.strip() \
        == str(cache)
    info = run_cli("cache", "info", "--cache-dir", str(cache)).stdout
    wheels = next(line for line in info.splitlines() if line.startswith("wheels"))
    assert int(wheels.split()[1]) >= 2  # app and lib were downloaded
    # one column for the counts, however long a section's name
    assert len({line.index(" files") for line in info.splitlines()[:-1]}) == 1
    cleaned = run_cli("cache", "clean", "unpacked", "--cache-dir", str(cache))
    assert cleaned.returncode == 0 and "Removed" in cleaned.stdout
    assert not (cache / "unpacked").exists() and (cache / "wheels").exists()
    assert run_cli("cache", "clean", "--cache-dir", str(cache)).returncode == 0
    assert not any(p for p in cache.iterdir() if not p.name.startswith("."))
    bad = run_cli("cache", "clean", "nonsense", "--cache-dir", str(cache))
    assert bad.returncode == 2 and "no cache section nonsense" in bad.stderr
    # and the next install simply fills it again
    again = venv_factory("3.12")
    assert run_cli("install", "-p", str(again), "-i", index.url, "--cache-dir", str(cache),
                   "app").returncode == 0


def test_settings_from_files_environment_and_command_line(
        index: IndexServer, tmp_path: Path, venv_factory: Callable[[str], Path]) -> None:
    user = tmp_path / "user.toml"
    user.write_text('index-url = "http://127.0.0.1:9/unreachable/"\nlink-mode = "copy"\n')
    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text(f'[tool.pyinst]\nindex-url = "{index.url}"\n')
    env = {"PYINST_CONFIG_FILE": str(user), "PYINST_NO_CACHE": "true"}
    shown = run_cli("config", "list", env=env, cwd=project).stdout
    assert f"index-url = '{index.url}'  [{project / 'pyproject.toml'} [tool.pyinst]]" in shown
    assert f"link-mode = 'copy'  [{user}]" in shown
    assert "no-cache = True  [PYINST_NO_CACHE]" in shown

    # the project's index (over the user's unreachable one) is what an install uses
    python = venv_factory("3.12")
    proc = run_cli("install", "-p", str(python), "helper", env=env, cwd=project)
    assert proc.returncode == 0, proc.stderr
    # the environment beats the files, the command line beats the environment
    env_wins = run_cli("install", "-p", str(python), "lib", cwd=project,
                       env={**env, "PYINST_INDEX_URL": "http://127.0.0.1:9/nothing/"})
    assert env_wins.returncode == 1 and "127.0.0.1:9" in env_wins.stderr
    cli_wins = run_cli("install", "-p", str(python), "-i", index.url, "lib", cwd=project,
                       env={**env, "PYINST_INDEX_URL": "http://127.0.0.1:9/nothing/"})
    assert cli_wins.returncode == 0, cli_wins.stderr

    (project / "pyproject.toml").write_text("[tool.pyinst]\nno-such-thing = 1\n")
    bad = run_cli("config", env=env, cwd=project)
    assert bad.returncode == 2 and "unknown setting 'no-such-thing'" in bad.stderr
    worse = run_cli("config", env={**env, "PYINST_OFFLINE": "maybe"})
    assert worse.returncode == 2 and "PYINST_OFFLINE: offline must be true or false" \
        in worse.stderr


def test_tree_and_machine_output(env: Path, index: IndexServer) -> None:
    import json

    tree = run_cli("tree", "-p", str(env)).stdout.splitlines()
    assert "app 1.0" in tree
    at = tree.index("app 1.0")
    assert tree[at + 1].startswith("    lib 1.1 [requires: >=1.0]")
    assert "    doesnotexist>=1 [not installed]" in tree
    only = run_cli("tree", "-p", str(env), "conflict-b").stdout.splitlines()
    assert only == ["conflict-b 1.0", "    shared 1.0 [requires: >=2]"]

    shown = json.loads(run_cli("show", "--json", "-p", str(env), "lib").stdout)
    assert shown[0]["name"] == "lib" and shown[0]["required_by"] == ["app"]
    checked = run_cli("check", "--json", "-p", str(env))
    assert checked.returncode == 1
    data = json.loads(checked.stdout)
    assert data["ok"] is False and len(data["problems"]) == 2
    plan = run_cli("install", "--json", "--dry-run", "-p", str(env), "-i", index.url,
                   "--no-cache", "yanky==1.0", "simple")
    assert plan.returncode == 0, plan.stderr
    report = json.loads(plan.stdout)
    assert report["version"] == "1"
    assert {i["metadata"]["name"] for i in report["install"]} == {"simple"}


def test_download_saves_the_resolved_files(
        repo: dict[str, list], make_index: Callable[..., IndexServer], tmp_path: Path,
        venv_factory: Callable[[str], Path]) -> None:
    import hashlib

    from buildsupport import tiny_sdist

    from helpers import IndexFile

    index = make_index({**repo, "tiny": [IndexFile(tiny_sdist(tmp_path / "s", "tiny", "1.0"))]})
    python = venv_factory("3.13")
    dest = tmp_path / "dl"
    proc = run_cli("download", "-p", str(python), "-i", index.url, "--no-cache", "-d",
                   str(dest), "app[extra]", "native", "tiny")
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in dest.iterdir())
    assert names == ["app-1.0-py3-none-any.whl", "helper-1.0-py3-none-any.whl",
                     "lib-1.1-py3-none-any.whl", "native-1.0-cp313-cp313-linux_x86_64.whl",
                     "tiny-1.0.tar.gz"]  # the target's own wheel; an sdist as it is
    served = {f.path.name: f.path for files in index.projects.values() for f in files}
    for name in names:
        assert hashlib.sha256((dest / name).read_bytes()).digest() == \
            hashlib.sha256(served[name].read_bytes()).digest()
    # the target itself is untouched
    assert run_cli("list", "-p", str(python)).stdout == ""


def test_list_outdated_matches_pip(index: IndexServer, venv_factory: Callable[[str], Path]
                                   ) -> None:
    python = venv_factory("3.12")
    proc = run_cli("install", "-p", str(python), "-i", index.url, "--no-cache",
                   "simple==1.0", "lib==1.0", "helper")
    assert proc.returncode == 0, proc.stderr
    ours = run_cli("list", "--outdated", "-p", str(python), "-i", index.url, "--no-cache")
    theirs = _pip(python, "list", "--outdated", "--isolated", "--index-url", index.url)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout
    assert "simple  1.0     3.0    wheel" in ours.stdout  # lib's 2.0b1 is a pre-release
    for fmt in ("json", "freeze"):
        ours = run_cli("list", "--outdated", "--format", fmt, "-p", str(python), "-i",
                       index.url, "--no-cache")
        theirs = _pip(python, "list", "--outdated", "--format", fmt, "--isolated",
                      "--index-url", index.url)
        if fmt == "json":
            assert ours.returncode == 0, ours.stderr
            assert json.loads(ours.stdout) == json.loads(theirs.stdout) != []
        else:  # pip refuses this pair; so do we, with its words
            assert ours.returncode == 2 and theirs.returncode != 0
            assert "cannot be used with the --outdated option" in ours.stderr
            assert "cannot be used with the --outdated option" in theirs.stderr


def test_cache_prune_removes_only_stale_leftovers(index: IndexServer, tmp_path: Path,
                                                  venv_factory: Callable[[str], Path]) -> None:
    import os

    cache = _filled_cache(index, tmp_path, venv_factory)
    old = 1_000_000_000  # 2001
    leftovers = [cache / "tmp" / "build-killed", cache / "unpacked" / "ab" / "ab-half-made",
                 cache / "wheels" / ".tmp-partial"]
    for path in leftovers:
        path.mkdir(parents=True)
        (path / "junk").write_bytes(b"x" * 1000)
        os.utime(path, (old, old))
    running = cache / "tmp" / "build-running"
    running.mkdir()
    keep = sorted(str(p) for p in (cache / "unpacked").rglob("pyinst-manifest.json"))
    proc = run_cli("cache", "prune", "--cache-dir", str(cache))
    assert proc.returncode == 0 and "Pruned 0.0 MB" in proc.stdout
    assert not any(p.exists() for p in leftovers)
    assert running.exists()  # a call in progress keeps its scratch
    assert sorted(str(p) for p in (cache / "unpacked").rglob("pyinst-manifest.json")) == keep
