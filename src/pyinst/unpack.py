"""Each wheel is verified and unpacked once, into the cache; installs link from there.

`installer` does the unpacking, into a destination of ours that lays files out by
scheme (``<entry>/<scheme>/<path>``) and records, instead of writing them, what depends
on the target: console scripts and RECORD. A manifest lists every file with its hash,
so an install never reads or decompresses the wheel again.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import os
import re
import shutil
import stat
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, cast

import installer
from installer.destinations import WheelDestination
from installer.exceptions import InstallerError
from installer.records import Hash, InvalidRecordEntry, RecordEntry, parse_record_file
from installer.sources import WheelFile

from .cache import EntryLock, file_sha256
from .errors import InvalidWheel
from .metadata import names_itself
from .models import Pin
from .unpacked import (
    UnpackedFile,
    UnpackedWheel,
    _entry,
    _index_sha256,
    read_manifest,
    record_hash,
    write_manifest,
)

try:  # ISA-L inflates in about half the time zlib takes (a dependency where it has wheels)
    from isal import isal_zlib as _zlib
except ImportError:  # pragma: no cover - other platforms
    _zlib = zlib  # type: ignore[misc,unused-ignore]
_INFLATE_ERRORS = (zlib.error, cast("type[Exception]", _zlib.error))  # isal: IsalError


class _UnpackDestination(WheelDestination):
    """Writes into ``<root>/<scheme>/<path>`` and checks each file against the wheel's
    RECORD as it is written, so a wheel is decompressed exactly once."""

    def __init__(self, root: Path, record: dict[str, tuple[str, str]], data_dir: str,
                 label: str) -> None:
        self._root = root
        self._record = record
        self._data_dir = data_dir
        self._label = label
        self.seen: set[str] = set()
        self._made_dirs: set[str] = set()
        self._bases: dict[str, str] = {}
        self.files: list[UnpackedFile] = []
        self.scripts: list[tuple[str, str, str, str]] = []
        self.root_scheme = ""

    def _expected(self, scheme: str, rel: str) -> tuple[str, tuple[str, str]] | None:
        for key in (rel, f"{self._data_dir}/{scheme}/{rel}"):
            if key in self._record:
                return key, self._record[key]
        return None

    def write_file(self, scheme: str, path: str | os.PathLike[str],
                   stream: BinaryIO, is_executable: bool) -> RecordEntry:
        raw = os.fspath(path)
        rel = raw.replace("\\", "/")
        # strings, not pathlib: this runs for every file of every wheel unpacked
        base = self._bases.get(scheme)
        if base is None:
            base = self._bases[scheme] = os.path.normpath(os.path.join(self._root, scheme))
        full = os.path.normpath(os.path.join(base, rel))
        if not full.startswith(base + os.sep) or _DRIVE.match(rel) or rel.startswith("/") \
                or ".." in rel.split("/"):
            raise InvalidWheel(f"invalid wheel {self._label}: it writes outside its "
                               f"scheme: {raw}")
        expected = self._expected(scheme, rel)
        if expected is None and rel.rsplit("/", 1)[-1] not in _UNRECORDED:
            raise InvalidWheel(f"invalid wheel {self._label}: {rel} is not in its RECORD")
        algo = "sha256"
        if expected is not None and expected[1][0]:
            algo = expected[1][0].split("=", 1)[0]
            if algo not in hashlib.algorithms_guaranteed or algo in ("md5", "sha1"):
                raise InvalidWheel(f"invalid wheel {self._label}: RECORD uses the weak or "
                                   f"unknown hash '{algo}' for {rel}")
        parent = os.path.dirname(full)
        if parent not in self._made_dirs:  # one mkdir per directory, not per file
            os.makedirs(parent, exist_ok=True)
            self._made_dirs.add(parent)
        digest = hashlib.sha256()
        check = digest if algo == "sha256" else hashlib.new(algo)
        fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                     0o777 if is_executable else 0o666)
        try:
            chunks = stream.chunks if isinstance(stream, _Member) else \
                iter(lambda: stream.read(_STEP), b"")
            size = 0
            for chunk in chunks:
                _write_all(fd, chunk)
                digest.update(chunk)
                if check is not digest:
                    check.update(chunk)
                size += len(chunk)
        finally:
            os.close(fd)
        if expected is not None:
            key, (want_hash, want_size) = expected
            self.seen.add(key)
            if want_hash:
                have = algo + "=" + base64.urlsafe_b64encode(check.digest()).decode().rstrip("=")
                if have != want_hash or (want_size and int(want_size) != size):
                    raise InvalidWheel(f"invalid wheel {self._label}: {key} does not match "
                                       "its RECORD entry")
        h = record_hash(digest.digest())
        self.files.append(UnpackedFile(scheme, rel, h, size, is_executable))
        return RecordEntry(rel, Hash("sha256", h.split("=", 1)[1]), size)

    def write_script(self, name: str, module: str, attr: str,  # type: ignore[override,unused-ignore]
                     section: str) -> RecordEntry:
        if not _SCRIPT_NAME.fullmatch(name) or _INTERPRETER_NAME.fullmatch(name):
            raise InvalidWheel(f"invalid wheel {self._label}: entry point name {name!r} is "
                               "not a plain command name (or would replace the interpreter)")
        if not _DOTTED.fullmatch(module) or not _DOTTED.fullmatch(attr):
            raise InvalidWheel(f"invalid wheel {self._label}: entry point {name!r} has an "
                               f"invalid value {module}:{attr}")
        self.scripts.append((name, module, attr, section))
        return RecordEntry(name, None, None)

    def finalize_installation(self, scheme: str, record_file_path: str,  # type: ignore[override,unused-ignore]
                              records: Iterable[tuple[str, RecordEntry]]) -> None:
        self.root_scheme = scheme
        missing = [p for p, (h, _) in self._record.items() if h and p not in self.seen]
        if missing:
            raise InvalidWheel(f"invalid wheel {self._label}: RECORD lists files the wheel "
                               f"does not contain: {', '.join(sorted(missing)[:3])}")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class _Member(io.BytesIO):
    """A wheel member inflated by `_Wheel`, as chunks that `_UnpackDestination` writes
    and hashes directly (one chunk, unless the member is big)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        super().__init__()
        self.chunks = chunks


