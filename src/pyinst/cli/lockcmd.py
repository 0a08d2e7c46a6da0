"""``pyinst lock``, ``pyinst install -r pylock.toml`` and ``pyinst run script.py``."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import Config


def add_parsers(sub: argparse._SubParsersAction,  # type: ignore[type-arg]
                common: argparse.ArgumentParser) -> None:
    from . import add_requirement_inputs

    lock = sub.add_parser("lock", parents=[common],
                          help="resolve and write a PEP 751 lock file (pylock.toml)")
    add_requirement_inputs(lock)
    lock.add_argument("-p", "--python", metavar="PATH",
                      help="the interpreter to lock for (default: $VIRTUAL_ENV, ./.venv, "
                           "then the one running pyinst)")
    lock.add_argument("-o", "--output", default="pylock.toml", metavar="FILE",
                      help="where to write the lock ('-' for standard output; default "
                           "pylock.toml)")

    dl = sub.add_parser("download", parents=[common],
                        help="resolve and save the distribution files into a directory")
    add_requirement_inputs(dl)
    dl.add_argument("-d", "--dest", default=".", metavar="DIR",
                    help="where to save the files (default: the current directory)")
    dl.add_argument("-p", "--python", metavar="PATH",
                    help="the interpreter to resolve for (default: $VIRTUAL_ENV, ./.venv, "
                         "then the one running pyinst)")

    run = sub.add_parser("run", parents=[common],
                         help="run a script with its inline (PEP 723) dependencies")
    run.add_argument("script", metavar="SCRIPT",
                     help="a Python script (a path, or an http(s) URL)")
    run.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS",
                     help="arguments for the script")
    run.add_argument("-p", "--python", metavar="PATH",
                     help="the interpreter to run it with (default: the one running pyinst)")


def _requirements(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from ..reqfile import (
        RequirementSet,
        UserRequirement,
        group_requirements,
        parse_requirement,
        parse_requirements_file,
    )
    from . import url_reader

    reqs = RequirementSet()
    with url_reader(args) as fetch:
        for f in args.requirement:
            parse_requirements_file(f, env=os.environ, into=reqs, fetch=fetch)
        for f in args.constraint:
            parse_requirements_file(f, env=os.environ, constraint=True, into=reqs,
                                    fetch=fetch)
    for spec in args.group:
        reqs.requirements.extend(group_requirements(spec, base_dir=Path.cwd()))
    for text in args.requirements:
        reqs.requirements.append(UserRequirement(parse_requirement(text, base_dir=Path.cwd())))
    return reqs


def _inputs(args: argparse.Namespace, verb: str):  # type: ignore[no-untyped-def]
    """The requirements, config and target of a command that resolves for an
    interpreter without installing into it (``lock``, ``download``)."""
    from ..errors import UsageError
    from ..target import Target
    from . import _build_config, _find_python

    reqs = _requirements(args)
    if not reqs.requirements:
        raise UsageError(f"nothing to {verb}: give requirements, -r FILE or --group NAME")
    config = _build_config(args, reqs)
    return reqs, config, Target.from_python(_find_python(args) or sys.executable,
                                            cache_dir=config.cache_dir)


def cmd_lock(args: argparse.Namespace) -> int:
    from ..api import Installer
    from ..lock import dump_lock
    from . import _echo, output_file
    from .progress import progress_sink

    reqs, config, target = _inputs(args, "lock")
    out_dir = Path.cwd() if args.output == "-" else Path(args.output).resolve().parent
    with output_file(args.output, "the lock") as out:
        with progress_sink(args) as sink, Installer(config, on_event=sink) as inst:
            lock = inst.lock(reqs.requirements, target, constraints=reqs.constraints,
                             lock_dir=out_dir)
        text = dump_lock(lock)
        if out is None:
            sys.stdout.write(text)
        else:
            out.truncate(0)
            out.write(text)
    if out is not None and not args.quiet:
        n = len(lock.packages)
        _echo(sys.stdout, f"Locked {n} package{'' if n == 1 else 's'} for "
                          f"{target.describe()} in {args.output}")
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    from ..api import Installer
    from . import _echo
    from .progress import progress_sink

    reqs, config, target = _inputs(args, "download")
    with progress_sink(args) as sink, Installer(config, on_event=sink) as inst:
        saved = inst.download(reqs.requirements, target, args.dest,
                              constraints=reqs.constraints)
    if not args.quiet:
        for path in saved:
            _echo(sys.stdout, f"Saved {path}")
    return 0


def install_from_lock(args: argparse.Namespace, locks: list[str]) -> int:
    from ..api import Installer
    from ..errors import UsageError
    from ..reqfile import RequirementSet, is_url, not_from_url
    from . import _build_config, _build_target, _print_result
    from .progress import progress_sink

    if len(locks) > 1 or len(args.requirement) > 1 or args.requirements or args.editable \
            or args.constraint:
        raise UsageError("a lock file is installed on its own: no other requirements, "
                         "constraints or lock files with it")
    if is_url(locks[0]):  # its relative paths would have nothing to be relative to
        raise UsageError(not_from_url(locks[0], "lock files are read"))
    config = _build_config(args, RequirementSet())
    target = _build_target(args)
    with progress_sink(args) as sink, Installer(config, on_event=sink) as inst:
        result = inst.install_lock(locks[0], target, extras=args.extra,
                                   groups=args.group or None, sync=args.sync, keep=args.keep,
                                   dry_run=args.dry_run)
    if not args.quiet:
        _print_result(result, sys.stdout, len(result.resolution or ()))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Run a script (a path, or an http(s) URL) in an environment holding its inline
    dependencies, made once per (interpreter, dependency set) in the cache and reused."""
    from ..reqfile import is_url

    with contextlib.ExitStack() as stack:
        script = Path(args.script)
        if is_url(args.script):
            script = _fetched_script(args, stack)
        return _run_script(args, script)


