"""Unpacking source archives refuses anything that would land outside the directory."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from pyinst.errors import InvalidSdist
from pyinst.sdist import unpack_source_archive


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name: str, data: bytes = b"x = 1\n") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _link(name: str, target: str, kind: bytes) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def _snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


GOOD = [_file("proj-1.0/pyproject.toml", b"[project]\nname='proj'\n"),
        _file("proj-1.0/proj/__init__.py")]


def test_a_normal_sdist_unpacks_to_its_project_directory(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "proj-1.0.tar.gz",
                   [*GOOD, _link("proj-1.0/alias.py", "proj/__init__.py", tarfile.SYMTYPE)])
    root = unpack_source_archive(archive, tmp_path / "out")
    assert root == tmp_path / "out" / "proj-1.0"
    assert (root / "proj" / "__init__.py").read_text() == "x = 1\n"
    assert (root / "alias.py").is_symlink()


@pytest.mark.parametrize(("member", "says"), [
    (_link("proj-1.0/evil", "../../outside", tarfile.SYMTYPE), "symbolic link"),
    (_link("proj-1.0/evil", "/etc/passwd", tarfile.SYMTYPE), "symbolic link"),
    (_link("proj-1.0/evil", "../../outside/secret", tarfile.LNKTYPE), "hard link"),
    (_file("/tmp/absolute-member.txt"), "outside the extraction directory"),
    (_file("proj-1.0/../../climb.txt"), "outside the extraction directory"),
    (_link("proj-1.0/dev", "", tarfile.CHRTYPE), "device or FIFO"),
])
def test_hostile_members_are_refused_and_nothing_is_written_outside(
        tmp_path: Path, member: tuple[tarfile.TarInfo, bytes | None], says: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("keep me")
    work = tmp_path / "work"
    work.mkdir()
    archive = _tar(work / "proj-1.0.tar.gz", [*GOOD, member])
    before = _snapshot(tmp_path)
    with pytest.raises(InvalidSdist) as info:
        unpack_source_archive(archive, work / "out", package="proj")
    assert says in str(info.value) and "proj-1.0.tar.gz" in str(info.value)
    assert info.value.package == "proj"
    # the refusal comes before any member is written
    assert _snapshot(tmp_path) - before <= {"work/out"}
    assert not list((work / "out").iterdir())
    assert (outside / "secret").read_text() == "keep me"


def test_zip_members_that_climb_out_are_refused(tmp_path: Path) -> None:
    archive = tmp_path / "proj-1.0.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("proj-1.0/setup.py", "")
        zf.writestr("../escape.py", "")
    with pytest.raises(InvalidSdist, match=r"escape\.py"):
        unpack_source_archive(archive, tmp_path / "out")
    assert not (tmp_path / "escape.py").exists()


def test_a_corrupt_archive_is_a_clear_error(tmp_path: Path) -> None:
    archive = tmp_path / "proj-1.0.tar.gz"
    archive.write_bytes(b"\x1f\x8bnot really gzip")
    with pytest.raises(InvalidSdist, match=r"cannot unpack proj-1\.0\.tar\.gz"):
        unpack_source_archive(archive, tmp_path / "out")
