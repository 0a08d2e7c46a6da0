"""A few installs from the real public index (needs access to the package registry)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

from helpers import pip, run_cli, run_in

pytestmark = pytest.mark.network


def test_install_rich_from_the_public_index(venv_factory: Callable[[str], Path],
                                            tmp_path: Path) -> None:
    python = venv_factory("3.12")
    proc = run_cli("install", "-p", str(python), "--cache-dir", str(tmp_path / "cache"), "rich")
    assert proc.returncode == 0, proc.stderr
    assert " + rich==" in proc.stdout and " + pygments==" in proc.stdout
    out = run_in(python, "import rich, importlib.metadata as m; "
                         "from rich.console import Console; print(m.version('rich'))")
    assert out and out[0].isdigit()
    assert pip(python, "check").returncode == 0
    script = python.parent / "pygmentize"
    assert subprocess.run([str(script), "-V"], capture_output=True, check=False).returncode == 0
    assert sys.executable  # pyinst itself ran under a different interpreter


@pytest.mark.parametrize(("minor", "newest"), [("3.8", "25.0.1"), ("3.13", None)])
def test_bootstrap_pip_from_the_public_index(minor: str, newest: str | None,
                                             venv_factory: Callable[[str], Path],
                                             tmp_path: Path) -> None:
    # pip 25.0.1 is the last release that supports 3.8; 3.13 gets the newest there is
    python = venv_factory(minor)
    proc = run_cli("bootstrap", "-p", str(python), "--cache-dir", str(tmp_path / "cache"))
    assert proc.returncode == 0, proc.stderr
    version = run_in(python, "import pip; print(pip.__version__)")
    if newest is not None:
        assert version == newest
    else:
        assert int(version.split(".")[0]) >= 25
    done = subprocess.run([str(python.parent / "pip"), "--version"], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0 and done.stdout.startswith(f"pip {version} ")