def _fetched_script(args: argparse.Namespace, stack: contextlib.ExitStack) -> Path:
    """The script at the URL ``args.script``, saved under its own name in a temporary
    directory that lasts as long as ``stack`` (the run)."""
    import posixpath
    import tempfile
    import urllib.parse

    from . import url_reader

    with url_reader(args, "the script") as fetch:
        data = fetch(args.script)
    name = posixpath.basename(urllib.parse.urlsplit(args.script).path) or "script.py"
    script = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pyinst-run-"))) \
        / name
    script.write_bytes(data)
    return script


def _run_script(args: argparse.Namespace, script: Path) -> int:
    import hashlib
    import shutil

    from ..errors import TargetError
    from ..reqfile import RequirementSet, script_metadata
    from ..target import Target
    from . import _build_config

    deps, requires_python = script_metadata(script)
    python = args.python or sys.executable
    config = _build_config(args, RequirementSet())
    base = Target.from_python(python, cache_dir=config.cache_dir)
    if requires_python:
        from packaging.specifiers import SpecifierSet

        if not SpecifierSet(requires_python).contains(base.interpreter.python_version,
                                                      prereleases=True):
            raise TargetError(f"{script} requires Python {requires_python}, and {python} is "
                              f"{base.interpreter.python_version}; pass -p PYTHON")
    key = hashlib.sha256(json.dumps([base.interpreter.executable, sorted(deps)]).encode())
    if config.cache_dir is None:  # --no-cache: a throw-away environment
        import tempfile

        with tempfile.TemporaryDirectory(prefix="pyinst-run-") as tmp:
            made = _make_env(python, Path(tmp) / "env", deps, config)
            return _run(made, script, args.args)
    root = Path(config.cache_dir) / "envs"
    env_dir = root / key.hexdigest()[:20]
    ready = env_dir / ".pyinst-ready"
    if not ready.exists():
        from ..cache import EntryLock

        root.mkdir(parents=True, exist_ok=True)
        with EntryLock(root / f".{env_dir.name}.lock"):
            if not ready.exists():  # made by nobody, or half-made by a crash
                shutil.rmtree(env_dir, ignore_errors=True)
                try:
                    _make_env(python, env_dir, deps, config)
                except BaseException:
                    shutil.rmtree(env_dir, ignore_errors=True)
                    raise
                ready.write_text(json.dumps({"python": python, "dependencies": deps}))
    return _run(env_dir / "bin" / "python", script, args.args)


def _make_env(python: str, path: Path, deps: list[str], config: Config) -> Path:
    from ..api import Installer
    from ..bootstrap import create_venv
    from ..target import Target

    made = create_venv(python, path)
    if deps:
        with Installer(config) as inst:
            inst.install(deps, Target.from_python(made, cache_dir=config.cache_dir))
    return made


def _run(python: Path, script: Path, argv: list[str]) -> int:
    import subprocess

    return subprocess.run([str(python), str(script), *argv], check=False).returncode


__all__ = ["add_parsers", "cmd_download", "cmd_lock", "cmd_run", "install_from_lock"]
