"""Downloads into the cache, with hash verification."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Callable

from .cache import Cache, cache_writes
from .errors import HashMismatch, IndexFetchError
from .events import DownloadFinished, DownloadProgress, EventSink, ignore
from .index.client import IndexClient, url_to_path
from .models import Link

_CHUNK = 1 << 17
#: bytes of a download written (and hashed) at once
_BATCH = 1 << 17


class _Hasher:
    def __init__(self, names: Sequence[str]) -> None:
        self._hashes = {n: hashlib.new(n) for n in sorted(set(names) | {"sha256"})
                        if n in hashlib.algorithms_available}

    def update(self, data: bytes | bytearray) -> None:
        for h in self._hashes.values():
            h.update(data)

    def hexdigests(self) -> dict[str, str]:
        return {n: h.hexdigest() for n, h in self._hashes.items()}


def check_hashes(package: str, url: str, got: Mapping[str, str],
                 index_hashes: Mapping[str, str],
                 allowed: Mapping[str, Sequence[str]]) -> None:
    """Every hash the index stated must match; of the user's, at least one must."""
    for name, want in index_hashes.items():
        have = got.get(name)
        if have is not None and have != want.lower():
            raise HashMismatch(package, url=url, expected=f"{name}:{want}", got=f"{name}:{have}")
    if allowed:
        for name, wants in allowed.items():
            if got.get(name) in {w.lower() for w in wants}:
                return
        name = next(iter(allowed))
        raise HashMismatch(package, url=url,
                           expected=" or ".join(f"{n}:{w}" for n, ws in allowed.items()
                                                for w in ws),
                           got=f"{name}:{got.get(name, '?')}")


def hash_names(link: Link, allowed: Mapping[str, Sequence[str]]) -> list[str]:
    return [*link.hashes, *allowed]


