"""A fault-injecting loopback index: spoiled answers are retried, and when they persist
the install stops with one clear line and changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

import pyinst
from pyinst import Config, Installer, Target

from helpers import IndexFile, IndexServer, WheelSpec, build_wheel, run_cli, tree_snapshot


@pytest.fixture
def five(tmp_path: Path, make_index: Callable[..., IndexServer]) -> IndexServer:
    names = ["one", "two", "three", "four", "five"]
    wheels = {n: build_wheel(WheelSpec(n, "1.0"), tmp_path / "w") for n in names}
    return make_index({n: [IndexFile(w)] for n, w in wheels.items()}, sidecars=True)


def _config(index: IndexServer, tmp_path: Path, retries: int = 2) -> Config:
    return Config(index_urls=(index.url,), cache_dir=tmp_path / "cache", retries=retries,
                  retry_backoff=0.01, timeout=5)


@pytest.mark.parametrize("fault", ["truncate", "reset", "lie", "500", "503"])
def test_a_spoiled_download_is_retried_and_then_verified(
        fault: str, five: IndexServer, tmp_path: Path,
        venv_factory: Callable[[str], Path]) -> None:
    five.faults["three-1.0-py3-none-any.whl"] = [fault]  # once
    python = venv_factory("3.12")
    with Installer(_config(five, tmp_path)) as inst:
        result = inst.install(["one", "two", "three", "four", "five"],
                              Target.from_python(python))
    assert len(result.installed) == 5
    gets = [p for p in five.requests if p.endswith("three-1.0-py3-none-any.whl")]
    assert len(gets) >= 2  # spoiled once, fetched again


@pytest.mark.parametrize("fault", ["truncate", "reset", "lie", "503"])
def test_a_persistent_fault_stops_before_anything_is_written(
        fault: str, five: IndexServer, tmp_path: Path,
        venv_factory: Callable[[str], Path]) -> None:
    five.faults["three-1.0-py3-none-any.whl"] = [fault] * 10
    python = venv_factory("3.12")
    before = tree_snapshot(python.parent.parent)
    proc = run_cli("install", "-p", str(python), "-i", five.url, "--cache-dir",
                   str(tmp_path / "cache"), "one", "two", "three", "four", "five")
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "three" in lines[0] and "Traceback" not in proc.stderr
    assert tree_snapshot(python.parent.parent) == before


def test_a_hash_mismatch_on_the_third_of_five_installs_nothing(
        tmp_path: Path, make_index: Callable[..., IndexServer],
        venv_factory: Callable[[str], Path]) -> None:
    names = ["one", "two", "three", "four", "five"]
    files = {n: IndexFile(build_wheel(WheelSpec(n, "1.0"), tmp_path / "w"),
                          stated_sha256="0" * 64 if n == "three" else None) for n in names}
    index = make_index({n: [f] for n, f in files.items()})
    python = venv_factory("3.12")
    before = tree_snapshot(python.parent.parent)
    with Installer(_config(index, tmp_path)) as inst, \
            pytest.raises(pyinst.HashMismatch) as info:
        inst.install(names, Target.from_python(python))
    assert "three" in str(info.value)
    assert tree_snapshot(python.parent.parent) == before


@pytest.mark.parametrize("status", [401, 403])
def test_an_auth_failure_on_the_first_index_stops_the_search(
        status: int, tmp_path: Path, make_index: Callable[..., IndexServer],
        venv_factory: Callable[[str], Path]) -> None:
    wheel = build_wheel(WheelSpec("private", "1.0"), tmp_path / "w")
    first = make_index({"private": [IndexFile(wheel)]})
    first.fail["private"] = status
    second = make_index({"private": [IndexFile(wheel)]})
    python = venv_factory("3.12")
    proc = run_cli("install", "-p", str(python), "-i", first.url, "--extra-index-url",
                   second.url, "--no-cache", "private")
    assert proc.returncode == 1 and f"HTTP {status}" in proc.stderr
    assert not [p for p in second.requests if p.startswith("/simple/private")]
    # a 404 there would have moved on
    first.fail["private"] = 404
    ok = run_cli("install", "-p", str(python), "-i", first.url, "--extra-index-url",
                 second.url, "--no-cache", "private")
    assert ok.returncode == 0, ok.stderr


def test_a_stalled_download_times_out_with_a_clear_error(
        five: IndexServer, tmp_path: Path, venv_factory: Callable[[str], Path]) -> None:
    five.faults["one-1.0-py3-none-any.whl"] = ["stall"] * 5  # longer than the timeout
    python = venv_factory("3.12")
    config = Config(index_urls=(five.url,), cache_dir=tmp_path / "cache", retries=1,
                    retry_backoff=0.01, timeout=0.3)
    before = tree_snapshot(python.parent.parent)
    with Installer(config) as inst, pytest.raises(pyinst.IndexFetchError) as info:
        inst.install(["one"], Target.from_python(python))
    assert "one" in str(info.value) and "time" in str(info.value).lower()
    assert tree_snapshot(python.parent.parent) == before


@pytest.mark.parametrize("fault", ["truncate", "lie"])
def test_a_large_download_spoiled_midway_is_fetched_again_whole(
        fault: str, tmp_path: Path, make_index: Callable[..., IndexServer],
        venv_factory: Callable[[str], Path]) -> None:
    # about 1.5 MB compressed: several of the batches a download is written and hashed
    # in, so the spoiled first try has written some of them before it fails
    import os

    blob = os.urandom(1_500_000).hex()
    wheel = build_wheel(WheelSpec("big", "1.0", files={"big/blob.txt": blob}), tmp_path / "w")
    assert wheel.stat().st_size > 1_200_000
    index = make_index({"big": [IndexFile(wheel)]})
    index.faults[wheel.name] = [fault]  # once
    python = venv_factory("3.12")
    with Installer(_config(index, tmp_path)) as inst:
        inst.install(["big"], Target.from_python(python))
    assert len([p for p in index.requests if p.endswith(wheel.name)]) == 2
    site = Path(Target.from_python(python).scheme["purelib"])
    assert (site / "big" / "blob.txt").read_text() == blob
