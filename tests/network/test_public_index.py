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
