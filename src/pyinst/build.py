"""Building wheels from source trees with `build` (PEP 517/518/660).

A `SourceBuilder` belongs to one top-level call. For each source tree and target it
makes an isolated build environment: a venv of the target's interpreter (its own
``venv`` module, no pip), into which pyinst itself installs ``build-system.requires``
and then what the backend asks for, through the ``provision`` callable it was given
(the `Installer`, with its cache). `build.ProjectBuilder` then calls the backend in that
environment through our runner, which passes the environment to the subprocess and
never writes ``os.environ``. The backend's output is kept; a failure raises
`BuildFailed` with its tail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar

from .cache import cache_writes
from .errors import BuildFailed, PyinstError
from .metadata import wheel_metadata

if TYPE_CHECKING:
    from build import ProjectBuilder

    from .target import Target

#: installs requirements into a target (the Installer's own pipeline)
Provision = Callable[[Sequence[str], "Target"], None]

_TAIL_LINES = 25
T = TypeVar("T")
Kind = Literal["wheel", "editable"]


@dataclass(frozen=True)
class BuildOptions:
    """How sources are built (``--no-build-isolation``, ``--config-settings``,
    ``--build-constraint``)."""

    isolation: bool = True
    config_settings: Mapping[str, str | list[str]] = field(default_factory=dict)
    #: requirement strings that constrain what goes into build environments
    constraints: tuple[str, ...] = ()


@dataclass
class _Env:
    builder: ProjectBuilder
    output: list[str]
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: kind -> the wheel already built here (metadata may have needed a full build)
    built: dict[str, Path] = field(default_factory=dict)


def _tail(lines: Sequence[str]) -> str:
    text = "".join(lines).rstrip()
    return "\n".join(text.splitlines()[-_TAIL_LINES:])


class SourceBuilder:
    """Builds metadata and wheels for one call; ``close()`` removes its environments."""

    def __init__(self, scratch_parent: Path, provision: Provision,
                 options: BuildOptions | None = None,
                 base_environ: Mapping[str, str] | None = None) -> None:
        self._scratch_parent = scratch_parent
        self._provision = provision
        self.options = options or BuildOptions()
        # The environment the backends see: the process's, minus what would leak the
        # caller's imports into an isolated build; read once, never written.
        env = dict(os.environ if base_environ is None else base_environ)
        for key in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE"):
            env.pop(key, None)
        self._environ = env
        self._lock = threading.Lock()
        self._scratch: Path | None = None
        self._envs: dict[tuple[str, str, str], _Env] = {}
        self._env_locks: dict[tuple[str, str, str], threading.Lock] = {}
        #: how many times each hook ran (tests and verbose output read it)
        self.calls: list[tuple[str, str]] = []

    @property
    def environ(self) -> Mapping[str, str]:
        """The environment given to build subprocesses (and git)."""
        return self._environ

    # -- lifetime --------------------------------------------------------------------

    def scratch(self) -> Path:
        with self._lock:
            if self._scratch is None:
                with cache_writes(self._scratch_parent, "making a directory to build in"):
                    self._scratch_parent.mkdir(parents=True, exist_ok=True)
                    self._scratch = Path(tempfile.mkdtemp(prefix="build-",
                                                          dir=self._scratch_parent))
            return self._scratch

    def close(self) -> None:
        with self._lock:
            scratch, self._scratch = self._scratch, None
            self._envs.clear()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)

    # -- hooks ----------------------------------------------------------------------------

    def metadata(self, tree: Path, target: Target, *, package: str,
                 editable: bool = False) -> bytes:
        """Core metadata of the project in ``tree``, without a full build where the
        backend offers ``prepare_metadata_for_build_*``."""
        kind: Kind = "editable" if editable else "wheel"
        env = self._env(tree, target, kind, package)
        out = Path(tempfile.mkdtemp(prefix="meta-", dir=self.scratch()))
        with env.lock:
            dist_info = self._call(env, package, f"prepare_metadata_for_build_{kind}",
                                   lambda: env.builder.prepare(
                                       kind, out, self._settings()))
            if dist_info is None:
                wheel = self._build(env, package, kind, out)
                return built_wheel_metadata(wheel, package)
        return (Path(dist_info) / "METADATA").read_bytes()

    def wheel(self, tree: Path, target: Target, out_dir: Path, *, package: str,
              editable: bool = False) -> Path:
        """Build a wheel (an editable one with ``editable``) of ``tree`` into ``out_dir``."""
        kind: Kind = "editable" if editable else "wheel"
        env = self._env(tree, target, kind, package)
        out_dir.mkdir(parents=True, exist_ok=True)
        with env.lock:
            return self._build(env, package, kind, out_dir)

    def _build(self, env: _Env, package: str, kind: Kind, out_dir: Path) -> Path:
        done = env.built.get(kind)
        if done is not None and done.exists():
            return done
        path = self._call(env, package, f"build_{kind}",
                          lambda: env.builder.build(kind, out_dir, self._settings()))
        env.built[kind] = Path(path)
        return Path(path)

    def _settings(self) -> dict[str, str | list[str]] | None:
        return dict(self.options.config_settings) or None

    def _call(self, env: _Env, package: str, hook: str,
              fn: Callable[[], T]) -> T:
        import build

        with self._lock:
            self.calls.append((package, hook))
        try:
            return fn()
        except build.BuildBackendException as exc:
            cause = exc.exception
            output = getattr(cause, "output", None)
            tail = _tail([output] if isinstance(output, str) else env.output)
            why = f"{hook} failed" if isinstance(cause, subprocess.CalledProcessError) \
                else f"{hook} failed: {cause}"
            msg = f"building '{package}' failed: {why}"
            raise BuildFailed(msg + (f"\n{tail}" if tail else ""), package=package,
                              output=tail) from None
        except build.BuildException as exc:
            raise BuildFailed(f"building '{package}' failed: {exc}", package=package) from None

    # -- environments -----------------------------------------------------------------

    def _env(self, tree: Path, target: Target, kind: Kind, package: str) -> _Env:
        key = (str(tree), target.python, kind)
        with self._lock:
            known = self._envs.get(key)
            if known is not None:
                return known
            lock = self._env_locks.setdefault(key, threading.Lock())
        with lock:  # one thread makes each environment; others wait for it
            with self._lock:
                known = self._envs.get(key)
            if known is not None:
                return known
            env = self._make_env(tree, target, kind, package)
            with self._lock:
                self._envs[key] = env
            return env

    def _make_env(self, tree: Path, target: Target, kind: Kind, package: str) -> _Env:
        from build import BuildException, ProjectBuilder

        output: list[str] = []
        if not self.options.isolation:
            runner = self._runner(output, {})
            try:
                builder = ProjectBuilder(tree, python_executable=target.python, runner=runner)
            except BuildException as exc:
                raise BuildFailed(f"cannot build '{package}': {exc}", package=package) from None
            return _Env(builder, output)

        from .bootstrap import create_venv
        from .target import Target

        venv = Path(tempfile.mkdtemp(prefix="env-", dir=self.scratch()))
        python = create_venv(target.interpreter.base_executable, venv)
        bin_dir = str(python.parent)
        runner = self._runner(output, {
            "VIRTUAL_ENV": str(venv),
            "PATH": bin_dir + os.pathsep + self._environ.get("PATH", os.defpath),
            "PYTHONNOUSERSITE": "1",
        })
        try:
            builder = ProjectBuilder(tree, python_executable=str(python), runner=runner)
        except BuildException as exc:
            raise BuildFailed(f"cannot build '{package}': {exc}", package=package) from None
        build_target = Target.from_python(python)
        self._install(sorted(builder.build_system_requires), build_target, package)
        env = _Env(builder, output)
        asked: set[str] = set()

        def ask() -> None:
            asked.update(builder.get_requires_for_build(kind, self._settings()))

        self._call(env, package, f"get_requires_for_build_{kind}", ask)
        self._install(sorted(asked), build_target, package)
        return env

    def _install(self, requirements: Sequence[str], target: Target, package: str) -> None:
        if not requirements:
            return
        try:
            self._provision(requirements, target)
        except PyinstError as exc:
            raise BuildFailed(f"cannot set up the build environment of '{package}' "
                              f"({', '.join(requirements)}): {exc}", package=package) from exc

    def _runner(self, output: list[str], overrides: Mapping[str, str]
                ) -> Callable[..., None]:
        environ = {**self._environ, **overrides}

        def run(cmd: Sequence[str], cwd: str | None = None,
                extra_environ: Mapping[str, str] | None = None) -> None:
            proc = subprocess.run(list(cmd), cwd=cwd, env={**environ, **(extra_environ or {})},
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, errors="replace",
                                  check=False)
            output.append(proc.stdout)
            if proc.returncode != 0:
                raise subprocess.CalledProcessError(proc.returncode, cmd, output=proc.stdout)

        return run


def built_wheel_metadata(wheel: Path, package: str) -> bytes:
    """The METADATA of a wheel built for ``package`` (just now, or earlier and cached);
    `BuildFailed` when it cannot be read."""
    import zipfile

    try:
        with zipfile.ZipFile(wheel) as zf:
            return wheel_metadata(zf)
    except zipfile.BadZipFile as exc:
        raise BuildFailed(f"the wheel built for '{package}' cannot be read: {exc}",
                          package=package) from exc


__all__ = ["BuildOptions", "Provision", "SourceBuilder"]
