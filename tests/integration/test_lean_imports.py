"""What each path imports: start-up and the paths that repeat (a remembered resolution,
a worker unpacking) load only what they use. Observed with ``-X importtime`` in a fresh
interpreter, which lists every module a process imports."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Callable

from helpers import IndexFile, IndexServer, WheelSpec, build_wheel, run_cli

#: what start-up never needs: the HTTP stack, the resolver, the terminal UI, the wheel
#: library, the email parser
HEAVY = ("httpx", "httpcore", "h11", "anyio", "resolvelib", "rich", "installer", "email",
         "packaging.metadata")


def _imported(stderr: str) -> set[str]:
    """Module names from ``-X importtime`` output."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                names.add(name)
    return names


def _heavy(names: set[str], also: Sequence[str] = ()) -> list[str]:
    return sorted(n for n in names for h in (*HEAVY, *also)
                  if n == h or n.startswith(h + "."))


def _python(code: str, *args: str) -> set[str]:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code, *args],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return _imported(proc.stderr)


def test_import_pyinst_and_version_are_lean() -> None:
    names = _python("import pyinst")
    assert "pyinst" in names and _heavy(names, ("packaging", "concurrent")) == []
    proc = run_cli("--version", env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert proc.returncode == 0 and proc.stdout.startswith("pyinst ")
    names = _imported(proc.stderr)
    assert "pyinst.cli" in names and _heavy(names) == []


def test_unpacking_a_wheel_imports_no_parser_it_does_not_use(tmp_path: Path) -> None:
    """What a worker process runs: unpacking reads a wheel's METADATA for its name and
    version only, so a worker never loads the email parser or the requirement and
    licence tables of packaging (memory every worker would hold)."""
    wheel = build_wheel(WheelSpec("plain", "1.0", requires=("dep>=1",),
                                  files={"plain/__init__.py": "X = 1\n"}), tmp_path / "w")
    code = ("import sys; from pathlib import Path; from pyinst.models import Pin;"
            "from pyinst.unpack import unpack; from packaging.version import Version;"
            "u = unpack(Pin('plain', Version('1.0'), None), Path(sys.argv[1]),"
            " Path(sys.argv[2])); assert any(f.path == 'plain/__init__.py' for f in u.files)")
    names = _python(code, str(wheel), str(tmp_path / "cache"))
    assert "pyinst.unpack" in names
    assert _heavy(names, ("packaging.requirements", "packaging.specifiers")) == []


def test_a_remembered_resolution_loads_neither_resolver_nor_http(
        make_index: Callable[..., IndexServer], tmp_path: Path,
        venv_factory: Callable[[str], Path]) -> None:
    server = make_index({
        "app": [IndexFile(build_wheel(WheelSpec("app", "1.0", requires=("lib",)),
                                      tmp_path / "w"))],
        "lib": [IndexFile(build_wheel(WheelSpec("lib", "1.0"), tmp_path / "w"))]})
    server.page_headers = {"Cache-Control": "max-age=600"}
    python = venv_factory("3.12")
    args = ("install", "--dry-run", "-p", str(python), "-i", server.url,
            "--cache-dir", str(tmp_path / "cache"), "app")
    first = run_cli(*args, env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert first.returncode == 0, first.stderr[-2000:]
    assert {"resolvelib", "httpx"} <= _imported(first.stderr)  # it really resolved
    again = run_cli(*args, env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert again.returncode == 0, again.stderr[-2000:]
    assert "+ app==1.0" in again.stdout and "+ lib==1.0" in again.stdout
    assert _heavy(_imported(again.stderr), ("html",)) == []  # nor the page parser's tables