class Fetcher:
    """Gets wheels and metadata sidecars into the cache, verified."""

    def __init__(self, client: IndexClient, cache: Cache, emit: EventSink = ignore) -> None:
        self._client = client
        self._cache = cache
        self._emit = emit

    def cached_path(self, link: Link) -> Path:
        """Where the file of ``link`` is, or would be, kept."""
        return url_to_path(link.url) if link.is_file else self._cache.wheel_path(link)

    def wheel(self, link: Link, *, package: str,
              allowed: Mapping[str, Sequence[str]] | None = None) -> Path:
        """A local, verified copy of the file ``link`` points to."""
        allowed = allowed or {}
        if link.is_file:
            path = url_to_path(link.url)
            if not path.is_file():
                raise IndexFetchError(f"no file at {path} for '{package}'", url=link.url,
                                      package=package)
            if link.hashes or allowed:
                hasher = _Hasher(hash_names(link, allowed))
                with open(path, "rb") as fh:
                    for chunk in iter(lambda: fh.read(_CHUNK), b""):
                        hasher.update(chunk)
                check_hashes(package, link.url, hasher.hexdigests(), link.hashes, allowed)
            return path
        dest = self._cache.wheel_path(link)
        cached = self._cache.lookup(dest)
        if cached is not None and self._verify_cached(cached, link, package, allowed):
            return cached
        # One downloader per entry, across threads and processes; the others wait and
        # then find the published file.
        with cache_writes(self._cache.root, f"saving the download of '{package}'", package), \
                self._cache.entry_lock(dest):
            cached = self._cache.lookup(dest)
            if cached is not None:
                if self._verify_cached(cached, link, package, allowed):
                    return cached
                # a corrupt entry is evicted (only ever under the lock: outside it, the
                # file checked may already have been replaced by a good one)
                cached.unlink(missing_ok=True)
            with self._cache.publish(dest) as fh:
                self._download(link, fh, package, allowed)
        return dest

    def _download(self, link: Link, fh: IO[bytes], package: str,
                  allowed: Mapping[str, Sequence[str]]) -> None:
        state: dict[str, _Hasher] = {}
        done = [0]
        #: what has arrived but is not yet written and hashed
        pending = bytearray()
        emit = self._emit

        def flush() -> None:
            # One write and one hash update per batch rather than per chunk: each of
            # them lets go of the GIL, and taking it back from the other threads is a
            # round of futex calls (measured: 16 per 64 KiB chunk on a cold install)
            if pending:
                fh.write(pending)
                state["h"].update(pending)
                pending.clear()

        def restart(total: int | None) -> Callable[[bytes], None]:
            fh.seek(0)
            fh.truncate()
            state["h"] = _Hasher(hash_names(link, allowed))
            pending.clear()
            done[0] = 0

            def write(data: bytes) -> None:
                pending.extend(data)
                if len(pending) >= _BATCH:
                    flush()
                done[0] += len(data)
                emit(DownloadProgress(package, link.url, done[0], total))

            return write

        self._client.stream_into(link.url, restart, package=package)
        flush()
        check_hashes(package, link.url, state["h"].hexdigests(), link.hashes, allowed)
        emit(DownloadFinished(package, link.url, done[0]))

    def _verify_cached(self, path: Path, link: Link, package: str,
                       allowed: Mapping[str, Sequence[str]]) -> bool:
        """A cached file is used only if it still has the expected hashes."""
        if not link.hashes and not allowed:
            return True
        hasher = _Hasher(hash_names(link, allowed))
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(_CHUNK), b""):
                hasher.update(chunk)
        try:
            check_hashes(package, link.url, hasher.hexdigests(), link.hashes, allowed)
        except HashMismatch:
            return False  # never installed; the caller evicts it under the entry lock
        return True

    def metadata_by_range(self, link: Link, *, package: str) -> bytes | None:
        """METADATA read from the remote wheel with range requests (cached like a
        sidecar), or None when the server cannot do that."""
        import zipfile

        from .lazywheel import RangesUnsupported, remote_metadata

        dest = self._cache.metadata_path(link)
        cached = self._cache.lookup(dest)
        if cached is not None:
            return cached.read_bytes()
        if self._cache.lookup(self._cache.wheel_path(link)) is not None:
            return None  # the whole wheel is here already: read it from disk
        try:
            data = remote_metadata(self._client, link.url, package)
        except RangesUnsupported as exc:
            if exc.body is not None:  # the server sent the whole wheel: keep it, verified
                got = {n: hashlib.new(n, exc.body).hexdigest() for n in link.hashes
                       if n in hashlib.algorithms_available}
                check_hashes(package, link.url, got, link.hashes, {})
                with cache_writes(self._cache.root, f"saving the download of '{package}'",
                                  package), \
                        self._cache.entry_lock(self._cache.wheel_path(link)), \
                        self._cache.publish(self._cache.wheel_path(link)) as fh:
                    fh.write(exc.body)
            return None
        except (zipfile.BadZipFile, IndexFetchError, ValueError):
            return None
        with cache_writes(self._cache.root, f"saving the metadata of '{package}'", package), \
                self._cache.publish(dest) as fh:
            fh.write(data)
        return data

    def cached_metadata(self, link: Link) -> bytes | None:
        """The PEP 658 sidecar of ``link`` from the cache only (verified), or ``None``."""
        if link.metadata_hashes is None:
            return None
        cached = self._cache.lookup(self._cache.metadata_path(link))
        if cached is None:
            return None
        try:
            data = cached.read_bytes()
        except OSError:
            return None
        return data if self._metadata_ok(data, link) else None

    def metadata(self, link: Link, *, package: str) -> bytes:
        """The PEP 658 metadata sidecar of ``link``, verified against its announced hash."""
        assert link.metadata_hashes is not None
        dest = self._cache.metadata_path(link)
        cached = self._cache.lookup(dest)
        if cached is not None:
            data = cached.read_bytes()
            if self._metadata_ok(data, link):
                return data
        if link.is_file:
            return self._fetch_metadata(link, package)
        with cache_writes(self._cache.root, f"saving the metadata of '{package}'", package), \
                self._cache.entry_lock(dest):
            cached = self._cache.lookup(dest)
            if cached is not None:
                data = cached.read_bytes()
                if self._metadata_ok(data, link):
                    return data
            data = self._fetch_metadata(link, package)
            with self._cache.publish(dest) as fh:
                fh.write(data)
        return data

    def _fetch_metadata(self, link: Link, package: str) -> bytes:
        assert link.metadata_hashes is not None
        data = self._client.read_bytes(link.metadata_url, package=package)
        for name, want in link.metadata_hashes.items():
            if name in hashlib.algorithms_available:
                have = hashlib.new(name, data).hexdigest()
                if have != want:
                    raise HashMismatch(package, url=link.metadata_url,
                                       expected=f"{name}:{want}", got=f"{name}:{have}")
        return data

    @staticmethod
    def _metadata_ok(data: bytes, link: Link) -> bool:
        assert link.metadata_hashes is not None
        return all(hashlib.new(n, data).hexdigest() == w
                   for n, w in link.metadata_hashes.items() if n in hashlib.algorithms_available)
