"""A small RFC 9111 cache for index pages: freshness, then revalidation.

A stored page is used without a request while it is fresh: ``Cache-Control: max-age``
(or, when the server gave none but did give ``Last-Modified``, the RFC's heuristic of a
tenth of the page's age, capped at ten minutes). A stale page is revalidated with
``If-None-Match`` / ``If-Modified-Since``; a 304 answer refreshes it. ``no-store`` is
never stored. Entries are written beside their place and renamed into it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..cache import Cache, cache_writes

HEURISTIC_CAP = 600.0


@dataclass(frozen=True)
class StoredPage:
    """An index page in the HTTP cache, with what revalidating it needs."""

    url: str
    final_url: str
    content_type: str
    etag: str | None
    last_modified: str | None
    #: seconds the page stays fresh, counted from ``stored_at``
    fresh_for: float
    stored_at: float
    #: the response's Cache-Control, which a bare 304 leaves in force
    cache_control: str | None = None

    def is_fresh(self, now: float) -> bool:
        return now - self.stored_at < self.fresh_for

    def validators(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


def _directives(cache_control: str) -> dict[str, str]:
    out = {}
    for part in cache_control.split(","):
        key, _, value = part.strip().partition("=")
        if key:
            out[key.lower()] = value.strip('"')
    return out


def freshness(headers: dict[str, str], now: float) -> float | None:
    """Seconds of freshness the response allows; ``None`` when it must not be stored."""
    cc = _directives(headers.get("cache-control", ""))
    if "no-store" in cc:
        return None
    if "no-cache" in cc:
        return 0.0
    for key in ("s-maxage", "max-age"):
        if key in cc:
            try:
                return max(0.0, float(cc[key]) - float(headers.get("age", "0") or 0))
            except ValueError:
                return 0.0
    lm = headers.get("last-modified")
    if lm:
        import email.utils  # only for pages without Cache-Control (and not at start-up)

        try:
            modified = email.utils.parsedate_to_datetime(lm).timestamp()
        except (TypeError, ValueError):
            return 0.0
        date = now
        if headers.get("date"):
            with contextlib.suppress(TypeError, ValueError):
                date = email.utils.parsedate_to_datetime(headers["date"]).timestamp()
        return min(HEURISTIC_CAP, max(0.0, (date - modified) / 10))
    return 0.0


@dataclass(frozen=True)
class PageStamp:
    """One cached index page as the resolver read it."""

    path: str
    size: int
    mtime_ns: int
    inode: int
    #: when the page stops being fresh (seconds since the epoch)
    fresh_until: float

    def still_valid(self, now: float, *, offline: bool) -> bool:
        """Unchanged on disk, and (unless offline, when stale pages are used anyway)
        still fresh."""
        if not offline and now >= self.fresh_until:
            return False
        try:
            st = os.stat(self.path)
        except OSError:
            return False
        return (st.st_size, st.st_mtime_ns, st.st_ino) == (self.size, self.mtime_ns,
                                                            self.inode)


class PageCache:
    """Stored index pages: one file per (URL, Accept), a JSON line then the body, so a
    page and its validators are always published together."""

    def __init__(self, cache: Cache) -> None:
        self._root = cache.root / "http-v1"
        self._cache = cache

    def _path(self, url: str, accept: str) -> Path:
        key = hashlib.sha256(f"{url}\n{accept}".encode()).hexdigest()
        return self._root / key[:2] / f"{key}.page"

    def load(self, url: str, accept: str) -> tuple[StoredPage, bytes, PageStamp] | None:
        """The stored page, its body, and the stamp of the very file read."""
        path = self._path(url, accept)
        try:
            with open(path, "rb") as fh:
                st = os.fstat(fh.fileno())
                raw = fh.read()
            head, _, body = raw.partition(b"\n")
            page = StoredPage(**json.loads(head))
        except (OSError, ValueError, TypeError):
            return None
        return page, body, _stamp(path, st, page)

    def store(self, page: StoredPage, body: bytes, accept: str) -> PageStamp:
        """Store a page; returns the stamp of the file written."""
        path = self._path(page.url, accept)
        with cache_writes(self._cache.root, f"saving the index page {page.url}"), \
                self._cache.publish(path) as fh:
            fh.write(json.dumps(asdict(page)).encode() + b"\n" + body)
            fh.flush()
            st = os.fstat(fh.fileno())  # the rename keeps size and modification time
        return _stamp(path, st, page)

    def renew(self, page: StoredPage, fresh_for: float, accept: str, body: bytes
              ) -> PageStamp:
        renewed = StoredPage(**{**asdict(page), "fresh_for": fresh_for,
                                "stored_at": time.time()})
        return self.store(renewed, body, accept)


def _stamp(path: Path, st: os.stat_result, page: StoredPage) -> PageStamp:
    return PageStamp(path=str(path), size=st.st_size, mtime_ns=st.st_mtime_ns,
                     inode=st.st_ino, fresh_until=page.stored_at + page.fresh_for)
