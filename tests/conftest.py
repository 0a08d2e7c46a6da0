from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import contextlib

from helpers import IndexFile, IndexServer, WheelSpec, build_sdist, build_wheel, make_venv


def _standard_specs() -> list[tuple[WheelSpec, dict[str, Any]]]:
    S = WheelSpec
    return [
        (S("simple", "1.0", files={"simple/old_only.py": "X = 1\n"}), {}),
        (S("simple", "2.0"), {}),
        (S("lib", "1.0"), {}),
        (S("lib", "1.1"), {}),
        (S("lib", "2.0b1"), {}),
        (S("helper", "1.0"), {}),
        (S("app", "1.0", requires=("lib>=1.0", 'helper; extra == "extra"'), extras=("extra",),
           console_scripts={"app-run": "app:main"},
           files={"app/__init__.py": "def main():\n    print('app ran')\n"}), {}),
        (S("conflict-a", "1.0", requires=("shared<2",)), {}),
        (S("conflict-b", "1.0", requires=("shared>=2",)), {}),
        (S("shared", "1.0"), {}),
        (S("shared", "2.0"), {}),
        (S("native", "1.0", tag="cp39-cp39-linux_x86_64"), {}),
        (S("native", "1.0", tag="cp313-cp313-linux_x86_64"), {}),
        (S("yanky", "1.0"), {}),
        (S("yanky", "2.0"), {"yanked": "broken release"}),
        (S("newpy", "0.9"), {}),
        (S("newpy", "1.0", requires_python=">=3.12"), {"requires_python": ">=3.12"}),
        (S("onlywin", "1.0", tag="py3-none-win_amd64"), {}),
        (S("depmissing", "1.0", requires=("doesnotexist>=1",)), {}),
        (S("badrecord", "1.0", break_record=True), {}),
        (S("liar", "1.0", metadata_name="somethingelse"), {}),
        (S("badhash", "1.0"), {"stated_sha256": "0" * 64}),
        # simple 3.0 writes a file where 'blocker' has a directory: fails mid-install
        (S("simple", "3.0", files={"blockdir": "not a directory\n"}), {}),
        (S("blocker", "1.0", files={"blockdir/inner.py": "Y = 2\n"}), {}),
    ]


@pytest.fixture(scope="session")
def repo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[IndexFile]]:
    """The standard test projects, built once per test process."""
    out_dir = tmp_path_factory.mktemp("wheels")
    projects: dict[str, list[IndexFile]] = {}
    for spec, extra in _standard_specs():
        path = build_wheel(spec, out_dir)
        projects.setdefault(spec.name, []).append(IndexFile(path, **extra))
    projects["onlysdist"] = [IndexFile(build_sdist("onlysdist", "1.0", out_dir))]
    return projects


@pytest.fixture
def make_index(repo: dict[str, list[IndexFile]]) -> Iterator[Callable[..., IndexServer]]:
    servers: list[IndexServer] = []

    def factory(projects: dict[str, list[IndexFile]] | None = None, **kw: Any) -> IndexServer:
        server = IndexServer(repo if projects is None else projects, **kw)
        servers.append(server)
        return server

    yield factory
    for s in servers:
        s.close()


@pytest.fixture
def index(make_index: Callable[..., IndexServer]) -> IndexServer:
    return make_index()


@pytest.fixture
def venv_factory(tmp_path: Path) -> Callable[[str], Path]:
    counter = iter(range(1000))

    def factory(minor: str = "3.13") -> Path:
        return make_venv(tmp_path / f"venv-{minor}-{next(counter)}", minor)

    return factory


def _umask() -> str:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return line.split()[1]
    except OSError:
        pass
    return "?"


def _signal_handlers() -> dict[int, Any]:
    out = {}
    for sig in signal.valid_signals():
        with contextlib.suppress(ValueError, OSError):
            out[int(sig)] = signal.getsignal(sig)
    return out


def _foreign_modules() -> set[str]:
    """Imported modules that live outside this interpreter's own installation and this
    repository: i.e. modules imported from a target."""
    here = str(Path(__file__).resolve().parents[1])
    homes = (sys.prefix, sys.base_prefix, here)
    out = set()
    for name, mod in list(sys.modules.items()):
        f = getattr(mod, "__file__", None)
        if f and not os.path.abspath(f).startswith(homes):
            out.add(name)
    return out


def _process_state() -> dict[str, Any]:
    root = logging.getLogger()
    ours = logging.getLogger("pyinst")
    return {
        "cwd": os.getcwd(),
        "environ": {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"},
        "umask": _umask(),
        "sys.path": list(sys.path),
        "root handlers": list(root.handlers),
        "root level": root.level,
        "pyinst handlers": list(ours.handlers),
        "pyinst level": ours.level,
        "warnings filters": list(warnings.filters),
        "stdout": id(sys.stdout),
        "stderr": id(sys.stderr),
        "signal handlers": _signal_handlers(),
        "modules from targets": _foreign_modules(),
    }


@pytest.fixture(autouse=True)
def state_guard() -> Iterator[None]:
    """Fails the test if the library changed process-global state (or left threads)."""
    before = _process_state()
    threads_before = {t.ident for t in threading.enumerate()}
    yield
    after = _process_state()
    changed = [k for k in before if before[k] != after[k]]
    assert not changed, f"process state changed: {changed}"
    leftover = [t for t in threading.enumerate()
                if t.ident not in threads_before and t.is_alive()
                and not t.name.startswith("Thread-")]  # the test's own index servers
    assert not leftover, f"threads left running: {[t.name for t in leftover]}"
