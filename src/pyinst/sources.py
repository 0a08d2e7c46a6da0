"""Distributions that arrive as source: sdists, local project directories, archives.

`Sources` belongs to one top-level call. It turns a link into a source tree (an sdist
is downloaded, hash-checked and safely unpacked; a directory is used in place), asks
the `SourceBuilder` for metadata or a wheel, and keeps wheels built from sdists in the
cache under the sdist's sha256, so the next install (of any call, any process) neither
builds nor even reads metadata from the backend. Local directories and editables are
never cached: their contents change under the same path.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from .cache import EntryLock, cache_writes, file_sha256
from .errors import BuildFailed, InvalidSdist
from .index.client import url_to_path
from .sdist import unpack_source_archive
from .vcs import checkout, is_vcs_url, parse_vcs_url

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from .build import SourceBuilder
    from .fetch import Fetcher
    from .models import Link
    from .target import Target


def is_source_link(link: Link) -> bool:
    """Whether installing ``link`` needs a build (it is not a wheel)."""
    return not link.is_wheel


class Sources:
    def __init__(self, fetcher: Fetcher, cache_root: Path, builder: SourceBuilder) -> None:
        self._fetcher = fetcher
        self._cache_root = cache_root
        self.builder = builder
        self._lock = threading.Lock()
        self._trees: dict[str, Path] = {}
        self._tree_locks: dict[str, threading.Lock] = {}
        self._local = threading.local()
        #: git URL -> the commit checked out for it (for direct_url.json)
        self.commits: dict[str, str] = {}
        self._digests: dict[str, str] = {}
        self._metadata: dict[tuple[str, str, bool], bytes] = {}

    def close(self) -> None:
        self.builder.close()

    # -- source trees -------------------------------------------------------------------

    def tree(self, link: Link, package: str, *, editable: bool = False,
             allowed: Mapping[str, Sequence[str]] | None = None) -> Path:
        """The project directory of ``link`` (unpacked once per call)."""
        if is_vcs_url(link.url):
            if editable:
                raise InvalidSdist(f"'{package}': editable installs of git URLs are not "
                                   "supported; clone it and use -e DIR", package=package)
            return self._checkout(link, package)
        if link.is_local_dir:
            path = url_to_path(link.url)
            if not path.is_dir():
                raise InvalidSdist(f"'{package}': {path} is neither a project directory nor "
                                   "a source archive", package=package)
            if not ((path / "pyproject.toml").exists() or (path / "setup.py").exists()):
                raise InvalidSdist(f"'{package}': {path} has no pyproject.toml or setup.py",
                                   package=package)
            return path
        if editable:
            raise InvalidSdist(f"'{package}': an editable install needs a local project "
                               f"directory, not {link.filename}", package=package)
        if not link.is_source_archive:
            raise InvalidSdist(f"'{package}': {link.filename} is not a wheel or a source "
                               "archive pyinst can unpack", package=package)
        def unpack() -> Path:
            archive = self._fetcher.wheel(link, package=package, allowed=allowed)
            dest = Path(tempfile.mkdtemp(prefix="src-", dir=self.builder.scratch()))
            return unpack_source_archive(archive, dest, package=package)

        return self._tree_once(link.url, unpack)

    def _checkout(self, link: Link, package: str) -> Path:
        url = parse_vcs_url(link.url)

        def clone() -> Path:
            dest = Path(tempfile.mkdtemp(prefix="vcs-", dir=self.builder.scratch())) / "repo"
            commit = checkout(url, dest, package=package, environ=self.builder.environ)
            with self._lock:
                self.commits[link.url] = commit
            return dest / url.subdirectory if url.subdirectory else dest

        return self._tree_once(link.url, clone)

    def _tree_once(self, url: str, make: Callable[[], Path]) -> Path:
        """The tree made for ``url`` in this call: one thread makes it, others wait."""
        with self._lock:
            known = self._trees.get(url)
            lock = self._tree_locks.setdefault(url, threading.Lock())
        if known is not None:
            return known
        with lock:
            with self._lock:
                known = self._trees.get(url)
            if known is None:
                known = make()
                with self._lock:
                    self._trees[url] = known
            return known

    # -- metadata and wheels ---------------------------------------------------------------

    def metadata(self, link: Link, package: str, target: Target, *, editable: bool = False,
                 allowed: Mapping[str, Sequence[str]] | None = None) -> bytes:
        key = (link.url, target.python, editable)
        with self._lock:
            known = self._metadata.get(key)
        if known is not None:
            return known
        cached = None if editable else self._cached_wheel(link, target, allowed)
        if cached is not None:
            from .build import built_wheel_metadata

            data = built_wheel_metadata(cached, package)
        else:
            with self._building(package):
                tree = self.tree(link, package, editable=editable, allowed=allowed)
                data = self.builder.metadata(tree, target, package=package, editable=editable)
        with self._lock:
            self._metadata[key] = data
        return data

    def wheel(self, link: Link, package: str, target: Target, *, editable: bool = False,
              allowed: Mapping[str, Sequence[str]] | None = None) -> Path:
        """A wheel of ``link`` for ``target``: from the built-wheel cache, or built now
        (and cached, for sdists)."""
        cached = None if editable else self._cached_wheel(link, target, allowed)
        if cached is not None:
            return cached
        with self._building(package):
            tree = self.tree(link, package, editable=editable, allowed=allowed)
            out = Path(tempfile.mkdtemp(prefix="wheel-", dir=self.builder.scratch()))
            built = self.builder.wheel(tree, target, out, package=package, editable=editable)
        key = None if editable else self._cache_key(link, allowed)
        if key is None:
            return built
        with cache_writes(self._cache_root, f"keeping the wheel built for '{package}'",
                          package):
            return self._store(key, built)

    def _building(self, package: str) -> _Chain:
        return _Chain(self._local, package)

    def chain(self) -> tuple[str, ...]:
        """The builds this thread is inside of (outermost first)."""
        return tuple(getattr(self._local, "chain", ()))

    def in_chain(self, chain: tuple[str, ...]) -> _Adopt:
        """Carry ``chain`` into a worker thread that builds on another's behalf."""
        return _Adopt(self._local, chain)

    # -- the built-wheel cache -------------------------------------------------------------

    def archive_sha256(self, link: Link, allowed: Mapping[str, Sequence[str]] | None = None
                       ) -> str | None:
        """The sha256 of a source archive (None for directories and checkouts)."""
        return self._cache_key(link, allowed)

    def _cache_key(self, link: Link, allowed: Mapping[str, Sequence[str]] | None) -> str | None:
        """An sdist's sha256 (stated by the index, else of the downloaded file)."""
        if is_vcs_url(link.url) or link.is_local_dir:
            return None  # a directory or a checkout: not cached
        stated = link.hashes.get("sha256")
        if stated and len(stated) == 64:
            return stated
        path = self._fetcher.wheel(link, package="", allowed=allowed)
        with self._lock:
            known = self._digests.get(str(path))
        if known is None:
            known = file_sha256(path)
            with self._lock:
                self._digests[str(path)] = known
        return known

    def _dir(self, key: str) -> Path:
        return self._cache_root / "built" / key[:2] / key

    def _cached_wheel(self, link: Link, target: Target,
                      allowed: Mapping[str, Sequence[str]] | None) -> Path | None:
        key = self._cache_key(link, allowed)
        if key is None:
            return None
        try:
            names = os.listdir(self._dir(key))
        except OSError:
            return None
        ranks = {t: i for i, t in reversed(list(enumerate(target.tags)))}
        best: tuple[int, str] | None = None
        for name in names:
            if not name.endswith(".whl"):
                continue
            try:
                _, _, _, tags = parse_wheel_filename(name)
            except InvalidWheelFilename:
                continue
            rank = min((ranks[t] for t in tags if t in ranks), default=None)
            if rank is not None and (best is None or rank < best[0]):
                best = (rank, name)
        return self._dir(key) / best[1] if best is not None else None

    def _store(self, key: str, built: Path) -> Path:
        d = self._dir(key)
        d.mkdir(parents=True, exist_ok=True)
        dest = d / built.name
        with EntryLock(d.parent / f".{key}.lock"):
            if not dest.exists():
                fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=d)
                os.close(fd)
                try:
                    shutil.copyfile(built, tmp)
                    os.replace(tmp, dest)
                except BaseException:
                    Path(tmp).unlink(missing_ok=True)
                    raise
        return dest


class _Chain:
    """Refuses a build that (through build dependencies) needs itself."""

    def __init__(self, local: threading.local, package: str) -> None:
        self._local = local
        self._package = package

    def __enter__(self) -> None:
        chain: list[str] = getattr(self._local, "chain", [])
        if self._package in chain:
            path = " -> ".join([*chain, self._package])
            raise BuildFailed(f"cannot build '{self._package}': its build needs itself "
                              f"({path})", package=self._package)
        self._local.chain = [*chain, self._package]

    def __exit__(self, *exc: object) -> None:
        self._local.chain = self._local.chain[:-1]


class _Adopt:
    def __init__(self, local: threading.local, chain: tuple[str, ...]) -> None:
        self._local = local
        self._chain = list(chain)

    def __enter__(self) -> None:
        self._saved = getattr(self._local, "chain", [])
        self._local.chain = self._chain

    def __exit__(self, *exc: object) -> None:
        self._local.chain = self._saved


__all__ = ["Sources", "is_source_link"]
