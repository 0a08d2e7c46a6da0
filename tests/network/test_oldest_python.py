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


def _dependencies() -> list[str]:
    """pyinst's own dependencies, as its pyproject.toml declares them."""
    import sys

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - depends on the running Python
        import tomli as tomllib
    data = tomllib.loads((SRC.parent / "pyproject.toml").read_text(encoding="utf-8"))
    return list(data["project"]["dependencies"])


def test_pyinst_runs_on_python_39_and_installs_into_38(
    index: IndexServer, venv_factory: Callable[[str], Path], tmp_path: Path
) -> None:
    host = venv_factory("3.9")
    # pyinst provisions its own dependencies for 3.9 from the public index...
    proc = run_cli("install", "-p", str(host), "--cache-dir", str(tmp_path / "cache"),
                   *_dependencies())
    assert proc.returncode == 0, proc.stderr
    assert run_in(host, "import installer; print(installer.__version__)").startswith("0.")
    # ...then runs from source on 3.9 and installs into a 3.8 environment.
    target = venv_factory("3.8")
    env = {k: v for k, v in os.environ.items()
           if k != "VIRTUAL_ENV" and not k.startswith("PYINST_")}
    env["PYTHONPATH"] = str(SRC)
    env["PYINST_CONFIG_FILE"] = os.devnull
    run = subprocess.run([str(host), "-m", "pyinst", "install", "-p", str(target), "-i", index.url,
                          "--no-cache", "app[extra]"], capture_output=True, text=True, env=env,
                         check=False)
    assert run.returncode == 0, run.stderr
    assert " + app==1.0" in run.stdout
    assert run_in(target, "import app, lib, helper; import sys; print(sys.version_info[:2])") == "(3, 8)"
