"""Which links fit a target: names, tags, Requires-Python, yanked, pre-releases. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from .config import BinaryPolicy
from .models import Link


@dataclass(frozen=True)
class FileCandidate:
    """A link that can be installed on the target, with what it offers."""

    name: NormalizedName
    version: Version
    link: Link
    #: position of the best matching tag in the target's priority list (lower is better)
    rank: int


@dataclass
class Evaluation:
    """Links of one project sorted into usable wheels and the reasons for the rest."""

    name: NormalizedName
    usable: list[FileCandidate] = field(default_factory=list)
    #: (link, reason) for every link that cannot be used
    rejected: list[tuple[Link, str]] = field(default_factory=list)

    def best_by_version(self) -> dict[Version, FileCandidate]:
        """For each version, the file with the best tag (ties keep index order)."""
        best: dict[Version, FileCandidate] = {}
        for fc in self.usable:
            cur = best.get(fc.version)
            if cur is None or fc.rank < cur.rank:
                best[fc.version] = fc
        return best

    def explain(self, python_version: Version) -> str:
        """One sentence on why nothing is usable."""
        reasons = [r for _, r in self.rejected]
        if not reasons:
            return "it has no files"
        if all(r == "source distribution" for r in reasons):
            return "only source distributions are offered, and building from source is not " \
                   "supported yet"
        rp = sorted({r for r in reasons if r.startswith("requires Python")})
        if rp and all(r.startswith("requires Python") or r == "source distribution"
                      for r in reasons):
            return f"every file {rp[-1]}, and the target has Python {python_version}"
        tags = sorted({r.split(": ", 1)[1] for r in reasons if r.startswith("incompatible tags")})
        if tags:
            shown = ", ".join(tags[:4]) + (", ..." if len(tags) > 4 else "")
            return f"no wheel matches the target's tags (wheels offered for: {shown})"
        if any(r == "binary not allowed" for r in reasons):
            return "wheels are refused by --no-binary and source builds are not supported yet"
        return "; ".join(sorted(set(reasons)))


def tag_ranks(tags: Sequence[Tag]) -> dict[Tag, int]:
    ranks: dict[Tag, int] = {}
    for i, tag in enumerate(tags):
        ranks.setdefault(tag, i)
    return ranks


def evaluate_links(
    name: NormalizedName,
    links: Iterable[Link],
    *,
    ranks: Mapping[Tag, int],
    python_version: Version,
    binary: BinaryPolicy,
) -> Evaluation:
    """Sort links into usable wheels for the target and rejected files (with reasons)."""
    ev = Evaluation(name=name)
    for link in links:
        reason, fc = _evaluate(name, link, ranks, python_version, binary)
        if fc is not None:
            ev.usable.append(fc)
        elif reason:
            ev.rejected.append((link, reason))
    return ev


def _evaluate(
    name: NormalizedName,
    link: Link,
    ranks: Mapping[Tag, int],
    python_version: Version,
    binary: BinaryPolicy,
) -> tuple[str, FileCandidate | None]:
    if not link.is_wheel:
        try:
            sname, _ = parse_sdist_filename(link.filename)
        except InvalidSdistFilename:
            return "", None  # not a distribution at all (a stray link): ignore silently
        return ("source distribution" if sname == name else ""), None
    try:
        wname, version, _, tags = parse_wheel_filename(link.filename)
    except InvalidWheelFilename:
        return "invalid wheel file name", None
    if wname != name:
        return "", None
    if not binary.wheels_allowed(name):
        return "binary not allowed", None
    if link.requires_python:
        try:
            spec = SpecifierSet(link.requires_python)
        except InvalidSpecifier:
            spec = None  # a broken attribute is ignored, as pip and uv do
        if spec is not None and not spec.contains(python_version, prereleases=True):
            return f"requires Python {link.requires_python}", None
    rank = min((ranks[t] for t in tags if t in ranks), default=None)
    if rank is None:
        shown = ".".join(sorted({f"{t.interpreter}-{t.abi}-{t.platform}" for t in tags}))
        return f"incompatible tags: {shown}", None
    return "", FileCandidate(name=name, version=version, link=link, rank=rank)
