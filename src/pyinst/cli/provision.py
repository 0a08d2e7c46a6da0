"""``pyinst provision MANIFEST``: many targets from one TOML or JSON manifest.

    [[target]]
    python = "envs/a"            # an interpreter or environment (or: directory = "plugins")
    requirements = ["rich", "requests>=2"]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import PyinstError, UsageError


def _load(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read manifest {path}: {exc.strerror}") from None
    try:
        if path.suffix == ".json":
            data = json.loads(raw)
        else:
            from .. import toml
            data = toml.loads(raw.decode("utf-8"))
    except ValueError as exc:
        raise UsageError(f"manifest {path} is not valid {path.suffix[1:] or 'TOML'}: "
                         f"{exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"manifest {path}: expected a table of targets")
    return data


def read_manifest(path: Path) -> list[tuple[dict[str, str], list[str]]]:
    """(where, requirements) per target; ``where`` has ``python`` and/or ``directory``."""
    data = _load(path)
    entries = data.get("target", data.get("targets"))
    if not isinstance(entries, list) or not entries:
        raise UsageError(f"manifest {path}: expected a non-empty list 'target' of tables")
    base = path.parent
    out = []
    for n, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise UsageError(f"manifest {path}: target {n} is not a table")
        reqs = entry.get("requirements")
        if not isinstance(reqs, list) or not all(isinstance(r, str) for r in reqs):
            raise UsageError(f"manifest {path}: target {n} needs a list of 'requirements'")
        where = {k: str(base / str(entry[k])) for k in ("python", "directory") if k in entry}
        if not where:
            raise UsageError(f"manifest {path}: target {n} needs 'python' or 'directory'")
        out.append((where, list(reqs)))
    return out


def cmd_provision(args: argparse.Namespace) -> int:
    from ..api import Installer
    from ..reqfile import RequirementSet, UserRequirement, parse_requirement
    from ..target import Target
    from . import _build_config, cache_root
    from .progress import progress_sink

    manifest = Path(args.manifest)
    entries = read_manifest(manifest)
    targets: dict[Target, list[UserRequirement]] = {}
    cache = cache_root(args)
    for where, reqs in entries:
        if "directory" in where:
            target = Target.directory(where["directory"], python=where.get("python"),
                                      cache_dir=cache)
        else:
            target = Target.from_python(where["python"], cache_dir=cache)
        targets[target] = [UserRequirement(parse_requirement(r, base_dir=manifest.parent))
                           for r in reqs]
    config = _build_config(args, RequirementSet())
    with progress_sink(args) as sink, Installer(config, on_event=sink) as inst:
        results = inst.provision(targets, max_workers=args.max_workers, upgrade=args.upgrade)
    failures = 0
    for target, result in results.items():
        location = target.describe_location()
        if isinstance(result, PyinstError):
            failures += 1
            sys.stderr.write(f"error: {location}: {result}\n")
        elif not args.quiet:
            changes = f"+{len(result.installed)} -{len(result.removed)}"
            sys.stdout.write(f"ok {location} ({changes})\n")
    if not args.quiet:
        sys.stdout.write(f"Provisioned {len(results) - failures} of {len(results)} targets\n")
    return 1 if failures else 0
