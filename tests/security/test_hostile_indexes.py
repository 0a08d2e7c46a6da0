"""Hostile or broken indexes: what they say is checked against what they serve."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

import pyinst
from pyinst import Config, Installer, Target

from helpers import IndexFile, IndexServer, WheelSpec, build_wheel, tree_snapshot


def test_a_sidecar_that_is_not_the_wheels_metadata_is_refused(
        make_index: Callable[..., IndexServer], tmp_path: Path,
        venv_factory: Callable[[str], Path]) -> None:
    # the sidecar hides a dependency the wheel really has (or claims one it has not)
    wheel = build_wheel(WheelSpec("twofaced", "1.0", requires=("helper",)), tmp_path / "w")
    helper = build_wheel(WheelSpec("helper", "1.0"), tmp_path / "w")
    lie = b"Metadata-Version: 2.1\nName: twofaced\nVersion: 1.0\n"
    index = make_index({"twofaced": [IndexFile(wheel, sidecar=lie)],
                        "helper": [IndexFile(helper)]})
    python = venv_factory("3.12")
    before = tree_snapshot(python.parent.parent)
    with Installer(Config(index_urls=(index.url,), cache_dir=tmp_path / "c", retries=0)) \
            as inst, pytest.raises(pyinst.InvalidWheel) as info:
        inst.install(["twofaced"], Target.from_python(python))
    assert "the metadata the index gave for 'twofaced' 1.0 is not the metadata inside" \
        in str(info.value)
    assert tree_snapshot(python.parent.parent) == before