#: members up to this size (uncompressed) are inflated in one call; bigger ones in
#: steps of `_STEP` compressed bytes (that bounds the memory a thread holds)
_AT_ONCE = 1 << 20
_STEP = 1 << 18
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")


class _Wheel(WheelFile):
    """`installer`'s wheel source, reading each member with one ``pread`` and inflating
    it with one call instead of through `zipfile`'s buffered stream: the same bytes in
    a fraction of the time (unpacking is most of a cold install), and both calls
    release the GIL, so wheels unpack on all cores at once. zipfile's checks are kept:
    the local header must name the member the central directory names, and sizes must
    match; the CRC is checked when RECORD has no hash for the member (when it has one,
    the destination checks that, which is stronger)."""

    def __init__(self, zf: zipfile.ZipFile, fd: int) -> None:
        super().__init__(zf)
        self._zf = zf
        self._fd = fd
        self._record: dict[str, tuple[str, str]] | None = None

    @property
    def dist_info_filenames(self) -> list[str]:
        """The files in the .dist-info directory, found by prefix: installer's own way
        calls ``posixpath.commonpath`` for every member of the wheel (to see whether
        there is an entry_points.txt)."""
        prefix = self.dist_info_dir + "/"
        return [name[len(prefix):] for name in self._zf.namelist()
                if name.startswith(prefix) and name[-1:] != "/"]

    def record(self) -> dict[str, tuple[str, str]]:
        """RECORD as path -> (hash, size), read and parsed (by installer) once; without
        the bytecode files `get_contents` leaves out."""
        if self._record is None:
            self._record = {path: (h, size) for path, h, size in parse_record_file(
                self.read_dist_info("RECORD").splitlines()) if not _in_pycache(path)}
        return self._record

    def get_contents(self) -> Iterator[tuple[tuple[str, str, str], BinaryIO, bool]]:
        record = self.record()
        for item in self._zf.infolist():
            if item.filename[-1:] == "/" or _in_pycache(item.filename):
                continue
            h, size = record.get(item.filename, ("", ""))
            row = (item.filename, h, size)
            mode = item.external_attr >> 16
            executable = bool(mode and stat.S_ISREG(mode) and mode & 0o111)
            if item.flag_bits & 1:
                raise zipfile.BadZipFile(f"the member {item.filename} is encrypted")
            if item.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                with self._zf.open(item) as stream:  # bzip2, lzma: allowed, never seen
                    yield row, cast(BinaryIO, stream), executable
            elif item.file_size <= _AT_ONCE:
                yield row, _Member((self._read(item, not row[1]),)), executable
            else:
                yield row, _Member(self._stream(item, not row[1])), executable

    def _local(self, item: zipfile.ZipInfo, also: int) -> tuple[bytes, int]:
        """The member's local header and ``also`` bytes after it (one read, when its
        extra field is short, as it nearly always is) and where its data starts."""
        name = item.orig_filename.encode("utf-8" if item.flag_bits & 0x800 else "cp437")
        fixed = _LOCAL_HEADER.size
        raw = os.pread(self._fd, fixed + len(name) + 64 + also, item.header_offset)
        if len(raw) < fixed + len(name):
            raise zipfile.BadZipFile(f"truncated member {item.filename}")
        head = _LOCAL_HEADER.unpack_from(raw)
        if head[0] != b"PK\x03\x04" or raw[fixed:fixed + head[10]] != name:
            raise zipfile.BadZipFile(f"the member {item.filename}: its local header and the "
                                     "central directory differ")
        start = fixed + head[10] + head[11]
        if start + also > len(raw):  # a long extra field: read the rest
            raw += os.pread(self._fd, start + also - len(raw), item.header_offset + len(raw))
        return raw, start

    def _read(self, item: zipfile.ZipInfo, check_crc: bool) -> bytes:
        raw, start = self._local(item, item.compress_size)
        body = memoryview(raw)[start:start + item.compress_size]
        if item.compress_type == zipfile.ZIP_DEFLATED:
            try:
                data = _zlib.decompress(body, -15, item.file_size or 1)
            except _INFLATE_ERRORS as exc:
                raise zipfile.BadZipFile(f"cannot inflate {item.filename}: {exc}") from None
        else:
            data = bytes(body)
        _check_member(item, len(data), zlib.crc32(data) if check_crc else None)
        return data

    def _stream(self, item: zipfile.ZipInfo, check_crc: bool) -> Iterator[bytes]:
        """A big member, inflated `_STEP` compressed bytes at a time."""
        _, start = self._local(item, 0)
        at = item.header_offset + start
        end = at + item.compress_size
        inflater = _zlib.decompressobj(-15) \
            if item.compress_type == zipfile.ZIP_DEFLATED else None
        size = crc = 0
        while at < end:
            block = os.pread(self._fd, min(_STEP, end - at), at)
            if not block:
                raise zipfile.BadZipFile(f"truncated member {item.filename}")
            at += len(block)
            try:
                data = inflater.decompress(block) if inflater is not None else block
            except _INFLATE_ERRORS as exc:
                raise zipfile.BadZipFile(f"cannot inflate {item.filename}: {exc}") from None
            size += len(data)
            crc = zlib.crc32(data, crc) if check_crc else 0
            yield data
        if inflater is not None and not inflater.eof:
            raise zipfile.BadZipFile(f"truncated member {item.filename}")
        _check_member(item, size, crc if check_crc else None)


