"""Installs from the loopback index into real venvs, checked by the target interpreter and pip."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Callable

import pytest

import pyinst
from pyinst import Config, Installer, Target

from helpers import (
    IndexFile,
    IndexServer,
    WheelSpec,
    build_wheel,
    make_venv,
    pip,
    run_cli,
    run_in,
    tree_snapshot,
)


def site_packages(python: Path) -> Path:
    return Path(run_in(python, "import sysconfig; print(sysconfig.get_paths()['purelib'])"))


def config_for(index: IndexServer, **kw: object) -> Config:
    return Config(index_urls=(index.url,), retries=0, **kw)  # type: ignore[arg-type]


@pytest.mark.usefixtures("state_guard")
@pytest.mark.parametrize(
    ("minor", "json_api", "sidecars"),
    [("3.9", False, False), ("3.9", True, True), ("3.13", True, False), ("3.13", False, True)],
)
def test_install_with_deps_and_extras_then_pip_agrees(
    make_index: Callable[..., IndexServer], venv_factory: Callable[[str], Path],
    minor: str, json_api: bool, sidecars: bool,
) -> None:
    index = make_index(json_api=json_api, sidecars=sidecars)
    python = venv_factory(minor)
    target = Target.from_python(python)
    with Installer(config_for(index)) as inst:
        result = inst.install(["app[extra]"], target)
    assert sorted(result.installed) == [("app", "1.0"), ("helper", "1.0"), ("lib", "1.1")]
    assert result.removed == ()

    # The target interpreter sees them
    out = run_in(python, "import app, lib, helper, importlib.metadata as m; "
                         "print(m.version('app'), m.version('lib'), lib.VERSION)")
    assert out == "1.0 1.1 1.1"
    site = site_packages(python)
    app_info = site / "app-1.0.dist-info"
    assert (app_info / "INSTALLER").read_text() == "pyinst\n"
    assert (app_info / "REQUESTED").exists()
    assert not (site / "lib-1.1.dist-info" / "REQUESTED").exists()

    # The console script runs under the target interpreter
    script = python.parent / "app-run"
    assert script.read_text().splitlines()[0] == f"#!{python}"
    import subprocess
    assert subprocess.run([str(script)], capture_output=True, text=True,
                          check=True).stdout == "app ran\n"

    # pip agrees, and can remove what pyinst wrote without leaving anything behind
    check = pip(python, "check")
    assert check.returncode == 0, check.stdout + check.stderr
    before = set(site.iterdir())
    assert {p.name for p in before} >= {"app", "lib", "helper"}
    gone = pip(python, "uninstall", "-y", "app", "lib", "helper")
    assert gone.returncode == 0, gone.stderr
    assert list(site.iterdir()) == []
    assert not script.exists()


@pytest.mark.parametrize(("minor", "tag"), [("3.9", "cp39"), ("3.13", "cp313")])
def test_picks_the_target_interpreters_wheels(
    index: IndexServer, venv_factory: Callable[[str], Path], minor: str, tag: str
) -> None:
    python = venv_factory(minor)
    with Installer(config_for(index)) as inst:
        inst.install(["native"], Target.from_python(python))
    assert run_in(python, "import native; print(native.TAG)").startswith(f"{tag}-{tag}-")


@pytest.mark.parametrize(("minor", "expected"), [("3.9", "0.9"), ("3.13", "1.0")])
def test_requires_python_is_honoured(
    index: IndexServer, venv_factory: Callable[[str], Path], minor: str, expected: str
) -> None:
    python = venv_factory(minor)
    with Installer(config_for(index)) as inst:
        result = inst.install(["newpy"], Target.from_python(python))
    assert result.installed == (("newpy", expected),)


def test_yanked_skipped_unless_pinned(index: IndexServer,
                                      venv_factory: Callable[[str], Path]) -> None:
    target = Target.from_python(venv_factory("3.13"))
    with Installer(config_for(index)) as inst:
        assert inst.resolve(["yanky"], target).pins["yanky"].version.public == "1.0"
        assert inst.resolve(["yanky==2.0"], target).pins["yanky"].version.public == "2.0"


def test_prereleases_only_with_pre(index: IndexServer,
                                   venv_factory: Callable[[str], Path]) -> None:
    target = Target.from_python(venv_factory("3.13"))
    with Installer(config_for(index)) as inst:
        assert str(inst.resolve(["lib"], target).pins["lib"].version) == "1.1"
        assert str(inst.resolve(["lib>=2.0b1"], target).pins["lib"].version) == "2.0b1"
    with Installer(config_for(index, allow_prereleases=True)) as inst:
        assert str(inst.resolve(["lib"], target).pins["lib"].version) == "2.0b1"


@pytest.mark.usefixtures("state_guard")
def test_upgrade_removes_old_files_by_record(index: IndexServer,
                                             venv_factory: Callable[[str], Path]) -> None:
    python = venv_factory("3.13")
    target = Target.from_python(python)
    site = site_packages(python)
    with Installer(config_for(index)) as inst:
        inst.install(["simple==1.0"], target)
        assert (site / "simple" / "old_only.py").exists()
        # Installed and satisfying: nothing to do without --upgrade
        again = inst.install(["simple"], target)
        assert again.installed == () and again.already_satisfied == (("simple", "1.0"),)
        up = inst.install(["simple<3"], target, upgrade=True)
    assert up.installed == (("simple", "2.0"),) and up.removed == (("simple", "1.0"),)
    assert not (site / "simple" / "old_only.py").exists()
    assert not (site / "simple-1.0.dist-info").exists()
    assert run_in(python, "import simple; print(simple.VERSION)") == "2.0"
    assert pip(python, "check").returncode == 0


def test_failed_upgrade_restores_the_old_version(index: IndexServer,
                                                 venv_factory: Callable[[str], Path]) -> None:
    python = venv_factory("3.13")
    target = Target.from_python(python)
    site = site_packages(python)
    with Installer(config_for(index)) as inst:
        inst.install(["simple==1.0", "blocker"], target)
        before = tree_snapshot(python.parent.parent)
        with pytest.raises(pyinst.InstallError) as info:
            inst.install(["simple==3.0"], target)
    assert "simple" in str(info.value)
    assert tree_snapshot(python.parent.parent) == before
    assert not list(site.glob(".pyinst-backup-*"))
    assert run_in(python, "import simple; print(simple.VERSION)") == "1.0"


def test_a_directory_in_the_target_that_leads_outside_stops_the_install(
        index: IndexServer, venv_factory: Callable[[str], Path], tmp_path: Path) -> None:
    """lib's package directory is a symbolic link out of the venv: the install stops
    before writing through it, with one message naming the package and the link, and
    leaves the venv as it was (app's directory, if made meanwhile, is gone again)."""
    python = venv_factory("3.13")
    root = python.parent.parent
    outside = tmp_path / "outside"
    outside.mkdir()
    (site_packages(python) / "lib").symlink_to(outside, target_is_directory=True)
    before = tree_snapshot(root)
    proc = run_cli("install", "-p", str(python), "-i", index.url, "--no-cache", "app")
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "'lib' 1.1" in proc.stderr and "symbolic link" in proc.stderr, proc.stderr
    assert "the target was restored" in proc.stderr
    assert list(outside.iterdir()) == []
    assert tree_snapshot(root) == before
    assert not (site_packages(python) / "app").exists()
    assert not list(site_packages(python).glob(".pyinst-*"))


def test_force_reinstall_and_no_deps(index: IndexServer,
                                     venv_factory: Callable[[str], Path]) -> None:
    python = venv_factory("3.13")
    target = Target.from_python(python)
    with Installer(config_for(index)) as inst:
        only = inst.install(["app"], target, no_deps=True)
        assert only.installed == (("app", "1.0"),)
        again = inst.install(["app"], target, force_reinstall=True, no_deps=True)
    assert again.installed == (("app", "1.0"),) and again.removed == (("app", "1.0"),)
    assert run_in(python, "import importlib.metadata as m; print(m.version('app'))") == "1.0"


def test_dry_run_changes_nothing(index: IndexServer,
                                 venv_factory: Callable[[str], Path]) -> None:
    python = venv_factory("3.13")
    root = python.parent.parent
    before = tree_snapshot(root)
    with Installer(config_for(index)) as inst:
        result = inst.install(["app"], Target.from_python(python), dry_run=True)
    assert sorted(result.installed) == [("app", "1.0"), ("lib", "1.1")]
    assert tree_snapshot(root) == before


def test_first_index_wins_unless_unsafe_best_match(
    make_index: Callable[..., IndexServer], repo: dict[str, list], venv_factory: Callable[[str], Path]
) -> None:
    first = make_index({"shared": [f for f in repo["shared"] if "1.0" in f.path.name]})
    second = make_index({"shared": repo["shared"], "simple": repo["simple"]})
    target = Target.from_python(venv_factory("3.13"))
    cfg = Config(index_urls=(first.url, second.url), retries=0)
    with Installer(cfg) as inst:
        assert str(inst.resolve(["shared"], target).pins["shared"].version) == "1.0"
    assert not any("/simple/shared/" in r for r in second.requests)
    with Installer(cfg.with_(index_strategy=pyinst.IndexStrategy.UNSAFE_BEST_MATCH)) as inst:
        assert str(inst.resolve(["shared"], target).pins["shared"].version) == "2.0"
    # A project only the second index has is still found there
    with Installer(cfg) as inst:
        assert str(inst.resolve(["shared", "simple<3"], target).pins["shared"].version) == "1.0"


def test_find_links_without_index(repo: dict[str, list], venv_factory: Callable[[str], Path],
                                  tmp_path: Path) -> None:
    links = tmp_path / "links"
    links.mkdir()
    for f in repo["simple"][:2]:
        (links / f.path.name).write_bytes(f.path.read_bytes())
    python = venv_factory("3.9")
    with Installer(Config(index_urls=(), find_links=(str(links),))) as inst:
        result = inst.install(["simple"], Target.from_python(python))
    assert result.installed == (("simple", "2.0"),)


def test_file_index_and_redirects(index: IndexServer, tmp_path: Path,
                                  venv_factory: Callable[[str], Path]) -> None:
    target = Target.from_python(venv_factory("3.13"))
    redirecting = index.url.replace("/simple/", "/redirect/simple/")
    with Installer(Config(index_urls=(redirecting,), retries=0)) as inst:
        assert inst.install(["simple<3"], target).installed == (("simple", "2.0"),)
    # a file:// index laid out as <root>/<project>/index.html
    root = tmp_path / "fileindex"
    (root / "lib").mkdir(parents=True)
    (root / "lib" / "index.html").write_text(
        "".join(f'<a href="{f.path.as_uri()}">{f.path.name}</a>' for f in index.projects["lib"]))
    with Installer(Config(index_urls=(root.as_uri(),))) as inst:
        assert str(inst.resolve(["lib"], target).pins["lib"].version) == "1.1"


def test_target_directory_prefix_and_root(index: IndexServer, tmp_path: Path,
                                          venv_factory: Callable[[str], Path]) -> None:
    python = venv_factory("3.13")
    with Installer(config_for(index)) as inst:
        inst.install(["app"], Target.directory(tmp_path / "plugins", python=python))
        assert (tmp_path / "plugins" / "app" / "__init__.py").exists()
        assert (tmp_path / "plugins" / "bin" / "app-run").exists()
        inst.install(["simple<3"], Target.from_python(python, prefix=tmp_path / "prefix"))
        assert list((tmp_path / "prefix").glob("lib/python3.13/site-packages/simple/__init__.py"))
        inst.install(["simple<3"], Target.from_python(python, root=tmp_path / "root"))
    rooted = list((tmp_path / "root").rglob("simple-2.0.dist-info"))
    assert len(rooted) == 1 and str(python.parent.parent).lstrip("/") in str(rooted[0])
    # nothing went into the venv itself
    assert run_in(python, "import importlib.util as u; print(u.find_spec('simple'))") == "None"
    out = run_in(python, f"import sys; sys.path.insert(0, {str(tmp_path / 'plugins')!r}); "
                         "import app, lib; print(lib.VERSION)")
    assert out == "1.1"


def test_direct_wheel_path_records_direct_url(repo: dict[str, list],
                                              venv_factory: Callable[[str], Path]) -> None:
    python = venv_factory("3.13")
    wheel = repo["helper"][0].path
    with Installer(Config(index_urls=())) as inst:
        result = inst.install([str(wheel)], Target.from_python(python))
    assert result.installed == (("helper", "1.0"),)
    direct = json.loads((site_packages(python) / "helper-1.0.dist-info" /
                         "direct_url.json").read_text())
    assert direct["url"] == wheel.as_uri()
    # the hash of what was installed, as pip records it
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert direct["archive_info"]["hashes"] == {"sha256": digest}
    assert pip(python, "check").returncode == 0


def test_module_level_install(index: IndexServer, venv_factory: Callable[[str], Path]) -> None:
    python = venv_factory("3.9")
    result = pyinst.install(["simple<3"], python=python, config=config_for(index))
    assert result.installed == (("simple", "2.0"),)


def test_uninstall_refuses_a_record_pointing_outside_the_target(
    index: IndexServer, venv_factory: Callable[[str], Path], tmp_path: Path
) -> None:
    python = venv_factory("3.13")
    target = Target.from_python(python)
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me\n")
    with Installer(config_for(index)) as inst:
        inst.install(["simple==1.0"], target)
        record = site_packages(python) / "simple-1.0.dist-info" / "RECORD"
        rel = Path("../" * 10 + str(outside).lstrip("/"))
        record.write_text(record.read_text() + f"{rel},,\n")
        before = tree_snapshot(python.parent.parent)
        with pytest.raises(pyinst.PyinstError, match="outside the target"):
            inst.install(["simple==2.0"], target)
    assert outside.read_text() == "keep me\n"
    assert tree_snapshot(python.parent.parent) == before


def test_a_distribution_that_cannot_be_moved_aside_is_one_error_and_is_kept(
    index: IndexServer, venv_factory: Callable[[str], Path], tmp_path: Path
) -> None:
    # on a read-only target moving the old files aside fails (an OSError out of an
    # uninstall, or of an upgrade's removal, before: a traceback); a journal that cannot
    # be written stands in for the read-only filesystem here
    from pyinst.installed import installed_distributions, remove_distribution
    from pyinst.transaction import Transaction

    python = venv_factory("3.13")
    target = Target.from_python(python)
    with Installer(config_for(index)) as inst:
        inst.install(["simple==1.0"], target)
    before = tree_snapshot(python.parent.parent)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    site = str(site_packages(python))
    tx = Transaction(site, roots=tuple(target.scheme.values()),
                     journal=str(blocker / "journal.jsonl"))
    with pytest.raises(pyinst.PyinstError, match=r"^removing 'simple' 1\.0 failed: .*; "
                                                 "the target was restored$"):
        remove_distribution(installed_distributions(target)["simple"], target, tx)
    tx.rollback()
    assert tree_snapshot(python.parent.parent) == before
    run_in(python, "import simple")


@pytest.mark.parametrize("mode", ["hardlink", "copy", "symlink"])
def test_link_modes_from_the_unpacked_cache(index: IndexServer, venv_factory: Callable[[str], Path],
                                            tmp_path: Path, mode: str) -> None:
    python = venv_factory("3.13")
    cfg = config_for(index, cache_dir=tmp_path / "cache", link_mode=mode)
    with Installer(cfg) as inst:
        inst.install(["app"], Target.from_python(python))
    installed = site_packages(python) / "lib" / "__init__.py"
    (cached,) = (tmp_path / "cache" / "unpacked").rglob("purelib/lib/__init__.py")
    if mode == "hardlink":
        assert installed.stat().st_ino == cached.stat().st_ino
    elif mode == "copy":
        assert installed.stat().st_ino != cached.stat().st_ino and installed.stat().st_nlink == 1
    else:
        assert installed.is_symlink() and installed.resolve() == cached.resolve()
    assert run_in(python, "import lib; print(lib.VERSION)") == "1.1"
    assert pip(python, "check").returncode == 0
    # RECORD lists exactly what is on disk, with the right hashes
    record = (site_packages(python) / "lib-1.1.dist-info" / "RECORD").read_text().splitlines()
    assert any(line.startswith("lib/__init__.py,sha256=") for line in record)
    gone = pip(python, "uninstall", "-y", "app", "lib")
    assert gone.returncode == 0 and list(site_packages(python).iterdir()) == []
    assert cached.exists()  # uninstalling never reaches into the cache


@pytest.mark.parametrize("minor", ["3.9", "3.13"])
def test_compile_bytecode_with_the_target_interpreter(
    index: IndexServer, venv_factory: Callable[[str], Path], minor: str
) -> None:
    python = venv_factory(minor)
    with Installer(config_for(index, compile_bytecode=True)) as inst:
        inst.install(["app"], Target.from_python(python))
    tag = "cpython-" + minor.replace(".", "")
    pyc = site_packages(python) / "lib" / "__pycache__" / f"__init__.{tag}.pyc"
    assert pyc.exists()
    # pip's uninstall removes the bytecode too, leaving nothing behind
    assert pip(python, "uninstall", "-y", "app", "lib").returncode == 0
    assert list(site_packages(python).iterdir()) == []



def test_bytecode_compiles_with_one_process_per_core_at_most(
    tmp_path: Path, make_index: Callable[..., IndexServer], venv_factory: Callable[[str], Path]
) -> None:
    """However many workers the config allows (downloads), compiling starts at most one
    target interpreter per core: more only share the cores, each holding its memory."""
    cores = len(os.sched_getaffinity(0))
    modules = {f"many/m{i}.py": f"X = {i}\n" for i in range(200 * cores + 1)}  # > 1 chunk/core
    wheel = build_wheel(WheelSpec("many", "1.0", files=modules), tmp_path / "wheels")
    index = make_index({"many": [IndexFile(wheel)]})
    python = venv_factory("3.13")
    target = Target.from_python(python)
    # the target's interpreter, through a script that counts the compiling runs
    log = tmp_path / "compile-runs.log"
    counting = tmp_path / "counting-python"
    counting.write_text(f'#!/bin/sh\ncase "$*" in *py_compile*) echo run >> "{log}";; esac\n'
                        f'exec "{target.python}" "$@"\n')
    counting.chmod(0o755)
    target = dataclasses.replace(
        target, interpreter=dataclasses.replace(target.interpreter, executable=str(counting)))
    with Installer(config_for(index, compile_bytecode=True, max_workers=8)) as inst:
        inst.install(["many"], target)
    assert log.read_text().split() == ["run"] * min(cores, 8)
    tag = "cpython-313"
    compiled = (site_packages(python) / "many" / "__pycache__").glob(f"*.{tag}.pyc")
    assert sorted(p.name for p in compiled) == sorted(
        [f"{Path(m).stem}.{tag}.pyc" for m in modules] + [f"__init__.{tag}.pyc"])

def _warm_cache(index: IndexServer, venv_factory: Callable[[str], Path],
                tmp_path: Path) -> Config:
    """A config whose cache (under ``tmp_path``) holds app and lib, unpacked by an
    install into a venv of its own."""
    cfg = config_for(index, cache_dir=tmp_path / "cache")
    with Installer(cfg) as inst:
        inst.install(["app"], Target.from_python(venv_factory("3.13")))
    return cfg


def test_a_warm_install_never_reads_the_wheel_again(
    index: IndexServer, venv_factory: Callable[[str], Path], tmp_path: Path
) -> None:
    cfg = _warm_cache(index, venv_factory, tmp_path)
    for wheel in (tmp_path / "cache" / "wheels").rglob("*.whl"):
        wheel.unlink()  # only the verified, unpacked trees remain
    downloads = len([r for r in index.requests if r.endswith(".whl")])
    python = venv_factory("3.9")
    with Installer(cfg) as inst:
        result = inst.install(["app"], Target.from_python(python))
    assert sorted(result.installed) == [("app", "1.0"), ("lib", "1.1")]
    assert len([r for r in index.requests if r.endswith(".whl")]) == downloads
    assert run_in(python, "import app, lib; print(lib.VERSION)") == "1.1"
    assert pip(python, "check").returncode == 0


@pytest.mark.parametrize("damage", ['{"format": 1}', "not json", '{"format": 1, '
                                    '"dist_info": "x", "root_scheme": "purelib", '
                                    '"files": [["purelib", "a.py"]], "scripts": []}',
                                    '{"format": 2, "dist_info": "x", "root_scheme": "purelib", '
                                    '"schemes": {"purelib": {"paths": ["a.py"], "record": "", '
                                    '"executable": []}}, "scripts": [], "tops": []}'],
                         ids=["missing-keys", "not-json", "short-rows", "rows-not-paths"])
def test_a_damaged_manifest_in_the_cache_is_made_again(
    index: IndexServer, venv_factory: Callable[[str], Path], tmp_path: Path, damage: str
) -> None:
    cfg = _warm_cache(index, venv_factory, tmp_path)
    manifests = list((tmp_path / "cache" / "unpacked").rglob("pyinst-manifest.json"))
    assert len(manifests) == 2
    for m in manifests:
        m.write_text(damage)
    python = venv_factory("3.13")
    with Installer(cfg) as inst:
        result = inst.install(["app"], Target.from_python(python))
    assert sorted(result.installed) == [("app", "1.0"), ("lib", "1.1")]
    assert run_in(python, "import app, lib; print(lib.VERSION)") == "1.1"
    assert all(m.read_text() != damage for m in manifests)


def test_manifests_of_the_first_format_still_install_and_are_rewritten(
    index: IndexServer, venv_factory: Callable[[str], Path], tmp_path: Path
) -> None:
    from pyinst.unpacked import UnpackedWheel

    cfg = _warm_cache(index, venv_factory, tmp_path)
    manifests = list((tmp_path / "cache" / "unpacked").rglob("pyinst-manifest.json"))
    today = {m: m.read_text() for m in manifests}
    for m in manifests:  # as pyinst wrote them before manifests were kept by column
        u = UnpackedWheel.from_json(m.parent, json.loads(today[m]))
        m.write_text(json.dumps({"format": 1, "dist_info": u.dist_info,
                                 "root_scheme": u.root_scheme,
                                 "files": [list(f) for f in u.files],
                                 "scripts": [list(x) for x in u.scripts]}))
    for wheel in (tmp_path / "cache" / "wheels").rglob("*.whl"):
        wheel.unlink()  # so the old entries themselves are what gets installed
    python = venv_factory("3.9")
    with Installer(cfg) as inst:
        result = inst.install(["app"], Target.from_python(python))
    assert sorted(result.installed) == [("app", "1.0"), ("lib", "1.1")]
    assert run_in(python, "import app, lib; print(lib.VERSION)") == "1.1"
    assert pip(python, "check").returncode == 0
    assert {m: m.read_text() for m in manifests} == today  # in today's form again
    assert pip(python, "uninstall", "-y", "app", "lib").returncode == 0
    assert [p for p in site_packages(python).iterdir() if p.name != "__pycache__"] == []


@pytest.mark.parametrize("ranges", [True, False], ids=["ranges", "no-ranges"])
def test_metadata_by_range_requests_without_sidecars(
    make_index: Callable[..., IndexServer], venv_factory: Callable[[str], Path], ranges: bool
) -> None:
    index = make_index(sidecars=False)
    index.ranges = ranges
    python = venv_factory("3.13")
    with Installer(config_for(index)) as inst:
        resolution = inst.resolve(["app[extra]"], Target.from_python(python))
        assert sorted(resolution.pins) == ["app", "helper", "lib"]
        full = [r for r in index.requests if r.endswith(".whl")
                and (r, "") not in [(p, "") for p, _ in index.range_requests]]
        if ranges:
            assert index.range_requests and not full  # no whole wheel was downloaded
        else:
            assert len(full) == 3  # the server ignores ranges: whole wheels, then
        result = inst.install(["app[extra]"], Target.from_python(python))
    assert sorted(result.installed) == [("app", "1.0"), ("helper", "1.0"), ("lib", "1.1")]
    assert run_in(python, "import app, helper, lib; print(lib.VERSION)") == "1.1"


@pytest.mark.parametrize("sidecars", [True, False])
def test_resolution_fetches_the_metadata_it_will_need_side_by_side(
        make_index: Callable[..., IndexServer], tmp_path: Path,
        venv_factory: Callable[[str], Path], sidecars: bool) -> None:
    """While the resolver works, the metadata of the versions it will most likely pick
    (the newest each requirement admits) is fetched in the background: both halves of a
    fork are asked for before either is answered (the server holds each answer until
    both are asked for; a resolver fetching one at a time would wait out the server).
    Without PEP 658 files, the same with a few ranges of each wheel. Nothing is fetched
    twice for being asked for by the resolver and the look-ahead at once."""
    dist = tmp_path / "dist"
    projects = {"app": [IndexFile(build_wheel(WheelSpec("app", "1.0",
                                                         requires=("left", "right")), dist))]}
    for name in ("left", "right"):
        projects[name] = [IndexFile(build_wheel(WheelSpec(name, v), dist))
                          for v in ("1.0", "2.0")]
    index = make_index(projects, sidecars=sidecars)
    suffix = ".metadata" if sidecars else ""
    index.gate = {f"left-2.0-py3-none-any.whl{suffix}", f"right-2.0-py3-none-any.whl{suffix}"}
    with Installer(config_for(index)) as inst:
        resolution = inst.resolve(["app"], Target.from_python(venv_factory("3.12")))
    assert {n: str(p.version) for n, p in resolution.pins.items()} == {
        "app": "1.0", "left": "2.0", "right": "2.0"}
    assert not index.gate_timed_out
    if sidecars:
        metadata = [r for r in index.requests if r.endswith(".metadata")]
        assert sorted(metadata) == sorted(set(metadata)) and len(metadata) == 3, metadata
    else:
        assert not [r for r in index.requests  # ranges only, never a whole wheel
                    if r.endswith(".whl") and r not in {p for p, _ in index.range_requests}]


def test_looking_ahead_stops_when_the_resolution_does(
        make_index: Callable[..., IndexServer], tmp_path: Path,
        venv_factory: Callable[[str], Path]) -> None:
    """A resolution that fails leaves no guessing running on in an Installer that lives
    on: what the look-ahead had in hand when the call ended goes no further (here the
    server holds zzz's metadata until the failed call has returned; zzz's dependency
    is then never asked for)."""
    import time
    import urllib.error
    import urllib.request

    dist = tmp_path / "dist"
    projects = {
        "app": [IndexFile(build_wheel(WheelSpec("app", "1.0", requires=("aaa-missing", "zzz")),
                                      dist))],
        "zzz": [IndexFile(build_wheel(WheelSpec("zzz", "1.0", requires=("deep",)), dist))],
        "deep": [IndexFile(build_wheel(WheelSpec("deep", "1.0"), dist))],
    }
    index = make_index(projects)
    index.gate = {"zzz-1.0-py3-none-any.whl.metadata", "release"}
    with Installer(config_for(index)) as inst:
        with pytest.raises(pyinst.PyinstError) as info:
            inst.resolve(["app"], Target.from_python(venv_factory("3.12")))
        assert "aaa-missing" in str(info.value)
        with pytest.raises(urllib.error.HTTPError):  # opens the gate (then a 404)
            urllib.request.urlopen(index.url.replace("/simple/", "/files/release"))
        deadline = time.monotonic() + 3  # the old behaviour shows within milliseconds
        while "/simple/deep/" not in index.requests and time.monotonic() < deadline:
            time.sleep(0.05)
    assert "/simple/deep/" not in index.requests
    assert not index.gate_timed_out


def test_wheels_sharing_a_path_install_in_order_and_pip_agrees(
        make_index: Callable[..., IndexServer], tmp_path: Path,
        venv_factory: Callable[[str], Path]) -> None:
    # Old-style namespace packages ship the same ns/__init__.py in several wheels; the
    # wheels are then installed one after another (the later wins), not side by side.
    shared = "__path__ = __import__('pkgutil').extend_path(__path__, __name__)\n"
    specs = [WheelSpec("ns-one", "1.0", files={"ns/__init__.py": shared, "ns/one.py": "A = 1\n"}),
             WheelSpec("ns-two", "1.0", files={"ns/__init__.py": shared, "ns/two.py": "B = 2\n"})]
    specs += [WheelSpec(f"filler{i}", "1.0") for i in range(4)]
    projects = {s.name: [IndexFile(build_wheel(s, tmp_path))] for s in specs}
    python = venv_factory("3.13")
    with Installer(config_for(make_index(projects))) as inst:
        result = inst.install([s.name for s in specs], Target.from_python(python))
    assert len(result.installed) == 6
    assert run_in(python, "import ns.one, ns.two; print(ns.one.A + ns.two.B)") == "3"
    assert pip(python, "check").returncode == 0
    assert pip(python, "uninstall", "-y", "ns-one", "ns-two").returncode == 0
    assert not (site_packages(python) / "ns").exists()


def test_a_failure_among_wheels_installed_side_by_side_restores_everything(
        index: IndexServer, venv_factory: Callable[[str], Path]) -> None:
    python = venv_factory("3.13")
    target = Target.from_python(python)
    with Installer(config_for(index, max_workers=4)) as inst:
        inst.install(["blocker"], target)
        before = tree_snapshot(python.parent.parent)
        with pytest.raises(pyinst.InstallError) as info:
            # five wheels on four threads; simple 3.0 collides with blocker's directory
            inst.install(["simple==3.0", "app[extra]", "shared", "yanky"], target)
    assert "simple" in str(info.value)
    assert tree_snapshot(python.parent.parent) == before
    # no directory left behind either (the snapshot sees only files)
    assert sorted(p.name for p in site_packages(python).iterdir()
                  if not p.name.startswith("_")) == ["blockdir", "blocker",
                                                     "blocker-1.0.dist-info"]


def test_a_missing_dependency_is_named_when_the_target_python_was_pinned_first(
        make_index: Callable[..., IndexServer], tmp_path: Path,
        venv_factory: Callable[[str], Path]) -> None:
    """Backjumping over the Python pseudo-candidate once made resolvelib re-pin it
    forever and give up after its round limit; the error must name what is missing."""
    from pyinst.errors import ProjectNotFound

    def wheel(*args: str, **kw: object) -> list[IndexFile]:
        return [IndexFile(build_wheel(WheelSpec(*args, **kw), tmp_path))]  # type: ignore[arg-type]

    server = make_index({
        "zzz": wheel("zzz", "1.0", requires=("ccc", "missing-one"), requires_python=">=3.8"),
        "ccc": wheel("ccc", "1.0", requires_python=">=3.8"),
    })
    with Installer(Config(index_urls=(server.url,), cache_dir=tmp_path / "c")) as inst, \
            pytest.raises(ProjectNotFound) as err:
        inst.resolve(["zzz", "ccc"], Target.from_python(venv_factory("3.12")))
    assert "missing-one" in str(err.value) and "zzz 1.0" in str(err.value)


def test_scripts_run_from_an_environment_whose_path_the_kernel_cannot_take(
        make_index: Callable[..., IndexServer], tmp_path: Path) -> None:
    """A venv path with a space, longer than a shebang line may be: console scripts and a
    wheel's own ``#!python`` script go through /bin/sh, as pip's and uv's do, and run."""
    import subprocess

    spec = WheelSpec("tooly", "1.0", files={
        "tooly/__init__.py": "def main():\n    print('tooly ran')\n",
        "tooly-1.0.data/scripts/tooly-legacy": "#!python\nprint('legacy ran')\n",
    }, console_scripts={"tooly-run": "tooly:main"})
    index = make_index({"tooly": [IndexFile(build_wheel(spec, tmp_path / "dist"))]})
    python = make_venv(tmp_path / ("a dir with spaces " + "x" * 120) / "venv", "3.12")
    with Installer(config_for(index)) as inst:
        inst.install(["tooly"], Target.from_python(python))
    for name, said in (("tooly-run", "tooly ran\n"), ("tooly-legacy", "legacy ran\n")):
        script = python.parent / name
        assert script.read_bytes().startswith(b"#!/bin/sh\n")
        run = subprocess.run([str(script)], capture_output=True, text=True, check=False)
        assert (run.returncode, run.stdout) == (0, said), run.stderr


def test_a_wheels_own_script_wins_over_an_entry_point_of_its_name(
        make_index: Callable[..., IndexServer], tmp_path: Path) -> None:
    """A wheel that ships a script and declares an entry point of the same name gets its
    own script (as before: the generated one is written first), listed once in RECORD
    with the hash of what is there; pip uninstalls it all."""
    import base64
    import csv

    spec = WheelSpec("tooly", "1.0", files={
        "tooly/__init__.py": "def main():\n    print('entry point')\n",
        "tooly-1.0.data/scripts/tooly-run": "#!python\nprint('own script')\n",
    }, console_scripts={"tooly-run": "tooly:main"})
    index = make_index({"tooly": [IndexFile(build_wheel(spec, tmp_path / "dist"))]})
    python = make_venv(tmp_path / "venv", "3.12")
    with Installer(config_for(index)) as inst:
        inst.install(["tooly"], Target.from_python(python))
    script = python.parent / "tooly-run"
    assert script.read_bytes().endswith(b"print('own script')\n")
    record = site_packages(python) / "tooly-1.0.dist-info" / "RECORD"
    rows = [r for r in csv.reader(record.read_text().splitlines())
            if r[0].endswith("/tooly-run")]
    digest = hashlib.sha256(script.read_bytes()).digest()
    assert [(r[1], r[2]) for r in rows] == [
        ("sha256=" + base64.urlsafe_b64encode(digest).decode().rstrip("="),
         str(len(script.read_bytes())))]
    if pip(python, "--version").returncode == 0:
        assert pip(python, "uninstall", "-y", "tooly").returncode == 0
        assert not script.exists()


def test_a_wheels_data_directory_goes_to_each_scheme(
        make_index: Callable[..., IndexServer], tmp_path: Path) -> None:
    """PEP 427's layout, as pyinst reads it itself: ``<name>-<version>.data/<scheme>/``
    (here spelled as the project is, not as the .dist-info directory is) goes to that
    scheme of the target, the rest to purelib; console and GUI entry points both become
    scripts. The target's Python sees it all, and pip uninstalls every file by RECORD."""
    spec = WheelSpec("tooly", "1.0", files={
        "tooly/__init__.py": "def main():\n    print('tooly ran')\n",
        "Tooly-1.0.data/purelib/tooly_pure.py": "WHERE = 'purelib'\n",
        "Tooly-1.0.data/platlib/tooly_plat.py": "WHERE = 'platlib'\n",
        "Tooly-1.0.data/data/share/tooly/notes.txt": "shared data\n",
        "Tooly-1.0.data/headers/tooly.h": "#define TOOLY 1\n",
        "Tooly-1.0.data/scripts/tooly-legacy": "#!python\nprint('legacy ran')\n",
        "tooly-1.0.dist-info/entry_points.txt":
            "[console_scripts]\ntooly-run = tooly:main\n[gui_scripts]\ntooly-gui = tooly:main\n",
    })
    index = make_index({"tooly": [IndexFile(build_wheel(spec, tmp_path / "dist"))]})
    python = make_venv(tmp_path / "venv", "3.12")
    target = Target.from_python(python)
    with Installer(config_for(index)) as inst:
        inst.install(["tooly"], target)
    scheme = {k: Path(v) for k, v in target.scheme.items()}
    assert (scheme["data"] / "share" / "tooly" / "notes.txt").read_text() == "shared data\n"
    assert list(scheme["headers"].glob("tooly.h")), scheme["headers"]
    assert run_in(python, "import tooly_pure, tooly_plat; "
                          "print(tooly_pure.WHERE, tooly_plat.WHERE)") == "purelib platlib"
    for name in ("tooly-run", "tooly-gui", "tooly-legacy"):
        assert (scheme["scripts"] / name).stat().st_mode & 0o111, name
    assert not list(Path(target.scheme["purelib"]).glob("*.data"))
    if pip(python, "--version").returncode == 0:
        assert pip(python, "uninstall", "-y", "tooly").returncode == 0
        assert not (scheme["data"] / "share" / "tooly" / "notes.txt").exists()
        assert not (scheme["scripts"] / "tooly-gui").exists()


def test_the_archive_root_goes_where_wheel_says(tmp_path: Path) -> None:
    """``Root-Is-Purelib: false`` puts the archive's root in platlib (they differ on
    some systems), ``true`` in purelib."""
    from packaging.utils import canonicalize_name
    from packaging.version import Version

    from pyinst.models import Pin
    from pyinst.unpack import unpack

    for tag, scheme in (("py3-none-any", "purelib"), ("py3-none-linux_x86_64", "platlib")):
        wheel = build_wheel(WheelSpec("tooly", "1.0", tag=tag), tmp_path / tag)
        pin = Pin(canonicalize_name("tooly"), Version("1.0"), None)
        unpacked = unpack(pin, wheel, tmp_path / "cache")
        assert unpacked.root_scheme == scheme
        assert [g.scheme for g in unpacked.groups] == [scheme]
        assert (unpacked.root / scheme / "tooly" / "__init__.py").is_file()


def test_linking_never_asks_to_make_the_targets_existing_directories(
        index: IndexServer, venv_factory: Callable[[str], Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """site-packages (and its parents, below the data scheme's root) are known before the
    linking threads start: no thread asks for them again (a failed mkdir per wheel per
    level, ~1 ms each on a busy disk)."""
    import os
    import sys

    python = venv_factory("3.12")
    target = Target.from_python(python)
    real_mkdir = os.mkdir
    again: list[str] = []

    def mkdir(path: str, *args: object, **kwargs: object) -> None:
        if sys._getframe(1).f_code.co_name in ("ensure_dir", "_ensure_dirs") \
                and os.path.isdir(path):
            again.append(os.fspath(path))
        real_mkdir(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "mkdir", mkdir)
    with Installer(config_for(index, max_workers=4)) as inst:
        result = inst.install(["app[extra]"], target)
    assert len(result.installed) == 3
    assert again == []
    assert run_in(python, "import app, lib, helper; print('ok')") == "ok"


def test_a_wheels_own_bytecode_is_left_out_quietly(
    tmp_path: Path, make_index: Callable[..., IndexServer], venv_factory: Callable[[str], Path]
) -> None:
    """Bytecode a wheel carries in ``__pycache__`` (listed in its RECORD) is not
    installed, the wheel is not refused for it, and nothing is printed about it."""
    wheel = build_wheel(WheelSpec("withpyc", "1.0", files={
        "withpyc/__init__.py": "X = 1\n",
        "withpyc/__pycache__/__init__.cpython-313.pyc": "stale bytes",
    }), tmp_path / "wheels")
    index = make_index({"withpyc": [IndexFile(wheel)]})
    python = venv_factory("3.13")
    done = run_cli("install", "-q", "-p", str(python), "-i", index.url, "--no-cache", "withpyc")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    site = site_packages(python)
    assert not (site / "withpyc" / "__pycache__").exists()
    assert "__pycache__" not in (site / "withpyc-1.0.dist-info" / "RECORD").read_text()
    assert run_in(python, "import withpyc; print(withpyc.X)") == "1"
    assert pip(python, "uninstall", "-y", "withpyc").returncode == 0
    assert list(site.iterdir()) == []
