"""Read a remote wheel's METADATA with HTTP range requests, without downloading it.

For indexes that offer no PEP 658 sidecar. A wheel is a zip: its directory sits at the
end, so one suffix request usually brings the directory, and one more the METADATA
member. `zipfile` does the parsing over a seekable view whose reads become range
requests (at least 64 KiB each, cached). When the server ignores ranges, we say so and
the caller downloads the whole wheel instead.
"""

from __future__ import annotations

import io
import re
import zipfile

from .index.client import IndexClient
from .metadata import wheel_metadata

_BLOCK = 1 << 16
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


class RangesUnsupported(Exception):
    """The server answered a range request with the whole file (``body``), or not at all."""

    def __init__(self, url: str, body: bytes | None = None) -> None:
        super().__init__(url)
        self.body = body


class _RemoteFile(io.RawIOBase):
    def __init__(self, client: IndexClient, url: str, package: str) -> None:
        self._client = client
        self._url = url
        self._package = package
        self._chunks: list[tuple[int, bytes]] = []
        self._pos = 0
        self.requests = 0
        start, data, self._length = self._fetch(f"bytes=-{_BLOCK * 2}")
        self._chunks.append((start, data))

    def _fetch(self, spec: str) -> tuple[int, bytes, int]:
        self.requests += 1
        resp = self._client.get(self._url, package=self._package, headers={"Range": spec})
        match = _CONTENT_RANGE.match(resp.headers.get("content-range", ""))
        if resp.status_code == 200:
            raise RangesUnsupported(self._url, resp.content)  # the whole file: keep it
        if resp.status_code != 206 or match is None:
            raise RangesUnsupported(self._url)
        return int(match.group(1)), resp.content, int(match.group(3))

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._length}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def _cached(self, start: int, end: int) -> bytes | None:
        for cstart, data in self._chunks:
            if cstart <= start and end <= cstart + len(data):
                return data[start - cstart:end - cstart]
        return None

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self._length - self._pos)
        if n <= 0:
            return 0
        start, end = self._pos, self._pos + n
        data = self._cached(start, end)
        if data is None:
            fetch_end = min(self._length, max(end, start + _BLOCK)) - 1
            cstart, chunk, _ = self._fetch(f"bytes={start}-{fetch_end}")
            self._chunks.append((cstart, chunk))
            data = self._cached(start, end)
            if data is None:
                raise RangesUnsupported(self._url)
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)


def remote_metadata(client: IndexClient, url: str, package: str) -> bytes:
    """The ``*.dist-info/METADATA`` of the remote wheel at ``url``.

    Raises `RangesUnsupported` when the server does not do range requests, and
    `zipfile.BadZipFile` when the file is not a wheel."""
    remote = _RemoteFile(client, url, package)
    with zipfile.ZipFile(io.BufferedReader(remote, buffer_size=_BLOCK)) as zf:
        return wheel_metadata(zf)
