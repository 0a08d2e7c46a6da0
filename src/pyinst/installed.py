"""What a target has installed: ``.dist-info`` directories, their RECORDs, uninstalling."""

from __future__ import annotations

import contextlib
import csv
import io
import os
from collections.abc import Iterator
from pathlib import Path

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from .errors import UninstallError
from .metadata import name_and_version
from .models import InstalledDistribution
from .target import Target
from .transaction import Transaction


def _read_name_version(dist_info: Path) -> tuple[NormalizedName, Version] | None:
    try:
        name, version = name_and_version((dist_info / "METADATA").read_bytes())
        if name and version:
            return canonicalize_name(name), Version(version)
    except (OSError, InvalidVersion, ValueError):
        pass
    # Fall back to the directory name (name-version.dist-info)
    stem = dist_info.name[: -len(".dist-info")]
    name_part, sep, version_part = stem.rpartition("-")
    if not sep:
        return None
    try:
        return canonicalize_name(name_part), Version(version_part)
    except InvalidVersion:
        return None


def installed_distributions(target: Target) -> dict[NormalizedName, InstalledDistribution]:
    """Every distribution with a ``.dist-info`` in the target's site directories.

    When one name appears twice, the first site directory wins (as on ``sys.path``).
    """
    found: dict[NormalizedName, InstalledDistribution] = {}
    for site in target.site_dirs:
        try:
            entries = sorted(os.scandir(site), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if not entry.name.endswith(".dist-info") or not entry.is_dir():
                continue
            path = Path(entry.path)
            nv = _read_name_version(path)
            if nv is None or nv[0] in found:
                continue
            installer = ""
            with contextlib.suppress(OSError):
                installer = (path / "INSTALLER").read_text(encoding="utf-8").strip()
            found[nv[0]] = InstalledDistribution(name=nv[0], version=nv[1], dist_info=path,
                                                 installer=installer)
    return found


def read_metadata(dist: InstalledDistribution) -> bytes:
    try:
        return (dist.dist_info / "METADATA").read_bytes()
    except OSError:
        return b""


def record_paths(dist: InstalledDistribution) -> list[Path]:
    """Absolute paths of the files the distribution's RECORD lists."""
    record = dist.dist_info / "RECORD"
    try:
        text = record.read_text(encoding="utf-8")
    except OSError as exc:
        raise UninstallError(
            f"cannot uninstall '{dist.name}' {dist.version}: no readable RECORD in "
            f"{dist.dist_info} ({exc.strerror})", package=dist.name) from exc
    paths = []
    for row in csv.reader(io.StringIO(text)):
        if not row or not row[0]:
            continue
        paths.append(Path(os.path.normpath(dist.site_dir / row[0])))
    return paths


def _with_bytecode(paths: list[Path]) -> Iterator[Path]:
    for p in paths:
        yield p
        if p.suffix == ".py":
            cache = p.parent / "__pycache__"
            if cache.is_dir():
                yield from cache.glob(f"{p.stem}.*.pyc")


def _allowed_roots(target: Target) -> list[Path]:
    """A RECORD may only name files under one of the target's scheme directories."""
    return [Path(os.path.normpath(v)) for v in target.scheme.values()]


def remove_distribution(dist: InstalledDistribution, target: Target, tx: Transaction) -> None:
    """Move every file of ``dist`` (by its RECORD) out of the way, within ``tx``.

    Paths that point outside the target are refused, never touched.
    """
    roots = _allowed_roots(target)
    paths = record_paths(dist)
    for p in paths:
        if not any(p == r or r in p.parents for r in roots):
            raise UninstallError(
                f"cannot uninstall '{dist.name}': its RECORD lists {p}, outside the target",
                package=dist.name)
    try:
        _move_out(dist, paths, target, tx, roots)
    except OSError as exc:  # a read-only target, a full disk (the backup is a copy then)
        raise UninstallError(f"removing '{dist.name}' {dist.version} failed: {exc}; the "
                             "target was restored", package=dist.name) from exc


def _move_out(dist: InstalledDistribution, paths: list[Path], target: Target,
              tx: Transaction, roots: list[Path]) -> None:
    dirs: set[Path] = set()
    for p in _with_bytecode(paths):
        if p.is_file() or p.is_symlink():
            tx.remove_file(p)
            dirs.add(p.parent)
    # Remove directories left empty, deepest first, never a scheme root itself.
    stops = {Path(os.path.normpath(v)) for v in target.scheme.values()} | set(target.site_dirs)
    dirs.add(dist.dist_info)
    candidates: set[Path] = set()
    for d in dirs:
        while d not in stops and any(d != r and r in d.parents for r in roots):
            candidates.add(d)
            d = d.parent
    for d in sorted(candidates, key=lambda x: len(x.parts), reverse=True):
        pycache = d / "__pycache__"
        if pycache.is_dir() and not any(pycache.iterdir()):
            tx.remove_empty_dir(pycache)
        if d.is_dir() and not any(d.iterdir()):
            tx.remove_empty_dir(d)