def _in_pycache(path: str) -> bool:
    """A wheel's bytecode in a ``__pycache__`` directory is not installed: it would be
    stale or foreign to the target's interpreter, and the target compiles its own.
    installer skips it too, but warns through the process's ``warnings`` (printed on
    the host's stderr), so it is left out before installer sees it, and RECORD's entry
    for it is not asked for."""
    return "__pycache__/" in path and "__pycache__" in path.split("/")[:-1]


def _check_member(item: zipfile.ZipInfo, size: int, crc: int | None) -> None:
    if size != item.file_size or (crc is not None and crc != item.CRC):
        raise zipfile.BadZipFile(f"the member {item.filename} is damaged (its size or CRC "
                                 "does not match the central directory)")


_DRIVE = re.compile(r"^[A-Za-z]:")
#: files a wheel may carry without a RECORD row (the RECORD and its signatures)
_UNRECORDED = frozenset({"RECORD", "RECORD.jws", "RECORD.p7s"})
_SCRIPT_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")
_INTERPRETER_NAME = re.compile(r"python(\d+(\.\d+)?)?(w)?")
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def _check_zip(zf: zipfile.ZipFile, fd: int, label: str) -> list[str]:
    """Structure checks zipfile does not make: every member named once, nothing after
    the end-of-central-directory record."""
    names = zf.namelist()
    if len(names) != len(set(names)):
        dup = sorted({n for n in names if names.count(n) > 1})[0]
        raise InvalidWheel(f"invalid wheel {label}: the member {dup} appears twice")
    size = os.fstat(fd).st_size
    start = max(0, size - (1 << 16) - 22)
    tail = os.pread(fd, size - start, start)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        raise InvalidWheel(f"invalid wheel {label}: no end-of-central-directory record")
    comment = int.from_bytes(tail[at + 20:at + 22], "little")
    if at + 22 + comment != len(tail):
        raise InvalidWheel(f"invalid wheel {label}: there is data after the zip's end record")
    return names


