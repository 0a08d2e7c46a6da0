"""`name_and_version` reads two header fields without the email parser: it must agree
with packaging's parser on real metadata and on the awkward corners of the format."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest
from packaging.metadata import parse_email

from pyinst.metadata import name_and_version


def _real_metadata() -> list[Path]:
    site = Path(sysconfig.get_paths()["purelib"])
    return sorted(site.glob("*.dist-info/METADATA"))


def test_it_agrees_with_packaging_on_every_installed_distribution() -> None:
    files = _real_metadata()
    assert len(files) > 10
    for path in files:
        data = path.read_bytes()
        raw, _ = parse_email(data)
        assert name_and_version(data) == (raw.get("name"), raw.get("version")), path


@pytest.mark.parametrize(("data", "expected"), [
    (b"Metadata-Version: 2.1\r\nName: crlf\r\nVersion: 1.0\r\n\r\nbody", ("crlf", "1.0")),
    (b"Metadata-Version: 2.1\nSummary: a\n  Name: not-me\nName: real\nVersion: 2\n",
     ("real", "2")),
    (b"Metadata-Version: 2.1\nName: early\n\nName: in-the-body\nVersion: 9\n",
     ("early", None)),
    (b"metadata-version: 2.1\nNAME:  spaced  \nversion:3.0\n", ("spaced", "3.0")),
    (b"Metadata-Version: 2.1\nName: first\nName: second\nVersion: 1\n", ("first", "1")),
    (b"", (None, None)),
])
def test_awkward_headers(data: bytes, expected: tuple[str | None, str | None]) -> None:
    assert name_and_version(data) == expected
