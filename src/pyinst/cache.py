"""The on-disk cache of downloaded files. Entries are published by atomic rename."""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

from .errors import CacheError
from .models import Link

#: what a filesystem answers when it will not keep what it is given (or cannot give it
#: back), whatever the data: with what to do about it
_REFUSALS = {
    errno.ENOSPC: "free some space there",
    errno.EDQUOT: "free some space there",
    errno.EFBIG: "a file there would be bigger than that filesystem or your limits allow",
    errno.EROFS: "it is read-only",
    errno.EACCES: "it is not writable for you",
    errno.EPERM: "it is not writable for you",
    errno.EIO: "check that disk",
}
#: a file where the cache needs a directory (inside an unpacked wheel, the same answers
#: are the wheel's own doing: a member where another member's directory goes)
_IN_THE_WAY = {errno.ENOTDIR: "a file stands where the cache needs a directory",
               errno.EEXIST: "a file stands where the cache needs a directory"}


def refused_by_storage(exc: OSError) -> bool:
    """Whether ``exc`` is the filesystem refusing (full, read-only, ...) whatever the
    data was."""
    return exc.errno in _REFUSALS


@contextmanager
def cache_writes(root: Path | str, doing: str, package: str | None = None) -> Iterator[None]:
    """Inside the block, the cache's filesystem refusing (see `refused_by_storage`), or
    a file in the cache's way, becomes one `CacheError` that says where and while
    ``doing`` what; other errors pass as they are (a network error raised inside is
    not the cache's)."""
    try:
        yield
    except OSError as exc:
        advice = _REFUSALS.get(exc.errno or 0) or _IN_THE_WAY.get(exc.errno or 0)
        if advice is None:
            raise
        what = f"{exc.filename}: " if exc.filename else ""
        raise CacheError(f"cannot use the cache at {root} while {doing}: {what}"
                         f"{exc.strerror or exc} ({advice}; or pass --cache-dir DIR); "
                         "nothing was installed", package=package) from exc


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class EntryLock:
    """An exclusive ``flock`` on a lock file (cache directories may hold lock files)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    def __enter__(self) -> EntryLock:
        import fcntl

        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        import fcntl

        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)


class Cache:
    """A cache directory. Readers never see a partial entry: each is written to a
    temporary file beside its final place and renamed into it."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _key_dir(self, kind: str, link: Link) -> Path:
        digest = link.hashes.get("sha256")
        if digest and len(digest) == 64:
            return self.root / kind / "sha256" / digest[:2] / digest
        key = hashlib.sha256(link.url.encode("utf-8")).hexdigest()
        return self.root / kind / "url" / key[:2] / key

    def wheel_path(self, link: Link) -> Path:
        """Where the file of ``link`` is (or would be) cached."""
        return self._key_dir("wheels", link) / link.filename

    def metadata_path(self, link: Link) -> Path:
        return self._key_dir("metadata", link) / (link.filename + ".metadata")

    def lookup(self, path: Path) -> Path | None:
        return path if path.is_file() else None

    def entry_lock(self, path: Path) -> EntryLock:
        """A cross-process lock for filling one entry, so it is downloaded once."""
        path.parent.mkdir(parents=True, exist_ok=True)
        return EntryLock(path.parent / ".lock")

    @contextmanager
    def publish(self, path: Path) -> Iterator[IO[bytes]]:
        """Write a new entry: yields a temporary file, renamed to ``path`` on success."""
        import tempfile

        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                yield fh
            os.replace(tmp, path)
        except BaseException:
            with suppress(OSError):
                os.unlink(tmp)
            raise


#: what each top-level directory of the cache holds (for ``pyinst cache info``)
SECTIONS = {
    "wheels": "downloaded files (wheels, sdists)",
    "metadata": "core metadata files (PEP 658 sidecars, ranges)",
    "unpacked": "unpacked wheels, linked into targets",
    "built": "wheels built from sdists",
    "http-v1": "index pages (HTTP cache)",
    "resolutions-v1": "remembered resolutions (used while their index pages are fresh)",
    "interpreters-v1": "facts of target interpreters (kept while they are unchanged)",
    "envs": "environments of `pyinst run` scripts",
    "tmp": "scratch of calls in progress (or killed)",
}


def cache_info(root: Path) -> list[tuple[str, int, int]]:
    """(section, files, bytes) for each part of the cache at ``root``."""
    out = []
    for name in SECTIONS:
        files = size = 0
        for dirpath, _, names in os.walk(root / name):
            for n in names:
                with suppress(OSError):
                    size += os.lstat(os.path.join(dirpath, n)).st_size
                    files += 1
        out.append((name, files, size))
    return out


def cache_clean(root: Path, sections: list[str] | None = None) -> int:
    """Remove the whole cache (or some sections of it); returns the bytes freed.
    Each section is renamed aside first, so a concurrent reader sees it whole or gone."""
    import shutil

    freed = 0
    for name in sections or list(SECTIONS):
        path = root / name
        if not path.exists():
            continue
        freed += sum(s for n, f, s in cache_info(root) if n == name)
        aside = root / f".removing-{name}-{os.getpid()}"
        os.replace(path, aside)
        shutil.rmtree(aside, ignore_errors=True)
    return freed


def cache_prune(root: Path, *, older_than: float = 24 * 3600) -> int:
    """Remove what no call will use again: scratch of killed calls, half-made entries
    (``.tmp-*``) and unpacked trees that never got their manifest. Only what has not
    been touched for ``older_than`` seconds: a running call's scratch is left alone.
    Returns the bytes freed."""
    import shutil
    import time

    from .unpacked import MANIFEST

    cutoff = time.time() - older_than
    freed = 0

    def stale(path: Path) -> bool:
        try:
            return path.lstat().st_mtime < cutoff
        except OSError:
            return False

    def remove(path: Path) -> None:
        nonlocal freed
        if path.is_dir() and not path.is_symlink():
            for dirpath, _, names in os.walk(path):
                for n in names:
                    with suppress(OSError):
                        freed += os.lstat(os.path.join(dirpath, n)).st_size
            shutil.rmtree(path, ignore_errors=True)
        else:
            with suppress(OSError):
                freed += path.lstat().st_size
                path.unlink()

    scratch = root / "tmp"
    if scratch.is_dir():
        for entry in scratch.iterdir():
            if stale(entry):
                remove(entry)
    for section in ("unpacked", "built", "wheels", "metadata"):
        base = root / section
        for dirpath, dirnames, filenames in os.walk(base):
            for name in [*dirnames, *filenames]:
                path = Path(dirpath) / name
                if name.startswith((".tmp-", ".removing-")) and stale(path):
                    remove(path)
    unpacked = root / "unpacked"
    if unpacked.is_dir():
        for shard in unpacked.iterdir():
            for entry in (shard.iterdir() if shard.is_dir() else ()):
                if entry.is_dir() and not entry.name.startswith(".") and stale(entry) \
                        and not (entry / MANIFEST).exists():
                    remove(entry)
    return freed
