"""Where to install: a target interpreter's scheme, wheel tags and marker environment.

`Target.from_python()` asks the target interpreter itself (one subprocess) for its
facts, so pyinst running on 3.11 picks the cp39 wheels for a 3.9 environment.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.tags import Tag, compatible_tags, cpython_tags, generic_tags, mac_platforms
from packaging.version import Version

from .envlock import EnvironmentLock
from .errors import TargetError

SCHEME_KEYS = ("purelib", "platlib", "headers", "scripts", "data")
_PROBE = Path(__file__).with_name("_target_probe.py")
#: what `Interpreter.from_probe` and `Target` read from a probe's answer
_PROBE_KEYS = frozenset({"executable", "version", "implementation", "prefix", "base_prefix",
                         "markers", "platform", "maxsize_64", "libc", "gil_disabled",
                         "py_debug", "paths", "user_paths"})
_LEGACY_MANYLINUX = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}


@dataclass(frozen=True)
class Interpreter:
    """Facts about one Python interpreter, as it reported them."""

    executable: str
    version: tuple[int, int, int]
    implementation: str
    prefix: str
    base_prefix: str
    markers: Mapping[str, str]
    platforms: tuple[str, ...]
    tags: tuple[Tag, ...] = field(repr=False)
    launcher_kind: str
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def python_version(self) -> Version:
        return Version(".".join(map(str, self.version)))

    @property
    def is_venv(self) -> bool:
        return self.prefix != self.base_prefix

    @property
    def base_executable(self) -> str:
        """The interpreter this one's virtual environment was made from (or itself)."""
        return str(self.raw.get("base_executable") or self.executable)

    @property
    def bundled_wheel_dirs(self) -> tuple[str, ...]:
        """Directories holding the wheels ensurepip would install (``ensurepip/_bundled``
        and a distribution's ``WHEEL_PKG_DIR``)."""
        return tuple(self.raw.get("wheel_dirs", ()))

    @classmethod
    def from_probe(cls, data: Mapping[str, Any]) -> Interpreter:
        version = tuple(int(p) for p in data["version"][:3])
        platforms = tuple(_platforms(data))
        tags = tuple(_tags(data, platforms))
        return cls(
            executable=data["executable"],
            version=(version[0], version[1], version[2]),
            implementation=data["implementation"],
            prefix=data["prefix"],
            base_prefix=data["base_prefix"],
            markers=dict(data["markers"]),
            platforms=platforms,
            tags=tags,
            launcher_kind=_launcher_kind(data["platform"]),
            raw=data,
        )


def _platforms(data: Mapping[str, Any]) -> list[str]:
    plat: str = data["platform"]
    if plat.startswith("linux-"):
        arch = plat.split("-", 1)[1].replace(".", "_").replace("-", "_")
        if arch == "x86_64" and not data["maxsize_64"]:
            arch = "i686"
        out: list[str] = [f"linux_{arch}"]
        libc, libc_version = data["libc"]
        if libc == "glibc" and libc_version.count(".") >= 1:
            major, minor = (int(p) for p in libc_version.split(".")[:2])
            lowest = 5 if arch in ("x86_64", "i686") else 17
            for m in range(minor, lowest - 1, -1):
                out.append(f"manylinux_{major}_{m}_{arch}")
                legacy = _LEGACY_MANYLINUX.get((major, m))
                if legacy:
                    out.append(f"{legacy}_{arch}")
        return out
    if plat.startswith("macosx-"):
        _, ver, arch = plat.split("-", 2)
        mac = data.get("mac_ver") or ver
        major, minor = (int(p) for p in ([*mac.split("."), "0"])[:2])
        return list(mac_platforms((major, minor), arch))
    return [plat.replace("-", "_").replace(".", "_")]


def _tags(data: Mapping[str, Any], platforms: Sequence[str]) -> list[Tag]:
    major, minor = data["version"][:2]
    impl = data["implementation"]
    if impl == "cpython":
        abi = f"cp{major}{minor}" + ("t" if data["gil_disabled"] else "") + (
            "d" if data["py_debug"] else ""
        )
        tags = list(cpython_tags((major, minor), [abi], platforms))
        interpreter = f"cp{major}{minor}"
    else:
        short = {"pypy": "pp", "ironpython": "ip", "jython": "jy"}.get(impl, impl)
        interpreter = f"{short}{major}{minor}"
        soabi = data.get("soabi") or ""
        abis = [soabi.replace(".", "_").replace("-", "_")] if soabi else []
        tags = list(generic_tags(interpreter, abis, platforms))
    tags.extend(compatible_tags((major, minor), interpreter, platforms))
    return tags


def _launcher_kind(platform: str) -> str:
    if platform.startswith("win"):
        return {"win-amd64": "win-amd64", "win-arm64": "win-arm64"}.get(platform, "win-ia32")
    return "posix"


