"""pyinst itself on its oldest supported Python (3.9, where installer 0.7 is what pip picks)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Callable

import pytest

from helpers import IndexServer, run_cli, run_in

pytestmark = pytest.mark.network

SRC = Path(__file__).resolve().parents[2] / "src"


def test_pyinst_runs_on_python_39_and_installs_into_38(
    index: IndexServer, venv_factory: Callable[[str], Path], tmp_path: Path
) -> None:
    host = venv_factory("3.9")
    # pyinst provisions its own dependencies for 3.9 from the public index...
    proc = run_cli("install", "-p", str(host), "--cache-dir", str(tmp_path / "cache"),
                   "packaging>=26.1", "resolvelib", "httpx", "installer")
    assert proc.returncode == 0, proc.stderr
    assert run_in(host, "import installer; print(installer.__version__)").startswith("0.")
    # ...then runs from source on 3.9 and installs into a 3.8 environment.
    target = venv_factory("3.8")
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["PYTHONPATH"] = str(SRC)
    run = subprocess.run([str(host), "-m", "pyinst", "install", "-p", str(target), "-i", index.url,
                          "--no-cache", "app[extra]"], capture_output=True, text=True, env=env,
                         check=False)
    assert run.returncode == 0, run.stderr
    assert " + app==1.0" in run.stdout
    assert run_in(target, "import app, lib, helper; import sys; print(sys.version_info[:2])") == "(3, 8)"
