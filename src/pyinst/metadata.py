"""Small facts read from core metadata (METADATA / PKG-INFO). Pure."""

from __future__ import annotations

from packaging.metadata import parse_email
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version


def names_itself(data: bytes | str, name: NormalizedName,
                 version: Version) -> tuple[bool, str | None, str | None]:
    """Whether metadata says it is ``name`` ``version``; also what it does say."""
    raw, _ = parse_email(data)
    said_name, said_version = raw.get("name"), raw.get("version")
    try:
        same = (said_name is not None and said_version is not None
                and canonicalize_name(said_name) == name and Version(said_version) == version)
    except InvalidVersion:
        same = False
    return same, said_name, said_version
