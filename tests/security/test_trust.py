"""Installs that would give untrusted input a say over the target: URLs an index
package points at, files another distribution owns."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

import pyinst
from pyinst import Config, Installer, Target

from helpers import IndexFile, IndexServer, WheelSpec, build_wheel, run_in, tree_snapshot


def config_for(index: IndexServer) -> Config:
    return Config(index_urls=(index.url,), retries=0)


def test_an_index_package_may_not_send_pyinst_to_a_url_the_user_did_not_name(
        make_index: Callable[..., IndexServer], repo: dict[str, list], tmp_path: Path,
        venv_factory: Callable[[str], Path]) -> None:
    target_wheel = repo["helper"][0].path
    url = target_wheel.as_uri()
    pointer = build_wheel(WheelSpec("pointer", "1.0", requires=(f"helper @ {url}",)),
                          tmp_path / "wheels")
    index = make_index({"pointer": [IndexFile(pointer)]})
    python = venv_factory("3.12")
    before = tree_snapshot(python.parent.parent)
    with Installer(config_for(index)) as inst:
        with pytest.raises(pyinst.PyinstError) as info:
            inst.install(["pointer"], Target.from_python(python))
        assert f"'pointer' 1.0 from an index depends on a direct reference (helper @ {url})" \
            in str(info.value)
        assert tree_snapshot(python.parent.parent) == before
        # named by the user, the same reference is followed
        done = inst.install(["pointer", f"helper @ {url}"], Target.from_python(python))
    assert sorted(done.installed) == [("helper", "1.0"), ("pointer", "1.0")]

def test_a_file_another_distribution_owns_is_a_conflict_unless_forced(
        make_index: Callable[..., IndexServer], tmp_path: Path,
        venv_factory: Callable[[str], Path]) -> None:
    wheels = tmp_path / "w"
    first = build_wheel(WheelSpec("claims", "1.0", files={"shared_thing.py": "OWNER = 1\n"}),
                        wheels)
    second = build_wheel(WheelSpec("also-claims", "1.0",
                                   files={"shared_thing.py": "OWNER = 2\n"}), wheels)
    index = make_index({"claims": [IndexFile(first)], "also-claims": [IndexFile(second)]})
    python = venv_factory("3.12")
    target = Target.from_python(python)
    with Installer(config_for(index)) as inst:
        inst.install(["claims"], target)
        before = tree_snapshot(python.parent.parent)
        with pytest.raises(pyinst.PyinstError) as info:
            inst.install(["also-claims"], target)
        assert "would overwrite" in str(info.value)
        assert "shared_thing.py, which belongs to 'claims' 1.0" in str(info.value)
        assert tree_snapshot(python.parent.parent) == before
        inst.install(["also-claims"], target, force_reinstall=True)
    assert run_in(python, "import shared_thing; print(shared_thing.OWNER)") == "2"

