"""What a target holds, read the way pip reads it: for ``list``, ``freeze``, ``show`` and
``check`` (whose output matches pip's on the same environment)."""

from __future__ import annotations

import json
import string
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import Message
from email.parser import Parser
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from .installed import installed_distributions
from .target import Target

#: what ``freeze`` leaves out unless asked (pip's list; before 3.12 the build tools too)
_FREEZE_SKIP = {"pip"}
_FREEZE_SKIP_OLD = {"pip", "setuptools", "wheel", "distribute"}


@dataclass(frozen=True)
class Dist:
    name: str  # as its metadata writes it
    key: NormalizedName
    version: str
    location: str
    dist_info: Path
    metadata: Message
    requires: tuple[Requirement, ...]
    direct_url: dict[str, object] | None

    @property
    def editable_location(self) -> str | None:
        info = (self.direct_url or {}).get("dir_info")
        if isinstance(info, dict) and info.get("editable"):
            url = str((self.direct_url or {}).get("url", ""))
            return url[len("file://"):] if url.startswith("file://") else url
        return None


def distributions(target: Target) -> list[Dist]:
    """Every distribution in ``target``, sorted by normalised name (as pip lists them)."""
    env = {**target.markers, "extra": ""}
    out = []
    for key, d in installed_distributions(target).items():
        try:
            # as importlib.metadata reads it: UTF-8 text, so headers stay strings
            meta = Parser().parsestr((d.dist_info / "METADATA").read_text("utf-8",
                                                                          "replace"))
        except OSError:
            continue
        requires = []
        for text in meta.get_all("Requires-Dist", []):
            try:
                req = Requirement(text)
            except InvalidRequirement:
                continue
            if req.marker is None or req.marker.evaluate(env):
                requires.append(req)
        try:
            direct = json.loads((d.dist_info / "direct_url.json").read_text("utf-8"))
        except (OSError, ValueError):
            direct = None
        out.append(Dist(name=meta.get("Name") or key, key=key,
                        version=meta.get("Version") or str(d.version),
                        location=str(d.site_dir), dist_info=d.dist_info, metadata=meta,
                        requires=tuple(requires), direct_url=direct))
    return sorted(out, key=lambda x: x.key)


