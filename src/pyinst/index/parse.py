"""Parse simple-repository pages (PEP 503 HTML, PEP 691 JSON) into `Link`s. Pure."""

from __future__ import annotations

import dataclasses
import json
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

from ..errors import IndexPageError
from ..models import Link

JSON_CONTENT_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_CONTENT_TYPE = "application/vnd.pypi.simple.v1+html"
ACCEPT = f"{JSON_CONTENT_TYPE}, {HTML_CONTENT_TYPE};q=0.2, text/html;q=0.01"


def parse_page(content: bytes, *, url: str, content_type: str, origin: str = "",
               package: str | None = None) -> list[Link]:
    """Links from a project page, dispatching on its content type."""
    ctype = content_type.split(";", 1)[0].strip().lower()
    if ctype == JSON_CONTENT_TYPE or ctype.endswith("+json") or ctype == "application/json":
        return parse_json_page(content, url=url, origin=origin, package=package)
    if ctype in (HTML_CONTENT_TYPE, "text/html", "application/xhtml+xml", ""):
        return parse_html_page(content, url=url, origin=origin, package=package)
    raise IndexPageError(
        f"index page {url} has an unsupported content type '{ctype}'", url=url, package=package
    )


def _metadata_attr(value: str | None) -> dict[str, str] | None:
    """PEP 658/714 attribute: absent/"false" -> None; "true" -> {}; "sha256=..." -> hashes."""
    if value is None:
        return None
    value = value.strip()
    if value.lower() == "false":
        return None
    name, sep, digest = value.partition("=")
    if sep and digest:
        return {name.lower(): digest.lower()}
    return {}


# PEP 503 pages are flat lists of anchors; a tokenising regex is ~10x faster than
# html.parser on pages with thousands of files, and just as tolerant of tag soup.
_TAG = re.compile(r"""<(a|base)\s((?:[^>"']|"[^"]*"|'[^']*')*)>""", re.IGNORECASE)
_ATTR = re.compile(r"""([^\s=/>"']+)(\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?""")


def _attributes(text: str) -> dict[str, str | None]:
    """An anchor's attributes; a bare one (``data-yanked``) is None, as html.parser has it.
    `findall` and plain tuples: this runs for every file of every page."""
    attrs: dict[str, str | None] = {}
    for name, assigned, double, single, bare in _ATTR.findall(text):
        name = name.lower()
        if name in attrs:
            continue
        if assigned:
            raw = double or single or bare
            attrs[name] = _unescape(raw) if "&" in raw else raw
        else:
            attrs[name] = None
    return attrs


def _unescape(text: str) -> str:
    """HTML's character references resolved; `html` (and its table of entities, a couple
    of milliseconds of every command's start-up) imported only for a page that has any."""
    import html

    return html.unescape(text)


def _join(base: str, href: str) -> str:
    """``href`` made absolute against ``base``; one that is already (the common case)
    skips the costly ``urljoin``, which a page of thousands of files pays per file."""
    if href.startswith(("https://", "http://")) and "/." not in href:
        return href
    return urllib.parse.urljoin(base, href)


def parse_html_page(content: bytes, *, url: str, origin: str = "",
                    package: str | None = None) -> list[Link]:
    text = content.decode("utf-8", errors="replace")
    base_href: str | None = None
    anchors: list[dict[str, str | None]] = []
    for m in _TAG.finditer(text):
        attrs = _attributes(m.group(2))
        if m.group(1).lower() == "base":
            if base_href is None and attrs.get("href"):
                base_href = attrs["href"]
        else:
            anchors.append(attrs)
    base = urllib.parse.urljoin(url, base_href) if base_href else url
    links = []
    for attrs in anchors:
        href = attrs.get("href")
        if not href:
            continue
        meta = attrs.get("data-core-metadata")
        if meta is None:
            meta = attrs.get("data-dist-info-metadata")
        try:
            full = _join(base, href.strip())
        except ValueError:
            continue  # an unparseable URL (bad IPv6 literal, ...) is not a usable link
        link = Link.from_url(
            full,
            requires_python=(attrs.get("data-requires-python") or None),
            yanked=attrs.get("data-yanked") if "data-yanked" in attrs else None,
            metadata_hashes=_metadata_attr(meta),
            origin=origin,
        )
        if link.yanked is None and "data-yanked" in attrs:
            link = dataclasses.replace(link, yanked="")
        if link.filename:
            links.append(link)
    return links


def _json_metadata(value: Any) -> dict[str, str] | None:
    if value is None or value is False:
        return None
    if value is True:
        return {}
    if isinstance(value, Mapping):
        return {str(k).lower(): str(v).lower() for k, v in value.items()}
    return None


def parse_json_page(content: bytes, *, url: str, origin: str = "",
                    package: str | None = None) -> list[Link]:
    try:
        data = json.loads(content)
        version = str(data.get("meta", {}).get("api-version", "1.0"))
        files = data["files"]
        if not isinstance(files, list):
            raise TypeError("'files' is not a list")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise IndexPageError(f"index page {url} is not valid simple-API JSON: {exc}",
                             url=url, package=package) from exc
    if version.split(".", 1)[0] != "1":
        raise IndexPageError(f"index page {url} uses unsupported API version {version}",
                             url=url, package=package)
    links = []
    for entry in files:
        try:
            file_url = _join(url, entry["url"])
            given = entry.get("hashes") or {}
            hashes = {str(k).lower(): str(v).lower() for k, v in given.items()}
            yanked = entry.get("yanked", False)
            meta = entry.get("core-metadata", entry.get("dist-info-metadata"))
            size = entry.get("size")
            filename = entry.get("filename")
            if filename is not None and not isinstance(filename, str):
                raise TypeError(f"'filename' is not a string: {filename!r}")
            link = Link.from_url(
                file_url,
                hashes=hashes,
                requires_python=entry.get("requires-python") or None,
                yanked=(yanked if isinstance(yanked, str) else ("" if yanked else None)),
                metadata_hashes=_json_metadata(meta),
                origin=origin,
                size=size if isinstance(size, int) and size >= 0 else None,
                filename=filename or None,
            )
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise IndexPageError(f"index page {url} has a malformed file entry: {exc}",
                                 url=url, package=package) from exc
        links.append(link)
    return links
