"""The simple repository API over httpx, plus find-links locations and ``file://`` indexes."""

from __future__ import annotations

import contextlib
import os
import threading
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, TypeVar

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

from ..cache import Cache
from ..config import Config, IndexStrategy
from ..errors import IndexFetchError
from ..models import Link
from .httpcache import PageCache, PageStamp, StoredPage, freshness
from .parse import ACCEPT, parse_html_page, parse_page

if TYPE_CHECKING:
    import httpx

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_T = TypeVar("_T")


@dataclass(frozen=True)
class ProjectPage:
    """Every file offered for one project, after the index strategy was applied."""

    name: NormalizedName
    links: tuple[Link, ...]
    #: the locations that were asked
    locations: tuple[str, ...]
    #: ``True`` when some index or find-links location knows the project
    found: bool


def project_from_filename(filename: str) -> NormalizedName | None:
    """The normalised project name a distribution file name belongs to, if it is one."""
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[0]
        return parse_sdist_filename(filename)[0]
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None


def path_to_url(path: str | os.PathLike[str]) -> str:
    return Path(os.path.abspath(os.fspath(path))).as_uri()


def url_to_path(url: str) -> Path:
    """The local path of a ``file:`` URL (unquoted once; not urllib.request, whose import
    alone pulls in http.client, email and ssl)."""
    path = urllib.parse.urlsplit(url).path
    if os.name == "nt":  # pragma: no cover - Windows drive letters and separators
        from nturl2path import url2pathname

        return Path(url2pathname(path))
    return Path(urllib.parse.unquote(path))