def _check_identity(pin: Pin, wf: WheelFile, label: str, path: Path,
                    names: list[str]) -> str:
    ok, name, version = names_itself(wf.read_dist_info("METADATA").encode("utf-8"), pin.name,
                                     pin.version)
    if not ok:
        raise InvalidWheel(f"invalid wheel {label}: its metadata says {name} {version}",
                           package=pin.name, path=str(path))
    tops = {n.split("/", 1)[0] for n in names if "/" in n}
    infos = sorted(t for t in tops if t.endswith(".dist-info"))
    want = f"{pin.name}-{pin.version}.dist-info"
    if len(infos) != 1 or _normal_dist_info(infos[0]) != _normal_dist_info(want):
        raise InvalidWheel(f"invalid wheel {label}: expected one {want} directory, found "
                           f"{', '.join(infos) or 'none'}", package=pin.name, path=str(path))
    wheel_text = wf.read_dist_info("WHEEL")
    if "Wheel-Version: 1." not in wheel_text:
        raise InvalidWheel(f"invalid wheel {label}: unsupported Wheel-Version",
                           package=pin.name, path=str(path))
    return str(wf.dist_info_dir)


_ENTRY_VALUE = re.compile(
    r"\s*(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?(\[[\w\s,.-]*\])?\s*")


def _check_entry_points(wf: WheelFile, label: str) -> None:
    """Console and GUI commands, checked before installer sees them (it asserts, and
    an ``assert`` is no check at all under ``python -O``)."""
    import configparser

    try:
        text = wf.read_dist_info("entry_points.txt")
    except (KeyError, FileNotFoundError):
        return
    parser = configparser.ConfigParser(delimiters="=", interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        raise InvalidWheel(f"invalid wheel {label}: unreadable entry_points.txt "
                           f"({str(exc).splitlines()[0]})") from None
    for section in ("console_scripts", "gui_scripts"):
        if not parser.has_section(section):
            continue
        for name, value in parser.items(section):
            m = _ENTRY_VALUE.fullmatch(value)
            if not _SCRIPT_NAME.fullmatch(name) or _INTERPRETER_NAME.fullmatch(name):
                raise InvalidWheel(f"invalid wheel {label}: entry point name {name!r} is not "
                                   "a plain command name (or would replace the interpreter)")
            if m is None or not m.group("attr") or not _DOTTED.fullmatch(m.group("module")) \
                    or not _DOTTED.fullmatch(m.group("attr")):
                raise InvalidWheel(f"invalid wheel {label}: entry point {name!r} has an "
                                   f"invalid value {value!r}")


def _normal_dist_info(name: str) -> tuple[str, str]:
    from packaging.utils import canonicalize_name, canonicalize_version

    stem = name[: -len(".dist-info")]
    project, _, version = stem.rpartition("-")
    return canonicalize_name(project), canonicalize_version(version)


def unpack(pin: Pin, wheel: Path, cache_root: Path) -> UnpackedWheel:
    """The verified, unpacked form of ``wheel`` (made once, then reused)."""
    # The fetcher checked the file against the index's sha256, when there was one.
    key = _index_sha256(pin) or file_sha256(wheel)
    entry = _entry(cache_root, key)
    ready = read_manifest(entry)
    if ready is not None:
        return ready
    entry.parent.mkdir(parents=True, exist_ok=True)
    with EntryLock(entry.parent / f".{key}.lock"):
        ready = read_manifest(entry)
        if ready is not None:
            return ready
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=entry.parent))
        try:
            unpacked = _unpack_into(pin, wheel, tmp)
            write_manifest(unpacked, tmp)
            if entry.exists():  # a half-published or damaged entry: replace it
                shutil.rmtree(entry)
            os.rename(tmp, entry)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return dataclasses.replace(unpacked, root=entry)


def _unpack_into(pin: Pin, wheel: Path, root: Path) -> UnpackedWheel:
    label = f"'{pin.name}' {pin.version} ({wheel.name})"
    try:
        with open(wheel, "rb") as fh, zipfile.ZipFile(fh) as zf:
            names = _check_zip(zf, fh.fileno(), label)
            wf = _Wheel(zf, fh.fileno())
            dist_info = _check_identity(pin, wf, label, wheel, names)
            _check_entry_points(wf, label)
            dest = _UnpackDestination(root, wf.record(), str(wf.data_dir), label)
            installer.install(wf, dest, {})
    except InvalidWheel:
        raise
    except zipfile.BadZipFile as exc:
        raise InvalidWheel(f"invalid wheel {label}: not a valid zip file ({exc})",
                           package=pin.name, path=str(wheel)) from exc
    except (InstallerError, InvalidRecordEntry, ValueError, KeyError, OSError) as exc:
        detail = str(exc).strip() or type(exc).__name__
        raise InvalidWheel(f"invalid wheel {label}: {detail}", package=pin.name,
                           path=str(wheel)) from exc
    return UnpackedWheel.from_files(root, dist_info, dest.root_scheme, dest.files,
                                    tuple(dest.scripts))
