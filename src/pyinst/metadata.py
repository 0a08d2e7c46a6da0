"""Small facts read from core metadata (METADATA / PKG-INFO). Pure."""

from __future__ import annotations

from packaging.metadata import RawMetadata, parse_email
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version


def parse_headers(data: bytes) -> RawMetadata:
    """The header fields of core metadata, without parsing the long description that
    follows them (the email parser spends most of its time there)."""
    for sep in (b"\n\n", b"\r\n\r\n"):
        head, found, _ = data.partition(sep)
        if found:
            data = head + sep
            break
    raw, _ = parse_email(data)
    return raw


def names_itself(data: bytes | RawMetadata, name: NormalizedName,
                 version: Version) -> tuple[bool, str | None, str | None]:
    """Whether metadata (bytes, or headers already parsed) says it is ``name``
    ``version``; also what it does say."""
    raw = parse_headers(data) if isinstance(data, bytes) else data
    said_name, said_version = raw.get("name"), raw.get("version")
    try:
        same = (said_name is not None and said_version is not None
                and canonicalize_name(said_name) == name and Version(said_version) == version)
    except InvalidVersion:
        same = False
    return same, said_name, said_version
