"""Installing from source: sdists on the index, local projects, archives, editables.

Builds run in isolated environments that pyinst provisions from the loopback index,
which serves the real backends (setuptools, hatchling, flit-core, pdm-backend).
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

import pytest

from buildsupport import BACKENDS, backend_index_files, make_project, tiny_sdist

from helpers import IndexFile, IndexServer, find_python, pip, run_cli, run_in, tree_snapshot


@pytest.fixture(scope="module")
def backends() -> dict[str, list[IndexFile]]:
    return backend_index_files()


@pytest.fixture
def source_index(tmp_path: Path, backends: dict[str, list[IndexFile]],
                 make_index: Callable[..., IndexServer]) -> IndexServer:
    sdists = tmp_path / "sdists"
    projects = dict(backends)
    projects["tiny"] = [IndexFile(tiny_sdist(sdists, "tiny", "1.0"))]
    projects["broken"] = [IndexFile(tiny_sdist(sdists, "broken", "1.0", fail=True))]
    projects["hostile"] = [IndexFile(_hostile_sdist(sdists))]
    return make_index(projects)


def _hostile_sdist(out: Path) -> Path:
    path = out / "hostile-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        data = b"[build-system]\nrequires = []\n"
        info = tarfile.TarInfo("hostile-1.0/pyproject.toml")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("hostile-1.0/escape")
        link.type = tarfile.SYMTYPE
        link.linkname = "../../../../outside"
        tf.addfile(link)
    return path


def _install(index: IndexServer, python: Path, cache: Path, *args: str,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli("install", "-p", str(python), "-i", index.url, "--cache-dir", str(cache),
                   *args, env=env)


def _direct_url(python: Path, name: str) -> dict[str, object]:
    text = run_in(python, "import importlib.metadata as m, sys; "
                          f"sys.stdout.write(m.distribution({name!r}).read_text("
                          "'direct_url.json') or '')")
    return json.loads(text) if text else {}


def test_an_sdist_builds_once_then_comes_from_the_built_wheel_cache(
        source_index: IndexServer, tmp_path: Path,
        venv_factory: Callable[[str], Path]) -> None:
    log = tmp_path / "hooks.log"
    env = {"PYINST_TEST_HOOK_LOG": str(log)}
    cache = tmp_path / "cache"
    first = venv_factory("3.12")
    proc = _install(source_index, first, cache, "tiny", env=env)
    assert proc.returncode == 0, proc.stderr
    assert " + tiny==1.0" in proc.stdout
    assert run_in(first, "import tiny; print(tiny.VALUE)") == "1.0"
    hooks = log.read_text().splitlines()
    assert hooks == ["tiny get_requires_for_build_wheel",
                     "tiny prepare_metadata_for_build_wheel", "tiny build_wheel"]
    assert pip(first, "check").returncode == 0

    second = venv_factory("3.12")
    proc = _install(source_index, second, cache, "tiny", env=env)
    assert proc.returncode == 0, proc.stderr
    assert log.read_text().splitlines() == hooks  # no backend call at all
    assert run_in(second, "import tiny; print(tiny.VALUE)") == "1.0"
    assert not list((cache / "tmp").glob("build-*"))  # each call cleans its scratch


def test_a_failing_build_names_the_package_shows_the_tail_and_changes_nothing(
        source_index: IndexServer, tmp_path: Path,
        venv_factory: Callable[[str], Path]) -> None:
    python = venv_factory("3.12")
    before = tree_snapshot(python.parent.parent)
    proc = _install(source_index, python, tmp_path / "cache", "broken")
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: building 'broken' failed: build_wheel failed")
    assert "tiny backend: the compiler exploded" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert tree_snapshot(python.parent.parent) == before


def test_a_hostile_sdist_is_refused_and_nothing_is_written_outside(
        source_index: IndexServer, tmp_path: Path,
        venv_factory: Callable[[str], Path]) -> None:
    python = venv_factory("3.12")
    before = tree_snapshot(python.parent.parent)
    proc = _install(source_index, python, tmp_path / "cache", "hostile")
    assert proc.returncode == 1
    assert "symbolic link 'hostile-1.0/escape' points outside" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert tree_snapshot(python.parent.parent) == before
    assert not any(p.name == "outside" for p in tmp_path.rglob("outside"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_local_projects_with_each_backend_normal_and_editable(
        backend: str, source_index: IndexServer, tmp_path: Path,
        venv_factory: Callable[[str], Path]) -> None:
    name = f"proj-{backend}"
    module = name.replace("-", "_")
    project = make_project(tmp_path / name, name, "1.0", backend)
    cache = tmp_path / "cache"

    normal = venv_factory("3.12")
    proc = _install(source_index, normal, cache, str(project))
    assert proc.returncode == 0, proc.stderr
    assert run_in(normal, f"import {module}; print({module}.VALUE)") == "1.0"
    assert _direct_url(normal, name) == {"url": project.as_uri(), "dir_info": {}}
    assert pip(normal, "check").returncode == 0

    editable = venv_factory("3.12")
    proc = _install(source_index, editable, cache, "-e", str(project))
    assert proc.returncode == 0, proc.stderr
    assert _direct_url(editable, name) == {"url": project.as_uri(),
                                          "dir_info": {"editable": True}}
    source = next(project.rglob("__init__.py"))
    source.write_text('VALUE = "changed"\n')
    assert run_in(editable, f"import {module}; print({module}.VALUE)") == "changed"
    # the normal install took a copy: unchanged
    assert run_in(normal, f"import {module}; print({module}.VALUE)") == "1.0"
    gone = pip(editable, "uninstall", "-y", name)
    assert gone.returncode == 0, gone.stderr
    assert run_in(editable, "import importlib.util as u; "
                            f"print(u.find_spec({module!r}) is None)") == "True"


def test_an_sdist_path_records_its_archive(source_index: IndexServer, tmp_path: Path,
                                          venv_factory: Callable[[str], Path]) -> None:
    archive = tiny_sdist(tmp_path / "dist", "tiny", "2.0")
    python = venv_factory("3.12")
    proc = _install(source_index, python, tmp_path / "cache", str(archive))
    assert proc.returncode == 0, proc.stderr
    info = _direct_url(python, "tiny")
    assert info["url"] == archive.as_uri()
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert info["archive_info"] == {"hash": f"sha256={digest}", "hashes": {"sha256": digest}}


def test_four_sdists_for_four_targets_in_parallel(
        source_index: IndexServer, tmp_path: Path, state_guard: None) -> None:
    from pyinst import Config, Installer, Target
    from pyinst.bootstrap import create_venv

    sdists = tmp_path / "par"
    names = [f"par{i}" for i in range(4)]
    index = IndexServer({n: [IndexFile(tiny_sdist(sdists, n, f"1.{i}"))]
                         for i, n in enumerate(names)})
    try:
        targets = {Target.from_python(create_venv(find_python(m), tmp_path / f"v{i}")): n
                   for i, (m, n) in enumerate(zip(["3.9", "3.11", "3.12", "3.13"], names))}
        config = Config(index_urls=(index.url,), cache_dir=tmp_path / "cache", retries=0)
        with Installer(config) as inst:
            results = inst.provision({t: [n] for t, n in targets.items()}, max_workers=4)
    finally:
        index.close()
    for target, name in targets.items():
        result = results[target]
        assert not isinstance(result, Exception), result
        version = f"1.{names.index(name)}"
        assert result.installed == ((name, version),)
        assert run_in(Path(target.python), f"import {name}; print({name}.VALUE)") == version


def test_extras_of_a_local_project(source_index: IndexServer, tmp_path: Path,
                                   venv_factory: Callable[[str], Path]) -> None:
    project = make_project(tmp_path / "withdeps", "withdeps", "1.0", "hatchling",
                           requires=("tiny",))
    python = venv_factory("3.12")
    proc = _install(source_index, python, tmp_path / "cache", str(project))
    assert proc.returncode == 0, proc.stderr
    assert " + tiny==1.0" in proc.stdout and " + withdeps==1.0" in proc.stdout


@pytest.fixture(autouse=True)
def _no_leftover_scratch(tmp_path: Path) -> Iterator[None]:
    yield
    assert not list((tmp_path / "cache" / "tmp").glob("build-*"))


def _git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
           "HOME": str(repo.parent), "PATH": "/usr/bin:/bin"}
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True, env=env).stdout.strip()


def test_a_git_dependency_at_a_tag_records_vcs_info(
        source_index: IndexServer, tmp_path: Path,
        venv_factory: Callable[[str], Path]) -> None:
    from buildsupport import tiny_project

    repo = tiny_project(tmp_path / "repo", "gitpkg", "1.0")
    _git(repo, "init", "--quiet", "-b", "main")
    _git(repo, "add", ".")
    _git(repo, "commit", "--quiet", "-m", "one")
    _git(repo, "tag", "v1.0")
    tagged = _git(repo, "rev-parse", "HEAD")
    tiny_project(repo, "gitpkg", "2.0")
    _git(repo, "commit", "--quiet", "-am", "two")

    python = venv_factory("3.12")
    url = f"git+{repo.as_uri()}@v1.0"
    proc = _install(source_index, python, tmp_path / "cache", f"gitpkg @ {url}")
    assert proc.returncode == 0, proc.stderr
    assert run_in(python, "import gitpkg; print(gitpkg.VALUE)") == "1.0"
    assert _direct_url(python, "gitpkg") == {
        "url": repo.as_uri(),
        "vcs_info": {"vcs": "git", "commit_id": tagged, "requested_revision": "v1.0"}}
    assert pip(python, "check").returncode == 0

    before = tree_snapshot(python.parent.parent)
    for bad, says in [(f"git+{repo.as_uri()}@nosuchtag", "it has no revision 'nosuchtag'"),
                      (f"git+{repo.as_uri()}@--upload-pack=touch", "invalid git revision")]:
        proc = _install(source_index, python, tmp_path / "cache", f"gitpkg @ {bad}")
        assert proc.returncode != 0 and says in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
    assert tree_snapshot(python.parent.parent) == before


def test_no_build_isolation_config_settings_and_a_source_url(
        source_index: IndexServer, tmp_path: Path,
        venv_factory: Callable[[str], Path]) -> None:
    log = tmp_path / "hooks.log"
    python = venv_factory("3.12")
    sdist_url = f"{source_index.url.rsplit('/simple/', 1)[0]}/files/tiny-1.0.tar.gz"
    proc = _install(source_index, python, tmp_path / "cache", "--no-build-isolation",
                    "-C", "mode=fast", "-C", "flag=a", "-C", "flag=b", f"tiny @ {sdist_url}",
                    env={"PYINST_TEST_HOOK_LOG": str(log)})
    assert proc.returncode == 0, proc.stderr
    assert 'tiny build_wheel {"flag": ["a", "b"], "mode": "fast"}' in log.read_text()
    info = _direct_url(python, "tiny")
    assert info["url"] == sdist_url
    assert info["archive_info"]["hashes"]["sha256"] == hashlib.sha256(  # type: ignore[index]
        (tmp_path / "sdists" / "tiny-1.0.tar.gz").read_bytes()).hexdigest()
    bad = _install(source_index, python, tmp_path / "cache", "-C", "novalue", "tiny")
    assert bad.returncode == 2 and "--config-settings expects KEY=VALUE" in bad.stderr


def test_symlink_mode_copies_what_was_built_from_a_local_tree(
        source_index: IndexServer, tmp_path: Path,
        venv_factory: Callable[[str], Path]) -> None:
    from buildsupport import tiny_project

    project = tiny_project(tmp_path / "local", "localtiny", "1.0")
    python = venv_factory("3.12")
    proc = _install(source_index, python, tmp_path / "cache", "--link-mode", "symlink",
                    str(project))
    assert proc.returncode == 0, proc.stderr
    module = Path(run_in(python, "import localtiny; print(localtiny.__file__)"))
    assert not module.is_symlink()  # the build's scratch is gone; a link would dangle
    assert run_in(python, "import localtiny; print(localtiny.VALUE)") == "1.0"


def test_build_constraints_reach_the_build_environment(
        source_index: IndexServer, tmp_path: Path,
        venv_factory: Callable[[str], Path]) -> None:
    project = make_project(tmp_path / "constrained", "constrained", "1.0", "setuptools")
    constraints = tmp_path / "build-constraints.txt"
    constraints.write_text("setuptools<1\n")
    python = venv_factory("3.12")
    before = tree_snapshot(python.parent.parent)
    proc = _install(source_index, python, tmp_path / "cache", "--build-constraint",
                    str(constraints), str(project))
    assert proc.returncode == 1
    assert "cannot set up the build environment of 'constrained'" in proc.stderr
    assert "setuptools" in proc.stderr and "Traceback" not in proc.stderr
    assert tree_snapshot(python.parent.parent) == before
    # without the constraint the same project builds
    assert _install(source_index, python, tmp_path / "cache", str(project)).returncode == 0


def test_build_environ_is_what_backends_see_not_the_process_environment(
        source_index: IndexServer, tmp_path: Path, venv_factory: Callable[[str], Path]
        ) -> None:
    """``Config(build_environ=...)`` is the whole environment of the build backend (the
    library never reads os.environ for it); the log variable reaches the backend only
    through it."""
    import os

    from pyinst import Config, Installer, Target

    log = tmp_path / "hooks.log"
    assert "PYINST_TEST_HOOK_LOG" not in os.environ
    environ = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "PYINST_TEST_HOOK_LOG": str(log)}
    python = venv_factory("3.12")
    with Installer(Config(index_urls=(source_index.url,), cache_dir=tmp_path / "c",
                          build_environ=environ)) as inst:
        inst.install(["tiny"], Target.from_python(python))
    assert "tiny build_wheel" in log.read_text()
    assert run_in(python, "import tiny; print(tiny.VALUE)") == "1.0"


def test_a_built_wheel_whose_metadata_cannot_be_read_is_one_line(
        source_index: IndexServer, tmp_path: Path,
        venv_factory: Callable[[str], Path]) -> None:
    # A backend without prepare_metadata_for_build_wheel: the metadata comes from the
    # wheel it builds, here one whose METADATA is marked encrypted (zipfile's
    # RuntimeError once escaped as a traceback).
    from buildsupport import tiny_project

    project = tiny_project(tmp_path / "local", "spoilt", "1.0")
    backend = project / "tiny_backend.py"
    backend.write_text(backend.read_text() + '''
del prepare_metadata_for_build_wheel
_real_build_wheel = build_wheel


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name = _real_build_wheel(wheel_directory, config_settings, metadata_directory)
    path = os.path.join(wheel_directory, name)
    with open(path, "rb") as f:
        data = bytearray(f.read())
    at = data.index(b".dist-info/METADATA", data.index(b"PK\\x01\\x02"))
    data[data.rindex(b"PK\\x01\\x02", 0, at) + 8] |= 1  # its "encrypted" flag
    with open(path, "wb") as f:
        f.write(bytes(data))
    return name
''')
    python = venv_factory("3.12")
    before = tree_snapshot(python.parent.parent)
    proc = _install(source_index, python, tmp_path / "cache", str(project))
    assert proc.returncode == 1, proc.stderr
    # (a local project is named by its path until its metadata says its name)
    assert proc.stderr.strip() == (f"error: the wheel built for '{project}' cannot be read: "
                                   "the member spoilt-1.0.dist-info/METADATA is encrypted")
    assert tree_snapshot(python.parent.parent) == before
