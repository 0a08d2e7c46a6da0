"""The unpacked-wheel cache as installs read it: a manifest of every file with its hash,
beside the files laid out by scheme (``<entry>/<scheme>/<path>``). Reading an entry needs
neither `installer` nor the wheel; `unpack` makes entries.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from .models import Pin

MANIFEST = "pyinst-manifest.json"
_FORMAT = 1


class UnpackedFile(NamedTuple):
    """One file of an unpacked wheel. A named tuple, not a frozen dataclass: an install
    reads tens of thousands of these from manifests, and a frozen dataclass's
    ``__init__`` costs several times a tuple's."""

    scheme: str
    path: str
    hash: str  # "sha256=<urlsafe b64>"
    size: int
    executable: bool


@dataclass(frozen=True)
class UnpackedWheel:
    """A verified wheel laid out by scheme in the cache, ready to be linked."""

    root: Path
    dist_info: str
    root_scheme: str
    files: tuple[UnpackedFile, ...]
    #: console/gui entry points: (name, module, attr, section)
    scripts: tuple[tuple[str, str, str, str], ...]
    #: (scheme, first path component) of every file: what two wheels must both have for
    #: them to write the same path (kept in the manifest, so no install walks the files)
    tops: frozenset[tuple[str, str]] = frozenset()

    @property
    def sha256(self) -> str:
        """The wheel's sha256: entries are kept under it (see `unpack`)."""
        return self.root.name

    def to_json(self) -> dict[str, object]:
        return {
            "format": _FORMAT,
            "dist_info": self.dist_info,
            "root_scheme": self.root_scheme,
            "files": [[f.scheme, f.path, f.hash, f.size, f.executable] for f in self.files],
            "scripts": [list(s) for s in self.scripts],
            "tops": sorted(self.tops or _tops(self.files)),
        }

    @classmethod
    def from_json(cls, root: Path, data: dict[str, Any]) -> UnpackedWheel:
        make = UnpackedFile._make
        files = tuple(make(row) for row in data["files"])
        if not all(type(f.path) is str and type(f.size) is int for f in files):
            raise ValueError("a damaged manifest")
        scripts = tuple((str(a), str(b), str(c), str(d)) for a, b, c, d in data["scripts"])
        tops = (frozenset((str(a), str(b)) for a, b in data["tops"]) if "tops" in data
                else _tops(files))  # a manifest from before they were kept
        return cls(root=root, dist_info=str(data["dist_info"]),
                   root_scheme=str(data["root_scheme"]), files=files, scripts=scripts,
                   tops=tops)


def _tops(files: tuple[UnpackedFile, ...]) -> frozenset[tuple[str, str]]:
    return frozenset((f.scheme, f.path.partition("/")[0]) for f in files)


def record_hash(digest: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


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


def read_manifest(entry: Path) -> UnpackedWheel | None:
    """The entry's manifest, or ``None`` when there is none or it is damaged (then the
    entry is made again, as if it were missing)."""
    try:
        data = json.loads((entry / MANIFEST).read_text("utf-8"))
        return UnpackedWheel.from_json(entry, data)
    except (OSError, ValueError, TypeError, KeyError):
        return None