def probe_interpreter(python: str | os.PathLike[str], *, prefix: str | None = None,
                      timeout: float = 60.0) -> dict[str, Any]:
    """Run the probe in ``python`` and return what it printed."""
    args = json.dumps({"prefix": prefix})
    try:
        proc = subprocess.run(
            [os.fspath(python), "-I", "-c", _PROBE.read_text(encoding="utf-8"), args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise TargetError(f"cannot run the target interpreter {python}: {exc}") from exc
    failed = (f"the target interpreter {python} failed to describe itself (is it Python "
              "3.8 or later?)")
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise TargetError(f"{failed}: {last}")
    try:
        data: dict[str, Any] = json.loads(proc.stdout)
    except ValueError:
        raise TargetError(f"{failed}: what it printed is not the probe's answer") from None
    return data


def remembered_probe(python: Path, *, prefix: str | None = None,
                     cache_dir: Path | None = None) -> dict[str, Any]:
    """`probe_interpreter`, remembered under ``cache_dir`` (section ``interpreters-v1``).

    An entry is keyed by everything the facts depend on: the interpreter path as given,
    the binary it resolves to (path, inode, size, modification time), the environment's
    ``pyvenv.cfg`` (its content, so an identical venv recreated in place still hits),
    the machine (``uname``, C library) and the probe itself. Anything changed is a new
    key, so an entry is never revalidated, only replaced.
    """
    if cache_dir is None:
        return probe_interpreter(python, prefix=prefix)
    import hashlib

    exe = os.path.abspath(python)
    real = os.path.realpath(exe)
    try:
        st = os.stat(real)
    except OSError:
        return probe_interpreter(python, prefix=prefix)
    cfg = b""
    for where in (os.path.dirname(exe), os.path.dirname(os.path.dirname(exe))):
        with contextlib.suppress(OSError):
            with open(os.path.join(where, "pyvenv.cfg"), "rb") as fh:
                cfg = fh.read()
            break
    libc = ""
    with contextlib.suppress(AttributeError, OSError, ValueError):
        libc = os.confstr("CS_GNU_LIBC_VERSION") or ""
    key = hashlib.sha256(json.dumps([
        exe, prefix, real, st.st_ino, st.st_size, st.st_mtime_ns,
        hashlib.sha256(cfg).hexdigest(), list(os.uname()) if hasattr(os, "uname") else [],
        libc, hashlib.sha256(_PROBE.read_bytes()).hexdigest(),
    ]).encode("utf-8")).hexdigest()
    entry = cache_dir / "interpreters-v1" / key[:2] / f"{key}.json"
    with contextlib.suppress(OSError, ValueError):
        found = json.loads(entry.read_bytes())
        if isinstance(found, dict) and found.keys() >= _PROBE_KEYS:
            return found  # else damaged (or not ours): probed again and replaced
    data = probe_interpreter(python, prefix=prefix)
    from .cache import Cache

    with contextlib.suppress(OSError), Cache(cache_dir).publish(entry) as fh:
        fh.write(json.dumps(data).encode("utf-8"))
    return data


def _resolve_python(python: str | os.PathLike[str]) -> Path:
    # absolute (symbolic links kept: a venv is known by the path of its link): a bare
    # relative name would be looked up on PATH when run, not beside the caller
    path = Path(os.path.abspath(os.fspath(python)))
    if path.is_dir():
        for candidate in (path / "bin" / "python", path / "Scripts" / "python.exe"):
            if candidate.exists():
                return candidate
        raise TargetError(f"{path} is a directory without bin/python: not an environment")
    if not path.exists():
        raise TargetError(f"no Python interpreter at {path}")
    return path


def _rooted(path: str, root: Path | None) -> str:
    if root is None:
        return path
    p = Path(path)
    return str(root / p.relative_to(p.anchor))


@dataclass(frozen=True, eq=False)
class Target:
    """A place to install into, with the interpreter whose tags and markers apply there.

    Compared and hashed by identity, so targets can key a `provision()` mapping.
    """

    interpreter: Interpreter
    #: scheme key (purelib, platlib, headers, scripts, data) -> absolute directory
    scheme: Mapping[str, str]
    #: what kind of target this is: "environment", "prefix", "user" or "directory"
    kind: str = "environment"
    root: Path | None = None

    @classmethod
    def from_python(
        cls,
        python: str | os.PathLike[str],
        *,
        prefix: str | os.PathLike[str] | None = None,
        root: str | os.PathLike[str] | None = None,
        cache_dir: Path | None = None,
    ) -> Target:
        """The environment of the interpreter ``python`` (or of a venv directory).

        With ``prefix``, install into that prefix using the interpreter's layout
        (like ``pip --prefix``); with ``root``, every path is re-rooted there
        (like ``pip --root``, for packaging into a staging tree). With ``cache_dir``
        (a pyinst cache), the interpreter's facts are remembered there, so the next
        call for an unchanged interpreter and environment runs no subprocess.
        """
        exe = _resolve_python(python)
        pre = os.path.abspath(os.fspath(prefix)) if prefix is not None else None
        interp = Interpreter.from_probe(remembered_probe(exe, prefix=pre, cache_dir=cache_dir))
        return cls._of(interp, "prefix" if pre else "environment", root)

    @classmethod
    def _of(cls, interp: Interpreter, kind: str, root: str | os.PathLike[str] | None
            ) -> Target:
        root_path = Path(os.path.abspath(os.fspath(root))) if root is not None else None
        paths = dict(interp.raw["user_paths" if kind == "user" else "paths"])
        if interp.is_venv or kind == "prefix":
            # like pip: C headers of a venv or prefix install go inside it, not into the
            # base interpreter's include directory
            major, minor = interp.version[:2]
            paths["include"] = os.path.join(paths["data"], "include", "site",
                                            f"python{major}.{minor}")
        scheme = {k: _rooted(paths[k if k != "headers" else "include"], root_path)
                  for k in SCHEME_KEYS}
        return cls(interpreter=interp, scheme=scheme, kind=kind, root=root_path)

    def variant(self, *, user: bool = False, root: str | os.PathLike[str] | None = None
                ) -> Target:
        """This environment's interpreter with its user scheme (``user``), or re-rooted
        under ``root``, as ``ensurepip --user`` / ``--root`` mean them."""
        if not (user or root is not None):
            return self
        if self.kind not in ("environment", "user") or self.root is not None:
            raise TargetError(f"cannot re-root or switch to the user scheme a {self.kind} "
                              f"target{' that is already re-rooted' if self.root else ''}")
        if user and self.interpreter.is_venv:
            raise TargetError("cannot install with --user: user site-packages are not "
                              f"visible in the virtual environment {self.interpreter.prefix}")
        return self._of(self.interpreter, "user" if user else self.kind, root)

    @classmethod
    def directory(
        cls, path: str | os.PathLike[str], *, python: str | os.PathLike[str] | None = None,
        cache_dir: Path | None = None,
    ) -> Target:
        """A plain directory put on ``sys.path`` by the application (like ``pip --target``).

        Tags and markers are those of ``python`` (default: the running interpreter);
        ``cache_dir`` as for `from_python`.
        """
        exe = _resolve_python(python) if python is not None else Path(sys.executable)
        interp = Interpreter.from_probe(remembered_probe(exe, cache_dir=cache_dir))
        base = os.path.abspath(os.fspath(path))
        scheme = {
            "purelib": base,
            "platlib": base,
            "data": base,
            "scripts": os.path.join(base, "bin"),
            "headers": os.path.join(base, "include"),
        }
        return cls(interpreter=interp, scheme=scheme, kind="directory")

    @property
    def site_dirs(self) -> tuple[Path, ...]:
        """Directories where the distributions installed in this target live."""
        seen: list[Path] = []
        for key in ("purelib", "platlib"):
            p = Path(self.scheme[key])
            if p not in seen:
                seen.append(p)
        return tuple(seen)

    @property
    def python(self) -> str:
        return self.interpreter.executable

    @property
    def markers(self) -> Mapping[str, str]:
        return self.interpreter.markers

    @property
    def tags(self) -> tuple[Tag, ...]:
        return self.interpreter.tags

    def externally_managed(self) -> str | None:
        """PEP 668: the message of the interpreter's ``EXTERNALLY-MANAGED`` file when this
        target is that interpreter's own environment (not a venv, prefix, root or
        directory), else None."""
        if self.kind != "environment" or self.root is not None or self.interpreter.is_venv:
            return None
        stdlib = self.interpreter.raw.get("default_paths", {}).get("stdlib")
        marker = os.path.join(stdlib, "EXTERNALLY-MANAGED") if stdlib else None
        if marker is None or not os.path.isfile(marker):
            return None
        import configparser

        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(marker, encoding="utf-8")
            text = parser.get("externally-managed", "Error", fallback="")
        except (configparser.Error, OSError, UnicodeDecodeError):
            text = ""
        return text.strip() or (f"{self.interpreter.executable} is externally managed: "
                                "install into a virtual environment")

    def lock(self, timeout: float | None = None) -> EnvironmentLock:
        """The lock that serialises installs into this target (threads and processes)."""
        site = Path(self.scheme["purelib"])
        return EnvironmentLock(site, timeout=timeout, description=str(site))

    def describe_location(self) -> str:
        """Where this target installs (its site directory), for messages and events."""
        return self.scheme["purelib"]

    def describe(self) -> str:
        v = ".".join(map(str, self.interpreter.version))
        plat = self.interpreter.platforms[0] if self.interpreter.platforms else "any"
        return f"Python {v} ({self.interpreter.implementation}, {plat})"