class IndexClient:
    """Reads project pages and files. One per `Installer`; safe to use from many threads."""

    def __init__(self, config: Config, http: Callable[[], httpx.Client],
                 cache: Cache | None = None) -> None:
        self._config = config
        #: the shared HTTP client, made on first use: a warm run that finds everything
        #: fresh in the cache never imports httpx nor loads certificates
        self._http_factory = http
        self._pages_cache = PageCache(cache) if cache is not None else None
        self._pages: dict[NormalizedName, ProjectPage] = {}
        self._failures: dict[NormalizedName, IndexFetchError] = {}
        self._find_links: list[Link] | None = None
        self._lock = threading.Lock()
        self._page_locks: dict[NormalizedName, threading.Lock] = {}
        #: the cached page files read so far (for remembered resolutions); ``None`` once
        #: something was read that the page cache cannot vouch for
        self._stamps: list[PageStamp] | None = [] if not config.find_links else None

    def page_stamps(self) -> list[PageStamp] | None:
        """Every index page this client read, as stamps of their cached copies; ``None``
        when some page was not from the cache's keeping (a ``file:`` index, a 404, an
        uncacheable answer, find-links)."""
        with self._lock:
            return None if self._stamps is None else list(self._stamps)

    def _stamped(self, stamp: PageStamp | None) -> None:
        with self._lock:
            if stamp is None:
                self._stamps = None
            elif self._stamps is not None:
                self._stamps.append(stamp)

    def _check_online(self, url: str, package: str | None) -> None:
        if self._config.offline:
            what = f"'{package}': " if package else ""
            raise IndexFetchError(f"{what}{url} is not in the cache, and --offline forbids "
                                  "fetching it", url=url, package=package)

    # -- HTTP with retries ---------------------------------------------------------

    @property
    def _http(self) -> httpx.Client:
        return self._http_factory()

    def _with_retries(self, url: str, package: str | None,
                      attempt: Callable[[], _T]) -> _T:
        import httpx

        delay = self._config.retry_backoff
        tries = max(1, self._config.retries + 1)
        for n in range(tries):
            last = n == tries - 1
            try:
                return attempt()
            except httpx.HTTPStatusError as exc:
                code = exc.response.status_code
                if code not in _RETRY_STATUS or last:
                    what = f" for '{package}'" if package else ""
                    hint = ""
                    if code in (401, 403):
                        hint = (" (the server wants credentials: give them in the index "
                                "URL, a netrc file or the keyring — see docs/security.md)"
                                if "authorization" not in exc.request.headers else
                                " (the credentials sent were refused)")
                    raise IndexFetchError(
                        f"{url} returned HTTP {code} {exc.response.reason_phrase}{what}"
                        f"{hint}",
                        url=url, package=package, status_code=code,
                    ) from exc
            except httpx.TransportError as exc:
                if last:
                    what = f" for '{package}'" if package else ""
                    raise IndexFetchError(
                        f"cannot reach {_host(url)}{what}: {_describe(exc)}",
                        url=url, package=package,
                    ) from exc
            time.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    def _follow(self, url: str, headers: dict[str, str], *, stream: bool) -> httpx.Response:
        """GET, following redirects one by one: httpx drops credentials and cookies on
        each that changes origin; a redirect from https to anything else is refused."""
        client = self._http
        request = client.build_request("GET", url, headers=headers)
        for _ in range(_MAX_REDIRECTS):
            resp = client.send(request, stream=stream, follow_redirects=False)
            nxt = resp.next_request if resp.is_redirect else None
            if nxt is None:
                return resp
            resp.close()
            if request.url.scheme == "https" and nxt.url.scheme != "https":
                raise IndexFetchError(f"refusing the redirect from {request.url} to "
                                      f"{nxt.url}: it leaves https", url=url)
            request = nxt
        raise IndexFetchError(f"{url}: more than {_MAX_REDIRECTS} redirects", url=url)

    def get(self, url: str, *, package: str | None = None, accept: str | None = None,
            headers: dict[str, str] | None = None) -> httpx.Response:
        """GET a URL into memory, with retries; raises `IndexFetchError` on failure.

        404, 410 and 304 responses are returned, not raised.
        """
        self._check_online(url, package)
        headers = dict(headers or {})
        if accept:
            headers["Accept"] = accept

        def attempt() -> httpx.Response:
            resp = self._follow(url, headers, stream=False)
            if resp.status_code not in (304, 404, 410):
                resp.raise_for_status()
            return resp

        return self._with_retries(url, package, attempt)

    def read_bytes(self, url: str, *, package: str | None = None) -> bytes:
        """The whole body of a (small) file link, such as a metadata sidecar."""
        if url.startswith("file:"):
            path = url_to_path(url)
            try:
                return path.read_bytes()
            except OSError as exc:
                raise IndexFetchError(f"cannot read {path}: {exc.strerror}", url=url,
                                      package=package) from exc
        resp = self.get(url, package=package)
        if resp.status_code in (404, 410):
            what = f" for '{package}'" if package else ""
            raise IndexFetchError(f"{url} returned HTTP {resp.status_code}{what}",
                                  url=url, package=package, status_code=resp.status_code)
        return resp.content

    def stream_into(self, url: str,
                    restart: Callable[[int | None], Callable[[bytes], object]], *,
                    package: str | None = None) -> None:
        """Stream an HTTP body into a sink. For each try, ``restart(content_length)``
        gives a fresh sink."""
        self._check_online(url, package)

        def attempt() -> None:
            with contextlib.closing(self._follow(url, {}, stream=True)) as resp:
                if resp.status_code in (404, 410):
                    raise IndexFetchError(
                        f"{url} returned HTTP {resp.status_code} for '{package}'",
                        url=url, package=package, status_code=resp.status_code)
                resp.raise_for_status()
                length = resp.headers.get("content-length")
                write = restart(int(length) if length and length.isdigit() else None)
                for chunk in resp.iter_bytes():  # as they arrive: re-chunking copies
                    write(chunk)

        self._with_retries(url, package, attempt)

    # -- project pages ---------------------------------------------------------------

    def project_page(self, name: str) -> ProjectPage:
        """All links for a project, from the indexes (per the strategy) and find-links."""
        key = canonicalize_name(name)
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                return page
            lock = self._page_locks.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                page = self._pages.get(key)
                failure = self._failures.get(key)
            if failure is not None:
                raise failure  # one session sees one answer, even a failure
            if page is None:
                try:
                    page = self._fetch_project(key)
                except IndexFetchError as exc:
                    with self._lock:
                        self._failures[key] = exc
                    raise
                with self._lock:
                    self._pages[key] = page
            return page

    def _fetch_project(self, name: NormalizedName) -> ProjectPage:
        links: list[Link] = []
        locations: list[str] = []
        found = False
        for index_url in self._config.index_urls:
            locations.append(index_url)
            page_links = self._index_page(index_url, name)
            if page_links is None:
                continue
            found = True
            links.extend(page_links)
            if self._config.index_strategy is IndexStrategy.FIRST_INDEX:
                break
        flinks = [lk for lk in self._all_find_links() if project_from_filename(lk.filename) == name]
        locations.extend(self._config.find_links)
        if flinks:
            found = True
            links.extend(flinks)
        return ProjectPage(name=name, links=tuple(links), locations=tuple(locations), found=found)

    def _index_page(self, index_url: str, name: NormalizedName) -> list[Link] | None:
        base = index_url if index_url.endswith("/") else index_url + "/"
        url = urllib.parse.urljoin(base, f"{name}/")
        if url.startswith("file:"):
            self._stamped(None)
            path = url_to_path(url)
            page = path / "index.html" if path.is_dir() else path
            if not page.is_file():
                return None
            return parse_html_page(page.read_bytes(), url=page.as_uri(), origin=index_url,
                                   package=name)
        fetched = self._cached_get(url, name)
        if fetched is None:
            return None
        body, final_url, content_type = fetched
        return parse_page(body, url=final_url, origin=index_url, package=name,
                          content_type=content_type)

    def _cached_get(self, url: str, name: str) -> tuple[bytes, str, str] | None:
        """An index page through the HTTP cache: (body, final URL, content type), or
        ``None`` for 404/410."""
        cache = self._pages_cache
        stored = cache.load(url, ACCEPT) if cache is not None else None
        now = time.time()
        if stored is not None:
            page, body, stamp = stored
            if self._config.offline or (not self._config.refresh and page.is_fresh(now)):
                self._stamped(stamp)
                return body, page.final_url, page.content_type
        elif self._config.offline:
            raise IndexFetchError(f"'{name}' is not in the cache and --offline forbids "
                                  f"fetching {url}", url=url, package=name)
        headers = stored[0].validators() if stored is not None else {}
        resp = self.get(url, package=name, accept=ACCEPT, headers=headers)
        if resp.status_code == 304 and stored is not None:
            page, body, _ = stored
            # RFC 9111 4.3.4: the 304's headers update the stored ones, which still
            # count where it says nothing (a bare 304 keeps Last-Modified's heuristic)
            merged = {k: v for k, v in (("last-modified", page.last_modified),
                                        ("cache-control", page.cache_control)) if v}
            merged.update({k.lower(): v for k, v in resp.headers.items()})
            fresh = freshness(merged, now)
            assert cache is not None
            self._stamped(cache.renew(page, fresh or 0.0, ACCEPT, body))
            return body, page.final_url, page.content_type
        if resp.status_code in (404, 410):
            self._stamped(None)
            return None
        content_type = resp.headers.get("content-type", "")
        fresh = freshness({k.lower(): v for k, v in resp.headers.items()}, now)
        if cache is not None and fresh is not None:
            page = StoredPage(url=url, final_url=str(resp.url), content_type=content_type,
                              etag=resp.headers.get("etag"),
                              last_modified=resp.headers.get("last-modified"),
                              fresh_for=fresh, stored_at=now,
                              cache_control=resp.headers.get("cache-control"))
            self._stamped(cache.store(page, resp.content, ACCEPT))
        else:
            self._stamped(None)
        return resp.content, str(resp.url), content_type

    def _all_find_links(self) -> list[Link]:
        with self._lock:
            if self._find_links is not None:
                return self._find_links
        out: list[Link] = []
        for location in self._config.find_links:
            out.extend(self._read_find_links(location))
        with self._lock:
            self._find_links = out
        return out

    def _read_find_links(self, location: str) -> Sequence[Link]:
        if location.startswith(("http://", "https://")):
            resp = self.get(location)
            if resp.status_code in (404, 410):
                raise IndexFetchError(f"find-links location {location} returned HTTP "
                                      f"{resp.status_code}", url=location,
                                      status_code=resp.status_code)
            return parse_page(resp.content, url=str(resp.url), origin=location,
                              content_type=resp.headers.get("content-type", "text/html"))
        path = url_to_path(location) if location.startswith("file:") else Path(location)
        if path.is_dir():
            return [Link.from_url(p.resolve().as_uri(), origin=location)
                    for p in sorted(path.iterdir()) if p.is_file()]
        if path.is_file() and path.suffix in (".html", ".htm"):
            return parse_html_page(path.read_bytes(), url=path.resolve().as_uri(),
                                   origin=location)
        raise IndexFetchError(f"find-links location {location} is not a directory or page",
                              url=location)


_MAX_REDIRECTS = 10


def _host(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else url


def _describe(exc: httpx.TransportError) -> str:
    import httpx

    text = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        if "refused" in text.lower():
            return "connection refused"
        if "name" in text.lower() and "resolution" in text.lower():
            return "host name not found"
        return f"connection failed ({text})"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"connection dropped ({text})"
    return text
