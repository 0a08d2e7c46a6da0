"""``pyinst bootstrap`` (ensurepip without pip's code) and ``pyinst venv [--seed]``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from ..models import InstallResult
    from ..target import Target


def add_parsers(sub: argparse._SubParsersAction,  # type: ignore[type-arg]
                common: argparse.ArgumentParser) -> None:
    boot = sub.add_parser(
        "bootstrap", parents=[common],
        help="install pip into an environment, as ensurepip does, running no pip code",
        description="Install pip into the target interpreter's environment the way "
                    "`python -m ensurepip` would, with the same options, from the index "
                    "(or, with --offline, from the wheel bundled with that interpreter or "
                    "from the cache).")
    boot.add_argument("-p", "--python", metavar="PATH",
                      help="interpreter (or environment directory) to bootstrap; default: "
                           "$VIRTUAL_ENV, then ./.venv")
    boot.add_argument("--pip-version", metavar="SPEC",
                      help="a pip version (24.2) or specifier ('>=24,<25'); default: the "
                           "newest that supports the target")
    boot.add_argument("--upgrade", action="store_true",
                      help="upgrade pip if it is already installed")
    boot.add_argument("--root", metavar="DIR",
                      help="install everything relative to this alternate root directory")
    boot.add_argument("--user", action="store_true",
                      help="install into the user site-packages directory")
    boot.add_argument("--altinstall", action="store_true",
                      help="make only the pipX.Y command (no pipX, no pip)")
    boot.add_argument("--default-pip", action="store_true",
                      help="make the unversioned pip command too (always so in a venv)")

    venv = sub.add_parser(
        "venv", parents=[common], help="create a virtual environment (optionally with pip)",
        description="Create a virtual environment with the interpreter's own venv module; "
                    "with --seed, install pip into it from the cache (by hard links).")
    venv.add_argument("path", nargs="?", default=".venv", metavar="PATH",
                      help="where to create it (default: .venv)")
    venv.add_argument("-p", "--python", metavar="PATH",
                      help="the interpreter to base it on (default: the one running pyinst)")
    venv.add_argument("--seed", action="store_true", help="install pip into it")
    venv.add_argument("--pip-version", metavar="SPEC", help="with --seed: which pip")
    venv.add_argument("--clear", action="store_true",
                      help="delete the environment's contents first, if it exists")
    venv.add_argument("--prompt", metavar="PROMPT", help="the prompt its activation shows")
    venv.add_argument("--system-site-packages", action="store_true",
                      help="give it access to the base interpreter's site-packages")


def _echo(out: TextIO, text: str) -> None:
    out.write(text + "\n")
    out.flush()


def _say_bootstrapped(out: TextIO, result: InstallResult, target: Target,
                      commands: list[str], *, upgrade: bool = False) -> None:
    where = target.describe_location()
    if not result.installed:
        version = dict(result.already_satisfied).get("pip", "?")
        hint = "no newer one is available" if upgrade else "--upgrade to upgrade it"
        _echo(out, f"pip {version} is already installed in {where}; nothing to do ({hint})")
        return
    new = dict(result.installed)["pip"]
    old = dict(result.removed).get("pip")
    took = sum(result.timings.values())
    verb = f"Replaced pip {old} with pip {new}" if old else f"Installed pip {new}"
    _echo(out, f"{verb} in {where} in {took:.2f}s (commands: {', '.join(commands)})")


def cmd_bootstrap(args: argparse.Namespace) -> int:
    from ..api import Installer
    from ..bootstrap import script_names
    from ..errors import UsageError
    from ..reqfile import RequirementSet
    from ..target import Target
    from . import _build_config, _find_python
    from .progress import progress_sink

    if args.altinstall and args.default_pip:
        raise UsageError("--altinstall and --default-pip cannot be used together")
    python = _find_python(args)
    if python is None:
        raise UsageError("no interpreter to bootstrap: pass -p/--python, activate a virtual "
                         "environment, or create ./.venv")
    config = _build_config(args, RequirementSet())
    target = Target.from_python(python, cache_dir=config.cache_dir)
    commands = script_names(target, altinstall=args.altinstall, default_pip=args.default_pip)
    with progress_sink(args) as sink, Installer(config, on_event=sink) as inst:
        result = inst.bootstrap(target, version=args.pip_version, offline=args.offline,
                                upgrade=args.upgrade, root=args.root, user=args.user,
                                altinstall=args.altinstall, default_pip=args.default_pip)
    if not args.quiet:
        _say_bootstrapped(sys.stdout, result, target.variant(user=args.user, root=args.root),
                          commands, upgrade=args.upgrade)
    return 0


def cmd_venv(args: argparse.Namespace) -> int:
    from ..bootstrap import create_venv, script_names
    from ..reqfile import RequirementSet
    from ..target import Target
    from . import _build_config, cache_root
    from .progress import progress_sink

    t0 = time.perf_counter()
    # without --clear, venv updates an environment that is there, keeping what it holds
    updated = not args.clear and (Path(args.path) / "pyvenv.cfg").is_file()
    python = create_venv(args.python or sys.executable, args.path, clear=args.clear,
                         prompt=args.prompt, system_site_packages=args.system_site_packages)
    target = Target.from_python(python, cache_dir=cache_root(args))
    out = sys.stdout
    if not args.quiet:
        what = ("Updated the virtual environment (what it held is kept; --clear empties "
                "it first)" if updated else "Created a virtual environment")
        _echo(out, f"{what} at {Path(args.path)} with {target.describe()} in "
                   f"{time.perf_counter() - t0:.2f}s")
    if args.seed:
        from ..api import Installer

        config = _build_config(args, RequirementSet())
        with progress_sink(args) as sink, Installer(config, on_event=sink) as inst:
            result = inst.bootstrap(target, version=args.pip_version, offline=args.offline,
                                    default_pip=True)
        if not args.quiet:
            _say_bootstrapped(out, result, target,
                              script_names(target, altinstall=False, default_pip=True))
    return 0


__all__ = ["add_parsers", "cmd_bootstrap", "cmd_venv"]
