"""Which links fit a target: names, tags, Requires-Python, yanked, pre-releases. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag, parse_tag
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from .config import BinaryPolicy
from .models import Link

#: the rank of a source distribution: after every wheel (a wheel of the same version
#: is always preferred, as pip and uv do)
SOURCE_RANK = 1 << 30
SOURCE_REFUSED = "source distribution refused by --only-binary"


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
    """Links of one project sorted into usable files and the reasons for the rest."""

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
        if all(r == SOURCE_REFUSED for r in reasons):
            return "only source distributions are offered, and --only-binary refuses them"
        rp = sorted({r for r in reasons if r.startswith("requires Python")})
        if rp and all(r.startswith("requires Python") or r == SOURCE_REFUSED
                      for r in reasons):
            return f"every file {rp[-1]}, and the target has Python {python_version}"
        tags = sorted({r.split(": ", 1)[1] for r in reasons if r.startswith("incompatible tags")})
        if tags:
            shown = ", ".join(tags[:4]) + (", ..." if len(tags) > 4 else "")
            return f"no wheel matches the target's tags (wheels offered for: {shown})"
        if any(r == "binary not allowed" for r in reasons):
            return "wheels are refused by --no-binary and there is no source distribution"
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
    """Sort links into usable wheels for the target and rejected files (with reasons).

    Pages list thousands of files sharing a few dozen tag sets and Requires-Python
    strings, so both verdicts are memoised; full file-name parsing is left for the
    files that pass.
    """
    ev = Evaluation(name=name)
    python_ok: dict[str, bool] = {}
    tag_rank: dict[str, int | None] = {}
    wheels_allowed = binary.wheels_allowed(name)
    sources_allowed = binary.sources_allowed(name)
    for link in links:
        reason, fc = _evaluate(name, link, ranks, python_version, wheels_allowed,
                               sources_allowed, python_ok, tag_rank)
        if fc is not None:
            ev.usable.append(fc)
        elif reason:
            ev.rejected.append((link, reason))
    return ev


def _python_ok(requires_python: str, python_version: Version) -> bool:
    try:
        spec = SpecifierSet(requires_python)
    except InvalidSpecifier:
        return True  # a broken attribute is ignored, as pip and uv do
    return spec.contains(python_version, prereleases=True)


def _python_verdict(link: Link, python_version: Version, memo: dict[str, bool]) -> str:
    rp = link.requires_python
    if rp:
        ok = memo.get(rp)
        if ok is None:
            ok = memo[rp] = _python_ok(rp, python_version)
        if not ok:
            return f"requires Python {rp}"
    return ""


def _rank(tag_part: str, ranks: Mapping[Tag, int]) -> int | None:
    """Best rank of a compressed tag set, or None; -1 when the tags cannot be parsed."""
    try:
        tags = parse_tag(tag_part)
    except ValueError:  # packaging's InvalidTag (a ValueError) for e.g. "py36+"
        return -1
    return min((ranks[t] for t in tags if t in ranks), default=None)


def _evaluate(
    name: NormalizedName,
    link: Link,
    ranks: Mapping[Tag, int],
    python_version: Version,
    wheels_allowed: bool,
    sources_allowed: bool,
    python_memo: dict[str, bool],
    rank_memo: dict[str, int | None],
) -> tuple[str, FileCandidate | None]:
    filename = link.filename
    if not link.is_wheel:
        try:
            sname, sversion = parse_sdist_filename(filename)
        except InvalidSdistFilename:
            return "", None  # not a distribution at all (a stray link): ignore silently
        if sname != name:
            return "", None
        if not sources_allowed:
            return SOURCE_REFUSED, None
        why = _python_verdict(link, python_version, python_memo)
        if why:
            return why, None
        return "", FileCandidate(name=name, version=sversion, link=link, rank=SOURCE_RANK)
    parts = filename[:-4].split("-")
    if len(parts) not in (5, 6):
        return "invalid wheel file name", None
    if canonicalize_name(parts[0]) != name:
        return "", None
    if not wheels_allowed:
        return "binary not allowed", None
    why = _python_verdict(link, python_version, python_memo)
    if why:
        return why, None
    tag_part = "-".join(parts[-3:])
    if tag_part in rank_memo:
        rank = rank_memo[tag_part]
    else:
        rank = rank_memo[tag_part] = _rank(tag_part, ranks)
    if rank == -1:
        return "invalid wheel file name", None
    if rank is None:
        return f"incompatible tags: {tag_part}", None
    try:
        wname, version, _, _ = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return "invalid wheel file name", None
    if wname != name:
        return "", None
    return "", FileCandidate(name=name, version=version, link=link, rank=rank)
