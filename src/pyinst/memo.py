"""Remembered resolutions: the same request on the same target against the same index
pages gives the same pins, so a repeated install need not run the resolver again.

A resolution is a pure function of its inputs: the requirements and options, the
target's markers, tags and installed distributions, and the index pages it read (the
metadata of a file is fixed by the file's hashes on those pages). The memo's key covers
the first three; each entry lists the cached page files the resolver read, with their
size, modification time and freshness deadline. An entry is used only while every one
of those files is unchanged and still fresh, so anything that would make pyinst fetch
or revalidate a page (``--refresh``, an expired page, a page another call rewrote) makes
it resolve for real, and remember the new answer.

Only plain index requirements are remembered: no URLs, paths, editables or find-links
(their contents change without the page cache knowing), and only resolutions whose
every file's metadata is a PEP 658 sidecar in the cache (so the exact bytes the
resolver read can be served again).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from . import __version__
from .cache import Cache
from .index.httpcache import PageStamp
from .models import Link, Pin, Resolution

#: bump when what an entry holds, or what the key covers, changes
_FORMAT = 1


def request_key(*, requirements: Sequence[tuple[str, bool, Mapping[str, Sequence[str]]]],
                constraints: Sequence[tuple[str, bool, Mapping[str, Sequence[str]]]],
                options: Mapping[str, Any], markers: Mapping[str, str], tags: Iterable[Any],
                installed: Iterable[tuple[str, str, str]]) -> str:
    """A digest of everything a resolution depends on, pages aside. Where the target is
    does not matter, only what it is and holds (so a fresh venv of the same interpreter
    gets the same answer)."""
    data = {
        "format": _FORMAT, "pyinst": __version__,
        "requirements": [[t, e, {k: sorted(v) for k, v in sorted(h.items())}]
                         for t, e, h in requirements],
        "constraints": [[t, e, {k: sorted(v) for k, v in sorted(h.items())}]
                        for t, e, h in constraints],
        "options": dict(sorted(options.items())),
        "markers": dict(sorted(markers.items())),
        "tags": hashlib.sha256("\n".join(map(str, tags)).encode()).hexdigest(),
        "installed": sorted(installed),
    }
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class ResolutionMemo:
    """Resolutions stored under ``<cache>/resolutions-v1``. Safe to share between threads
    and processes: entries are published whole, like every cache entry."""

    def __init__(self, cache: Cache, *, offline: bool = False) -> None:
        self._cache = cache
        self._root = cache.root / "resolutions-v1"
        self._offline = offline

    def _path(self, key: str) -> Path:
        return self._root / key[:2] / f"{key}.json"

    def load(self, key: str, *, metadata: Callable[[Link, str], bytes | None],
             installed_metadata: Callable[[NormalizedName], bytes | None]
             ) -> Resolution | None:
        """The remembered resolution for ``key``, if its pages are all unchanged and
        fresh and every metadata file it read is still at hand; else ``None``."""
        try:
            entry = json.loads(self._path(key).read_bytes())
        except (OSError, ValueError):
            return None
        try:
            now = time.time()
            stamps = [PageStamp(**s) for s in entry["pages"]]
            if not all(s.still_valid(now, offline=self._offline) for s in stamps):
                return None
            pins: dict[NormalizedName, Pin] = {}
            for p in entry["pins"]:
                pin = _pin_from_json(p, metadata, installed_metadata)
                if pin is None:
                    return None
                pins[pin.name] = pin
        except (KeyError, TypeError, ValueError):
            return None  # an entry from another version, or damaged: resolve again
        return Resolution(pins=pins)

    def store(self, key: str, resolution: Resolution, pages: Sequence[PageStamp]) -> None:
        """Remember ``resolution``; best effort (a full disk just means no memo)."""
        entry = {"pages": [vars(s) for s in pages],
                 "pins": [_pin_to_json(p) for p in resolution]}
        with contextlib.suppress(OSError), self._cache.publish(self._path(key)) as fh:
            fh.write(json.dumps(entry).encode("utf-8"))


def rememberable(resolution: Resolution) -> bool:
    """Whether every pin's metadata can be served again from the cache: kept installed
    copies, or index wheels with a PEP 658 sidecar."""
    return all((p.link is None and p.installed_at is not None)
               or (p.link is not None and p.link.metadata_hashes is not None
                   and p.link.is_wheel and not p.direct and not p.editable)
               for p in resolution)


def _pin_to_json(pin: Pin) -> dict[str, Any]:
    link = pin.link
    return {
        "name": pin.name, "version": str(pin.version),
        "link": None if link is None else {
            "url": link.url, "filename": link.filename, "hashes": dict(link.hashes),
            "requires_python": link.requires_python, "yanked": link.yanked,
            "metadata_hashes": None if link.metadata_hashes is None
            else dict(link.metadata_hashes),
            "origin": link.origin, "size": link.size},
        "installed_at": None if pin.installed_at is None else str(pin.installed_at),
        "requested": pin.requested, "requested_extras": sorted(pin.requested_extras),
        "allowed_hashes": {k: list(v) for k, v in pin.allowed_hashes.items()},
        "dependencies": [str(d) for d in pin.dependencies],
    }


def _pin_from_json(data: Mapping[str, Any], metadata: Callable[[Link, str], bytes | None],
                   installed_metadata: Callable[[NormalizedName], bytes | None]
                   ) -> Pin | None:
    name = canonicalize_name(data["name"])
    link = None if data["link"] is None else Link(**data["link"])
    raw = (installed_metadata(name) if link is None else metadata(link, name))
    if raw is None:
        return None
    return Pin(
        name=name, version=Version(data["version"]), link=link,
        installed_at=None if data["installed_at"] is None else Path(data["installed_at"]),
        metadata=raw, requested=bool(data["requested"]),
        requested_extras=frozenset(data["requested_extras"]),
        allowed_hashes={k: tuple(v) for k, v in data["allowed_hashes"].items()},
        dependencies=tuple(Requirement(d) for d in data["dependencies"]),
    )


__all__ = ["PageStamp", "ResolutionMemo", "rememberable", "request_key"]
