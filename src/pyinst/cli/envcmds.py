"""``pyinst list | freeze | show | check | uninstall``: pip's environment commands."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def add_parsers(sub: argparse._SubParsersAction,  # type: ignore[type-arg]
                common: argparse.ArgumentParser) -> None:
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("-p", "--python", metavar="PATH",
                       help="interpreter (or environment directory); default: "
                            "$VIRTUAL_ENV, then ./.venv")
    lst = sub.add_parser("list", parents=[where, common],
                         help="list installed distributions")
    lst.add_argument("--format", choices=["columns", "freeze", "json"], default="columns")
    lst.add_argument("-o", "--outdated", action="store_true",
                     help="only those the index has a newer version of")
    frz = sub.add_parser("freeze", parents=[where],
                         help="installed distributions in requirements format")
    frz.add_argument("--all", action="store_true",
                     help="include pip (and, before Python 3.12, setuptools and wheel)")
    show = sub.add_parser("show", parents=[where], help="details of installed distributions")
    show.add_argument("names", nargs="+", metavar="NAME")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    chk = sub.add_parser("check", parents=[where],
                         help="verify installed distributions have compatible dependencies")
    chk.add_argument("--json", action="store_true", help="machine-readable output")
    tree = sub.add_parser("tree", parents=[where],
                          help="the dependency tree of what a target holds")
    tree.add_argument("names", nargs="*", metavar="NAME",
                      help="start from these (default: what nothing else requires)")
    un = sub.add_parser("uninstall", parents=[where, common],
                        help="remove distributions (by their RECORD)")
    un.add_argument("names", nargs="+", metavar="NAME")
    un.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    un.add_argument("--force", action="store_true",
                    help="allow removing pyinst from the environment it runs in")
    un.add_argument("--break-system-packages", action="store_true",
                    help="uninstall from an externally managed Python anyway (PEP 668)")


def _target(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from ..errors import UsageError
    from ..target import Target
    from . import _find_python, cache_root

    python = _find_python(args)
    if python is None:
        raise UsageError("no environment: pass -p/--python, activate a virtual "
                         "environment, or create ./.venv")
    return Target.from_python(python, cache_dir=cache_root(args))


def cmd_inspect(args: argparse.Namespace) -> int:
    from ..environment import (
        check_lines,
        distributions,
        freeze_lines,
        list_columns,
        show_lines,
    )

    target = _target(args)
    dists = distributions(target)
    out = sys.stdout
    if args.command == "list" and args.outdated:
        return _outdated(args, target)
    if args.command == "list":
        if args.format == "json":
            rows = []
            for d in dists:
                row: dict[str, str] = {"name": d.name, "version": d.version}
                if d.editable_location is not None:
                    row["editable_project_location"] = d.editable_location
                rows.append(row)
            out.write(json.dumps(rows) + "\n")
        elif args.format == "freeze":
            out.write("".join(f"{d.name}=={d.version}\n" for d in dists))
        else:
            out.write("".join(line + "\n" for line in list_columns(dists)) if dists else "")
        return 0
    if args.command == "freeze":
        out.write("".join(line + "\n" for line in freeze_lines(dists, target, all=args.all)))
        return 0
    if args.command == "tree":
        from ..environment import tree_lines

        out.write("".join(line + "\n" for line in tree_lines(dists, args.names)))
        return 0
    if args.command == "show" and args.json:
        from ..environment import show_records

        records, missing = show_records(dists, args.names)
        out.write(json.dumps(records, indent=2) + "\n")
        return 0 if records else 1
    if args.command == "show":
        lines, missing = show_lines(dists, args.names)
        if missing:
            sys.stderr.write(f"warning: package(s) not found: {', '.join(missing)}\n")
        out.write("".join(line + "\n" for line in lines))
        return 0 if lines else 1
    problems = check_lines(dists)
    if args.json:
        out.write(json.dumps({"ok": not problems, "problems": problems}, indent=2) + "\n")
        return 1 if problems else 0
    out.write("".join(p + "\n" for p in problems) if problems
              else "No broken requirements found.\n")
    return 1 if problems else 0


def _outdated(args: argparse.Namespace, target: object) -> int:
    from ..api import Installer
    from ..reqfile import RequirementSet
    from ..target import Target
    from . import _build_config

    assert isinstance(target, Target)
    from ..environment import distributions
    from ..errors import UsageError

    if args.format == "freeze":  # as pip: the freeze format has no column for 'latest'
        raise UsageError("list format 'freeze' cannot be used with the --outdated option")
    with Installer(_build_config(args, RequirementSet())) as inst:
        found = inst.outdated(target)
    raw: dict[str, tuple[str, str]] = {d.key: (d.name, d.version)
                                       for d in distributions(target)}
    rows = []
    for n, v, latest, kind in found:
        name, version = raw.get(n, (n, v))
        rows.append((name, version, latest, kind))
    out = sys.stdout
    if args.format == "json":
        out.write(json.dumps([{"name": n, "version": v, "latest_version": lv,
                               "latest_filetype": t} for n, v, lv, t in rows]) + "\n")
        return 0
    if args.format == "freeze":
        out.write("".join(f"{n}=={v}\n" for n, v, _, _ in rows))
        return 0
    if not rows:
        return 0
    table = [("Package", "Version", "Latest", "Type"), *rows]
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    lines = [" ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in table]
    lines.insert(1, " ".join("-" * w for w in widths))
    out.write("".join(line + "\n" for line in lines))
    return 0


def cmd_uninstall(args: argparse.Namespace) -> int:
    from packaging.utils import canonicalize_name

    from ..api import Installer
    from ..errors import UsageError
    from ..installed import installed_distributions
    from ..reqfile import RequirementSet
    from . import _build_config, refuse_externally_managed

    target = _target(args)
    refuse_externally_managed(target, args)
    own = os.path.realpath(target.interpreter.prefix) == os.path.realpath(sys.prefix)
    if own and not args.force and any(canonicalize_name(n) == "pyinst" for n in args.names):
        raise UsageError("refusing to uninstall pyinst from the environment it runs in "
                         "(--force to do it anyway)")
    installed = installed_distributions(target)
    present = [n for n in args.names if canonicalize_name(n) in installed]
    for n in args.names:
        if n not in present:
            sys.stderr.write(f"warning: skipping {n}: not installed\n")
    if not present:
        return 0
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError("not asking without a terminal: pass -y to uninstall")
        shown = ", ".join(f"{installed[canonicalize_name(n)].name}=="
                          f"{installed[canonicalize_name(n)].version}" for n in present)
        answer = input(f"Uninstall {shown} from {target.describe_location()}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            return 1
    with Installer(_build_config(args, RequirementSet())) as inst:
        result = inst.uninstall(present, target)
    if not args.quiet:
        for name, version in result.removed:
            sys.stdout.write(f" - {name}=={version}\n")
    return 0




def add_cache_parser(sub: argparse._SubParsersAction,  # type: ignore[type-arg]
                     common: argparse.ArgumentParser) -> None:
    cache = sub.add_parser("cache", parents=[common], help="inspect or empty the cache")
    cache.add_argument("action", choices=["dir", "info", "clean", "prune"],
                       help="dir: where it is; info: what it holds; clean: remove it; "
                            "prune: remove leftovers of killed or failed calls")
    cache.add_argument("sections", nargs="*", metavar="SECTION",
                       help="with clean: only these parts (wheels, unpacked, http-v1, ...)")


def cmd_cache(args: argparse.Namespace) -> int:
    from ..cache import SECTIONS, cache_clean, cache_info, cache_prune
    from ..errors import UsageError
    from . import _default_cache_dir

    root = Path(args.cache_dir) if args.cache_dir else _default_cache_dir()
    out = sys.stdout
    if args.action == "dir":
        out.write(f"{root}\n")
        return 0
    if args.action == "info":
        total = 0
        width = max(map(len, SECTIONS))
        for name, files, size in cache_info(root):
            total += size
            out.write(f"{name:<{width}} {files:>8} files {size / 1e6:>10.1f} MB  "
                      f"{SECTIONS[name]}\n")
        out.write(f"{'total':<{width}} {'':>14} {total / 1e6:>10.1f} MB  in {root}\n")
        return 0
    if args.action == "prune":
        freed = cache_prune(root)
        out.write(f"Pruned {freed / 1e6:.1f} MB from {root}\n")
        return 0
    unknown = [s for s in args.sections if s not in SECTIONS]
    if unknown:
        raise UsageError(f"no cache section {', '.join(unknown)} (sections: "
                         f"{', '.join(SECTIONS)})")
    freed = cache_clean(root, args.sections or None)
    out.write(f"Removed {freed / 1e6:.1f} MB from {root}\n")
    return 0


__all__ = ["add_cache_parser", "add_parsers", "cmd_cache", "cmd_inspect", "cmd_uninstall"]
