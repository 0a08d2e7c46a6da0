"""Installing pip as just another wheel: ``ensurepip``'s meanings, none of its code.

ensurepip runs pip's own internals from a bundled wheel. pyinst installs the pip wheel
like any other and only decides what ensurepip decides: which wheel (the newest on the
index that the target admits, or offline the target's bundled one) and which console
scripts to write (``pipX.Y`` always, ``pipX`` unless ``altinstall``, ``pip`` with
``default_pip`` or in a virtual environment). Pure: the `Installer` does the work.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from .errors import TargetError, UsageError

if TYPE_CHECKING:
    from .apply import PreparedWheel
    from .target import Target

#: pip's own console scripts: pip, pip3, pip3.12 (the wheel names those of the Python
#: it was built on; ensurepip and pip's installer replace them, and so do we)
_PIP_SCRIPT = re.compile(r"pip(\d+(\.\d+)?)?")


def pip_requirement(version: str | None) -> str:
    """``pip`` with a ``--pip-version`` value: a bare version means exactly it."""
    if not version or not version.strip():
        return "pip"
    text = version.strip()
    try:
        return f"pip=={Version(text)}"
    except InvalidVersion:
        pass
    try:
        return f"pip{SpecifierSet(text)}"
    except InvalidSpecifier:
        raise UsageError(f"--pip-version {version!r} is neither a version nor a version "
                         "specifier (e.g. 24.2 or '>=24,<25')") from None


def script_names(target: Target, *, altinstall: bool, default_pip: bool) -> list[str]:
    """The pip commands ensurepip would make for ``target``'s interpreter."""
    if altinstall and default_pip:
        raise UsageError("--altinstall and --default-pip cannot be used together")
    major, minor = target.interpreter.version[:2]
    names = [f"pip{major}.{minor}"]
    if not altinstall:
        names.insert(0, f"pip{major}")
        # venv asks ensurepip for the unversioned command too
        if default_pip or target.interpreter.is_venv:
            names.insert(0, "pip")
    return names


def with_pip_scripts(wheel: PreparedWheel, names: list[str]) -> PreparedWheel:
    """``wheel`` (pip's) with its pip commands replaced by ``names``."""
    if wheel.pin.name != "pip":
        return wheel
    scripts = wheel.unpacked.scripts
    mine = [s for s in scripts if s[3] == "console" and _PIP_SCRIPT.fullmatch(s[0])]
    if not mine:
        return wheel
    entry = next((s for s in mine if s[0] == "pip"), mine[0])
    kept = [s for s in scripts if s not in mine]
    new = tuple(kept + [(n, entry[1], entry[2], entry[3]) for n in names])
    return dataclasses.replace(wheel, unpacked=dataclasses.replace(wheel.unpacked,
                                                                   scripts=new))


def create_venv(python: str | os.PathLike[str], path: str | os.PathLike[str], *,
                clear: bool = False, prompt: str | None = None,
                system_site_packages: bool = False, timeout: float = 120.0) -> Path:
    """Make a virtual environment at ``path`` with ``python``'s own ``venv`` module,
    without pip (`Installer.bootstrap` seeds it); returns the environment's interpreter."""
    cmd = [os.fspath(python), "-I", "-m", "venv", "--without-pip"]
    cmd += ["--clear"] if clear else []
    cmd += ["--system-site-packages"] if system_site_packages else []
    cmd += ["--prompt", prompt] if prompt else []
    cmd.append(os.path.abspath(os.fspath(path)))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise TargetError(f"cannot run {python} to create {path}: {exc}") from exc
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise TargetError(f"{python} could not create a virtual environment at {path}: "
                          f"{last}")
    for exe in (Path(path) / "bin" / "python", Path(path) / "Scripts" / "python.exe"):
        if exe.exists():
            return exe.absolute()
    raise TargetError(f"{python} made {path}, but it holds no interpreter")


__all__ = ["create_venv", "pip_requirement", "script_names", "with_pip_scripts"]