def list_columns(dists: Iterable[Dist]) -> list[str]:
    rows = [(d.name, d.version, d.editable_location) for d in dists]
    editable = any(r[2] for r in rows)
    header = ["Package", "Version"] + (["Editable project location"] if editable else [])
    table = [header] + [[n, v] + ([e or ""] if editable else []) for n, v, e in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = [" ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in table]
    lines.insert(1, " ".join("-" * w for w in widths))
    return lines


def freeze_lines(dists: Iterable[Dist], target: Target, *, all: bool = False) -> list[str]:
    old = target.interpreter.version[:2] < (3, 12)
    skip = set() if all else (_FREEZE_SKIP_OLD if old else _FREEZE_SKIP)
    out = []
    for d in sorted(dists, key=lambda x: x.name.lower()):
        if d.key in skip:
            continue
        du = d.direct_url or {}
        url = str(du.get("url", ""))
        if d.editable_location is not None:
            out += [f"# Editable install with no version control ({d.name}=={d.version})",
                    f"-e {d.editable_location}"]
        elif "vcs_info" in du:
            vcs = du["vcs_info"]
            commit = vcs.get("commit_id", "") if isinstance(vcs, dict) else ""
            out.append(f"{d.name} @ git+{url}@{commit}")
        elif url:
            archive = du.get("archive_info")
            fragment = ""
            if isinstance(archive, dict):
                hashes = archive.get("hashes") or {}
                legacy = archive.get("hash")
                if isinstance(hashes, dict) and hashes.get("sha256"):
                    fragment = f"#sha256={hashes['sha256']}"
                elif isinstance(legacy, str) and "=" in legacy:
                    fragment = f"#{legacy}"
            out.append(f"{d.name} @ {url}{fragment}")
        else:
            out.append(f"{d.name}=={d.version}")
    return out


def _field(m: Message, name: str) -> str:
    """A header as importlib.metadata gives it (and pip prints it): continuation lines
    lose the 8-space RFC 822 indent core-metadata writers put there."""
    import textwrap

    value = m.get(name, "") or ""
    return textwrap.dedent(" " * 8 + value) if "\n" in value else value


def _label(label: str) -> str:
    return label.translate(str.maketrans("", "", string.punctuation + string.whitespace)) \
        .lower()


def show_lines(dists: list[Dist], names: Iterable[str]) -> tuple[list[str], list[str]]:
    """pip's ``show`` for ``names``; also the names not installed."""
    by_key = {d.key: d for d in dists}
    wanted = [canonicalize_name(n) for n in names]
    missing = sorted(n for n, k in zip(names, wanted) if k not in by_key)
    lines: list[str] = []
    for key in wanted:
        d = by_key.get(key)
        if d is None:
            continue
        if lines:
            lines.append("---")
        m = d.metadata
        homepage = m.get("Home-page", "")
        if not homepage:
            for entry in m.get_all("Project-URL", []):
                label, _, url = entry.partition(",")
                if _label(label) == "homepage":
                    homepage = url.strip()
                    break
        required_by = sorted((o.name for o in dists
                              if key in {canonicalize_name(r.name) for r in o.requires}),
                             key=str.lower)
        lines += [f"Name: {d.name}", f"Version: {d.version}",
                  f"Summary: {_field(m, 'Summary')}", f"Home-page: {homepage}",
                  f"Author: {_field(m, 'Author')}",
                  f"Author-email: {_field(m, 'Author-email')}"]
        mv = tuple(int(p) for p in (m.get("Metadata-Version") or "0").split(".")
                   if p.isdigit())
        if mv >= (2, 4) and m.get("License-Expression"):
            lines.append(f"License-Expression: {_field(m, 'License-Expression')}")
        else:
            lines.append(f"License: {_field(m, 'License')}")
        lines.append(f"Location: {d.location}")
        if d.editable_location is not None:
            lines.append(f"Editable project location: {d.editable_location}")
        lines += [f"Requires: {', '.join(sorted({r.name for r in d.requires}, key=str.lower))}",
                  f"Required-by: {', '.join(required_by)}"]
    # pip's console expands tabs (at 8); one string may hold several lines
    text = "\n".join(lines)
    return [line.expandtabs(8) for line in text.split("\n")] if lines else [], missing


def show_records(dists: list[Dist], names: Iterable[str]
                 ) -> tuple[list[dict[str, object]], list[str]]:
    """``show`` as data: one record per installed name, and the names not installed."""
    by_key = {d.key: d for d in dists}
    names = list(names)
    missing = sorted(n for n in names if canonicalize_name(n) not in by_key)
    records: list[dict[str, object]] = []
    for n in names:
        d = by_key.get(canonicalize_name(n))
        if d is None:
            continue
        key = d.key
        records.append({
            "name": d.name, "version": d.version, "location": d.location,
            "summary": _field(d.metadata, "Summary"),
            "requires": sorted({r.name for r in d.requires}, key=str.lower),
            "required_by": sorted((o.name for o in dists if key in
                                   {canonicalize_name(r.name) for r in o.requires}),
                                  key=str.lower),
            "editable_project_location": d.editable_location,
            "direct_url": d.direct_url,
        })
    return records, missing


def tree_lines(dists: list[Dist], roots: Iterable[str] = ()) -> list[str]:
    """The dependency tree: each root (by default what nothing else requires) with what
    it requires, indented; a name met again on the same branch is marked, not followed."""
    by_key = {d.key: d for d in dists}
    required = {canonicalize_name(r.name) for d in dists for r in d.requires}
    starts = [canonicalize_name(r) for r in roots] or [d.key for d in dists
                                                       if d.key not in required]
    lines: list[str] = []

    def walk(key: NormalizedName, spec: str, depth: int, path: tuple[str, ...]) -> None:
        d = by_key.get(key)
        pad = "    " * depth
        if d is None:
            lines.append(f"{pad}{key}{spec} [not installed]")
            return
        cycle = " (cycle)" if key in path else ""
        lines.append(f"{pad}{d.name} {d.version}" + (f" [requires: {spec}]" if spec else "")
                     + cycle)
        if cycle:
            return
        for r in sorted(d.requires, key=lambda x: canonicalize_name(x.name)):
            walk(canonicalize_name(r.name), str(r.specifier) or "any", depth + 1,
                 (*path, key))

    for key in starts:
        walk(key, "", 0, ())
    return lines


def check_lines(dists: list[Dist]) -> list[str]:
    """pip's ``check``: missing dependencies, then conflicting ones (empty: all good)."""
    versions: dict[NormalizedName, str] = {d.key: d.version for d in dists}
    missing: list[str] = []
    conflicting: list[str] = []
    for d in dists:
        miss, clash = set(), set()
        for req in d.requires:
            name = canonicalize_name(req.name)
            have = versions.get(name)
            if have is None:
                miss.add((name, str(req)))
                continue
            try:
                ok = req.specifier.contains(Version(have), prereleases=True)
            except InvalidVersion:
                ok = True
            if not ok:
                clash.add((name, have, str(req)))
        missing += [f"{d.key} {d.version} requires {n}, which is not installed."
                    for n, _ in sorted(miss, key=str)]
        conflicting += [f"{d.key} {d.version} has requirement {r}, but you have {n} {v}."
                        for n, v, r in sorted(clash, key=str)]
    return missing + conflicting


__all__ = ["Dist", "check_lines", "distributions", "freeze_lines", "list_columns",
           "show_lines", "show_records", "tree_lines"]
