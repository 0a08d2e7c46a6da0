"""The unpacked-wheel cache as installs read it: a manifest of every file with its hash,
beside the files laid out by scheme (``<entry>/<scheme>/<path>``). Reading an entry needs
neither `installer` nor the wheel; `unpack` makes entries.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from .models import Pin

MANIFEST = "pyinst-manifest.json"
_FORMAT = 2


class UnpackedFile(NamedTuple):
    """One file of an unpacked wheel, as a row (see `UnpackedWheel.files`)."""

    scheme: str
    path: str
    hash: str  # "sha256=<urlsafe b64>"
    size: int
    executable: bool


class SchemeFiles(NamedTuple):
    """The files of an unpacked wheel in one scheme, kept by column: an install links
    tens of thousands of files and writes their RECORD rows, and reading (and linking)
    one list of paths and one block of text costs far less than an object per file."""

    scheme: str
    #: relative to the scheme's directory, "/"-separated, in RECORD's order
    paths: tuple[str, ...]
    #: RECORD's rows for these paths (CSV, relative to the scheme's directory)
    record: str
    #: indices into ``paths`` of the executable files
    executable: frozenset[int]

    def rows(self) -> list[UnpackedFile]:
        import csv
        import io

        parsed = list(csv.reader(io.StringIO(self.record, newline="")))
        if len(parsed) != len(self.paths) or any(
                len(r) != 3 or r[0] != p for r, p in zip(parsed, self.paths)):
            raise ValueError("a damaged manifest: its RECORD rows do not match its paths")
        return [UnpackedFile(self.scheme, path, h, int(size), i in self.executable)
                for i, (path, h, size) in enumerate(parsed)]


@dataclass(frozen=True)
class UnpackedWheel:
    """A verified wheel laid out by scheme in the cache, ready to be linked."""

    root: Path
    dist_info: str
    root_scheme: str
    groups: tuple[SchemeFiles, ...]
    #: console/gui entry points: (name, module, attr, section)
    scripts: tuple[tuple[str, str, str, str], ...]
    #: (scheme, first path component) of every file: what two wheels must both have for
    #: them to write the same path (kept in the manifest, so no install walks the files)
    tops: frozenset[tuple[str, str]] = frozenset()

    @classmethod
    def from_files(cls, root: Path, dist_info: str, root_scheme: str,
                   files: Iterable[UnpackedFile],
                   scripts: tuple[tuple[str, str, str, str], ...]) -> UnpackedWheel:
        by_scheme: dict[str, list[UnpackedFile]] = {}
        for f in files:
            by_scheme.setdefault(f.scheme, []).append(f)
        groups = tuple(
            SchemeFiles(scheme, tuple(f.path for f in rows),
                        record_text([(f.path, f.hash, str(f.size)) for f in rows]),
                        frozenset(i for i, f in enumerate(rows) if f.executable))
            for scheme, rows in by_scheme.items())
        return cls(root=root, dist_info=dist_info, root_scheme=root_scheme, groups=groups,
                   scripts=scripts, tops=_tops(groups))

    @property
    def files(self) -> list[UnpackedFile]:
        """Every file as a row (parsed from the columns: for the rare reader)."""
        return [f for g in self.groups for f in g.rows()]

    @property
    def sha256(self) -> str:
        """The wheel's sha256: entries are kept under it (see `unpack`)."""
        return self.root.name

    def to_json(self) -> dict[str, object]:
        return {
            "format": _FORMAT,
            "dist_info": self.dist_info,
            "root_scheme": self.root_scheme,
            "schemes": {g.scheme: {"paths": list(g.paths), "record": g.record,
                                   "executable": sorted(g.executable)}
                        for g in self.groups},
            "scripts": [list(s) for s in self.scripts],
            "tops": sorted(self.tops or _tops(self.groups)),
        }

    @classmethod
    def from_json(cls, root: Path, data: dict[str, Any]) -> UnpackedWheel:
        scripts = tuple((str(a), str(b), str(c), str(d)) for a, b, c, d in data["scripts"])
        if data.get("format") == 1:  # rows, one list per file (pyinst 0.1 before columns)
            make = UnpackedFile._make
            return cls.from_files(root, str(data["dist_info"]), str(data["root_scheme"]),
                                  [make(row) for row in data["files"]], scripts)
        if data.get("format") != _FORMAT:
            raise ValueError("a manifest of an unknown format")
        groups = []
        for scheme, g in data["schemes"].items():
            paths, record = tuple(g["paths"]), g["record"]
            if type(record) is not str or not all(type(p) is str for p in paths):
                raise ValueError("a damaged manifest")
            group = SchemeFiles(str(scheme), paths, record,
                                frozenset(int(i) for i in g["executable"]))
            if record.count("\n") != len(paths):  # quoted newlines, or damage: look closer
                group.rows()
            groups.append(group)
        return cls(root=root, dist_info=str(data["dist_info"]),
                   root_scheme=str(data["root_scheme"]), groups=tuple(groups),
                   scripts=scripts,
                   tops=frozenset((str(a), str(b)) for a, b in data["tops"]))


