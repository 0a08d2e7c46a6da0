"""Unpacking source archives (sdists, source URLs) without writing outside the target.

Every member is checked before anything is written: no absolute names, no ``..`` that
climbs out, no symbolic or hard link that points outside the extraction directory, no
devices or FIFOs. Where the running Python has the tarfile ``data`` filter, it is
applied as well. A refused archive raises `InvalidSdist` naming the member.
"""

from __future__ import annotations

import os
import posixpath
import tarfile
import zipfile
from pathlib import Path

from .errors import InvalidSdist
from .models import ARCHIVE_SUFFIXES


def _inside(name: str) -> bool:
    """Whether a relative archive name stays inside the extraction directory."""
    if not name or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return False
    norm = posixpath.normpath(name.replace("\\", "/"))
    return norm != ".." and not norm.startswith("../")


def _check_tar(tf: tarfile.TarFile, describe: str) -> list[tarfile.TarInfo]:
    members = []
    for m in tf.getmembers():
        if not _inside(m.name):
            raise InvalidSdist(f"{describe}: member '{m.name}' would be written outside the "
                               "extraction directory")
        if m.issym():
            target = posixpath.join(posixpath.dirname(m.name), m.linkname)
            if m.linkname.startswith("/") or not _inside(target):
                raise InvalidSdist(f"{describe}: symbolic link '{m.name}' points outside the "
                                   f"extraction directory ({m.linkname})")
        elif m.islnk():
            if not _inside(m.linkname):
                raise InvalidSdist(f"{describe}: hard link '{m.name}' points outside the "
                                   f"extraction directory ({m.linkname})")
        elif not (m.isfile() or m.isdir()):
            raise InvalidSdist(f"{describe}: member '{m.name}' is a device or FIFO")
        members.append(m)
    return members


def unpack_source_archive(archive: Path, dest: Path, *, package: str | None = None) -> Path:
    """Unpack ``archive`` into the (new, empty) directory ``dest``; return the project
    directory in it (the single top-level directory of an sdist, or ``dest``)."""
    describe = f"refusing to unpack {archive.name}" + (f" ('{package}')" if package else "")
    dest.mkdir(parents=True, exist_ok=True)
    try:
        if archive.name.lower().endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                for name in zf.namelist():
                    if not _inside(name):
                        raise InvalidSdist(f"{describe}: member '{name}' would be written "
                                           "outside the extraction directory",
                                           package=package, path=str(archive))
                zf.extractall(dest)
        else:
            with tarfile.open(archive) as tf:
                members = _check_tar(tf, describe)
                if hasattr(tarfile, "data_filter"):
                    tf.extractall(dest, members=members, filter="data")
                else:  # pragma: no cover - Pythons before the 2023 security releases
                    tf.extractall(dest, members=members)
    except InvalidSdist as exc:
        exc.package = package
        raise
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise InvalidSdist(f"cannot unpack {archive.name}"
                           + (f" ('{package}')" if package else "") + f": {exc}",
                           package=package, path=str(archive)) from exc
    return project_root(dest)


def project_root(directory: Path) -> Path:
    """The directory holding pyproject.toml or setup.py: ``directory`` or its only child."""
    if (directory / "pyproject.toml").exists() or (directory / "setup.py").exists():
        return directory
    entries = [e for e in os.scandir(directory) if not e.name.startswith(".")]
    if len(entries) == 1 and entries[0].is_dir():
        return Path(entries[0].path)
    return directory


__all__ = ["ARCHIVE_SUFFIXES", "project_root", "unpack_source_archive"]
