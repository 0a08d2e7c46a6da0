"""Small facts read from core metadata (METADATA / PKG-INFO). Pure."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

if TYPE_CHECKING:
    import zipfile

    from packaging.metadata import RawMetadata


def header_fields(data: bytes, names: Collection[str]) -> dict[str, str]:
    """The first value of each of ``names`` (lower case) among the one-line fields of an
    email-style header block (core metadata, a wheel's WHEEL), read line by line instead
    of loading the email parser; it stops at the end of the block."""
    found: dict[str, str] = {}
    for line in data.split(b"\n"):
        line = line.rstrip(b"\r")
        if not line:
            break  # the end of the headers
        if line[:1] in (b" ", b"\t"):
            continue  # a continuation of a multi-line field
        key, sep, value = line.partition(b":")
        field = key.strip().lower().decode("utf-8", "replace")
        if sep and field in names and field not in found:
            found[field] = value.strip().decode("utf-8", "replace")
            if len(found) == len(names):
                break
    return found


def wheel_metadata(zf: zipfile.ZipFile) -> bytes:
    """The one ``<name>.dist-info/METADATA`` of the wheel open in ``zf``.

    Raises `zipfile.BadZipFile` saying what is wrong: not exactly one such member, or
    one that cannot be read (encrypted, compressed in a way zipfile has no code for,
    damaged), which zipfile itself raises as other errors."""
    import zipfile
    import zlib

    names = [n for n in zf.namelist()
             if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
    if len(names) != 1:
        raise zipfile.BadZipFile(f"expected one .dist-info/METADATA, found {len(names)}")
    name = names[0]
    try:
        return zf.read(name)
    except NotImplementedError as exc:  # (a RuntimeError: first)
        raise zipfile.BadZipFile(f"the member {name} is compressed in a way that cannot "
                                 "be read") from exc
    except RuntimeError as exc:  # zipfile's word for "encrypted"
        raise zipfile.BadZipFile(f"the member {name} is encrypted") from exc
    except (zlib.error, EOFError) as exc:
        raise zipfile.BadZipFile(f"the member {name} is damaged ({exc})") from exc


def name_and_version(data: bytes) -> tuple[str | None, str | None]:
    """Just the ``Name`` and ``Version`` fields of core metadata (listing an environment
    needs only these two)."""
    found = header_fields(data, ("name", "version"))
    return found.get("name"), found.get("version")


def parse_headers(data: bytes) -> RawMetadata:
    """The header fields of core metadata, without parsing the long description that
    follows them (the email parser spends most of its time there)."""
    from packaging.metadata import parse_email

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
    ``version``; also what it does say. Bytes are read for these two fields only (an
    unpacking worker then never loads the email parser)."""
    if isinstance(data, bytes):
        said_name, said_version = name_and_version(data)
    else:
        said_name, said_version = data.get("name"), data.get("version")
    try:
        same = (said_name is not None and said_version is not None
                and canonicalize_name(said_name) == name and Version(said_version) == version)
    except InvalidVersion:
        same = False
    return same, said_name, said_version