#: paths in manifests and wheels use "/"; where that is the separator too, a plain path
#: needs no normalising
PLAIN_SEP = os.sep == "/"


def plain_paths(paths: Sequence[str]) -> bool:
    """Whether every path is plain: not empty, not starting or ending with "/", and
    without an empty, "." or ".." component (so ``root + "/" + path`` is already
    normalised and inside root; a dot-file such as ``locale/.tx/config`` is plain).
    Looked for in all the paths at once, joined by "/" and wrapped in "/": there every
    component of every path stands between two slashes, and such a component is there
    exactly when "//", "/./" or "/../" is."""
    if not PLAIN_SEP or not paths:
        return not paths
    text = "/" + "/".join(paths) + "/"
    return "//" not in text and "/./" not in text and "/../" not in text


def _tops(groups: Iterable[SchemeFiles]) -> frozenset[tuple[str, str]]:
    return frozenset((g.scheme, p.partition("/")[0]) for g in groups for p in g.paths)


def record_text(rows: Sequence[tuple[str, str, str]]) -> str:
    """RECORD's CSV. Rows whose fields need no quoting (all of them, nearly always) are
    joined directly; otherwise `csv` writes them. Both give the same text."""
    text = "".join([f"{a},{b},{c}\n" for a, b, c in rows])
    if text.count(",") == 2 * len(rows) and text.count("\n") == len(rows) \
            and '"' not in text and "\r" not in text:
        return text
    import csv
    import io

    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def record_hash(digest: bytes, algo: str = "sha256") -> str:
    """A RECORD row's hash field: ``algo=`` and the digest in unpadded URL-safe base64."""
    return algo + "=" + base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def _entry(cache_root: Path, key: str) -> Path:
    return cache_root / "unpacked" / key[:2] / key


def _index_sha256(pin: Pin) -> str | None:
    known = pin.link.hashes.get("sha256") if pin.link is not None else None
    return known if known and len(known) == 64 else None


def cached_unpacked(pin: Pin, cache_root: Path) -> UnpackedWheel | None:
    """The unpacked tree of ``pin``'s wheel when the index's sha256 names one already
    (made, and verified, by an earlier install): the wheel need not be read at all."""
    key = _index_sha256(pin)
    if key is None:
        return None
    return read_manifest(_entry(cache_root, key))


def has_unpacked(pin: Pin, cache_root: Path) -> bool:
    """Whether ``pin``'s wheel looks unpacked in the cache already (one ``stat``)."""
    key = _index_sha256(pin)
    return key is not None and (_entry(cache_root, key) / MANIFEST).is_file()


def read_manifest(entry: Path) -> UnpackedWheel | None:
    """The entry's manifest, or ``None`` when there is none or it is damaged (then the
    entry is made again, as if it were missing)."""
    try:
        data = json.loads((entry / MANIFEST).read_text("utf-8"))
        unpacked = UnpackedWheel.from_json(entry, data)
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if data.get("format") != _FORMAT:  # written by an older pyinst: kept in today's form
        with contextlib.suppress(OSError):  # a read-only cache still installs as it is
            write_manifest(unpacked, entry)
    return unpacked


def write_manifest(unpacked: UnpackedWheel, entry: Path) -> None:
    """Write (or replace, atomically: readers may be looking) the manifest of ``entry``."""
    tmp = entry / f".{MANIFEST}.{os.urandom(4).hex()}"
    try:
        tmp.write_text(json.dumps(unpacked.to_json()), "utf-8")
        os.replace(tmp, entry / MANIFEST)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


