"""Each wheel is verified and unpacked once, into the cache; installs link from there.

The wheel is read here, not through `installer`: its members are routed to their
schemes (PEP 427: the archive's root to purelib or platlib as WHEEL says, ``.data/<scheme>/``
to that scheme) and written into ``<entry>/<scheme>/<path>``, each checked against the
wheel's RECORD as it is written; what depends on the target (console scripts, RECORD) is
recorded, not written. A manifest lists every file with its hash, so an install never
reads or decompresses the wheel again. (`installer` did this walk; its per-file
bookkeeping was a sixth of an unpack's CPU, and importing it a fifth of a worker's
start-up.)
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
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
from typing import IO, cast

from .cache import EntryLock, cache_writes, file_sha256, refused_by_storage
from .errors import InvalidWheel
from .metadata import header_fields, names_itself
from .models import Pin
from .unpacked import (
    PLAIN_SEP,
    UnpackedFile,
    UnpackedWheel,
    _entry,
    _index_sha256,
    plain_paths,
    read_manifest,
    record_hash,
    write_manifest,
)

try:  # ISA-L inflates in about half the time zlib takes (a dependency where it has wheels)
    from isal import isal_zlib as _zlib
except ImportError:  # pragma: no cover - other platforms
    _zlib = zlib  # type: ignore[misc,unused-ignore]
_INFLATE_ERRORS = (zlib.error, cast("type[Exception]", _zlib.error))  # isal: IsalError

#: the schemes a wheel's ``.data`` directory may hold (PEP 427, sysconfig's names)
_SCHEMES = frozenset({"purelib", "platlib", "headers", "scripts", "data"})


class _Destination:
    """Writes into ``<root>/<scheme>/<path>`` and checks each file against the wheel's
    RECORD as it is written, so a wheel is decompressed exactly once."""

    def __init__(self, root: Path, record: dict[str, tuple[str, str]], label: str) -> None:
        self._root = root
        self._record = record
        self._label = label
        self.seen: set[str] = set()
        self._made_dirs: set[str] = set()
        self._bases: dict[str, str] = {}
        self.files: list[UnpackedFile] = []

    def write_file(self, scheme: str, rel: str, member: str, chunks: Iterable[bytes],
                   is_executable: bool) -> None:
        """Write the wheel's ``member`` as ``rel`` in ``scheme``."""
        # strings, not pathlib: this runs for every file of every wheel unpacked
        rel = rel.replace("\\", "/")
        base = self._bases.get(scheme)
        if base is None:
            base = self._bases[scheme] = os.path.normpath(os.path.join(self._root, scheme))
        full = member_path(base, rel)
        if full is None:
            raise InvalidWheel(f"invalid wheel {self._label}: it writes outside its "
                               f"scheme: {member}")
        expected = self._record.get(member)
        if expected is None and member.rsplit("/", 1)[-1] not in _UNRECORDED:
            raise InvalidWheel(f"invalid wheel {self._label}: {member} is not in its RECORD")
        algo = "sha256"
        if expected is not None and expected[0]:
            algo = expected[0].split("=", 1)[0]
            if algo not in hashlib.algorithms_guaranteed or algo in ("md5", "sha1"):
                raise InvalidWheel(f"invalid wheel {self._label}: RECORD uses the weak or "
                                   f"unknown hash '{algo}' for {member}")
        parent = full.rpartition("/")[0] if PLAIN_SEP else os.path.dirname(full)
        if parent not in self._made_dirs:  # one mkdir per directory, not per file
            self._make_dir(parent)
        digest = hashlib.sha256()
        check = digest if algo == "sha256" else hashlib.new(algo)
        fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                     0o777 if is_executable else 0o666)
        try:
            size = 0
            for chunk in chunks:
                _write_all(fd, chunk)
                digest.update(chunk)
                if check is not digest:
                    check.update(chunk)
                size += len(chunk)
        finally:
            os.close(fd)
        ours = record_hash(digest.digest())  # the target's RECORD row: always sha256
        if expected is not None:
            self.seen.add(member)
            want_hash, want_size = expected
            if want_hash:
                have = ours if check is digest else record_hash(check.digest(), algo)
                if have != want_hash or (want_size and int(want_size) != size):
                    raise InvalidWheel(f"invalid wheel {self._label}: {member} does not match "
                                       "its RECORD entry")
        self.files.append(UnpackedFile(scheme, rel, ours, size, is_executable))

    def _make_dir(self, path: str) -> None:
        """``os.makedirs`` for a tree that this unpacking alone writes: its parents
        made first when missing (and remembered), without ``makedirs``' look before
        each step."""
        try:
            os.mkdir(path)
        except FileNotFoundError:
            parent = os.path.dirname(path)
            if parent == path or parent in self._made_dirs:
                raise
            self._make_dir(parent)
            os.mkdir(path)
        except FileExistsError:
            if not os.path.isdir(path):
                raise
        self._made_dirs.add(path)

    def check_complete(self) -> None:
        """Every file RECORD lists with a hash was in the wheel."""
        missing = [p for p, (h, _) in self._record.items() if h and p not in self.seen]
        if missing:
            raise InvalidWheel(f"invalid wheel {self._label}: RECORD lists files the wheel "
                               f"does not contain: {', '.join(sorted(missing)[:3])}")


def member_path(base: str, rel: str) -> str | None:
    """Where the "/"-separated member path ``rel`` goes below the normalised directory
    ``base``, or ``None`` when it would leave it (an absolute path, a drive, a ".."
    component). This runs for every file of every wheel unpacked: a plain path (see
    `plain_paths`) is joined as it is, anything else goes through ``normpath``."""
    if _DRIVE.match(rel) or rel.startswith("/"):
        return None
    if plain_paths((rel,)):
        return base + "/" + rel
    if ".." in rel.split("/"):
        return None
    full = os.path.normpath(os.path.join(base, rel))
    return full if full.startswith(base + os.sep) else None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


#: members up to this size (uncompressed) are inflated in one call; bigger ones in
#: steps of `_STEP` compressed bytes and at most this much out at a time (that bounds
#: the memory a thread holds)
_AT_ONCE = 1 << 20
_STEP = 1 << 18
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")


class _Wheel:
    """A wheel's members, each read with one ``pread`` and inflated with one call
    instead of through `zipfile`'s buffered stream: the same bytes in a fraction of the
    time (unpacking is most of a cold install), and both calls release the GIL, so
    wheels unpack on all cores at once. zipfile's checks are kept: the local header
    must name the member the central directory names, and sizes must match; the CRC is
    checked when RECORD has no hash for the member (when it has one, the destination
    checks that, which is stronger)."""

    def __init__(self, zf: zipfile.ZipFile, fd: int) -> None:
        self._zf = zf
        self._fd = fd
        self.dist_info = ""  # set once `_identify` has found it
        self._record: dict[str, tuple[str, str]] | None = None

    def read(self, name: str) -> bytes:
        """The member ``name``'s bytes (``KeyError`` when there is none), its size and
        CRC checked."""
        item = self._zf.getinfo(name)
        if item.flag_bits & 1:
            raise zipfile.BadZipFile(f"the member {item.filename} is encrypted")
        if item.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            with self._open_other(item) as stream:
                return stream.read()
        return b"".join(self._stream(item, True)) if item.file_size > _AT_ONCE \
            else self._read(item, True)

    def read_dist_info(self, filename: str) -> str:
        return self.read(f"{self.dist_info}/{filename}").decode("utf-8")

    def record(self) -> dict[str, tuple[str, str]]:
        """RECORD as path -> (hash, size), read and parsed once; without the bytecode
        files `contents` leaves out."""
        if self._record is None:
            record: dict[str, tuple[str, str]] = {}
            rows = csv.reader(self.read_dist_info("RECORD").splitlines())
            for number, row in enumerate(rows, start=1):
                if len(row) != 3:
                    raise ValueError(f"RECORD's row {number}: expected 3 elements, got "
                                     f"{len(row)}")
                if not _in_pycache(row[0]):
                    record[row[0]] = (row[1], row[2])
            self._record = record
        return self._record

    def contents(self) -> Iterator[tuple[str, Iterable[bytes], bool]]:
        """Each member (not directories, not bytecode) as its name, its bytes (one chunk,
        unless the member is big), and whether it is executable. The CRC is checked
        where RECORD has no hash for the member."""
        record = self.record()
        for item in self._zf.infolist():
            if item.filename[-1:] == "/" or _in_pycache(item.filename):
                continue
            hashed = bool(record.get(item.filename, ("", ""))[0])
            mode = item.external_attr >> 16
            executable = bool(mode and stat.S_ISREG(mode) and mode & 0o111)
            if item.flag_bits & 1:
                raise zipfile.BadZipFile(f"the member {item.filename} is encrypted")
            if item.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                with self._open_other(item) as stream:  # bzip2, lzma: allowed, never seen
                    yield item.filename, iter(lambda: stream.read(_STEP), b""), executable
            elif item.file_size <= _AT_ONCE:
                yield item.filename, (self._read(item, not hashed),), executable
            else:
                yield item.filename, self._stream(item, not hashed), executable

    def _open_other(self, item: zipfile.ZipInfo) -> IO[bytes]:
        """A member compressed neither way wheels are (bzip2, lzma, or a method zipfile
        has no code for: refused), through zipfile."""
        try:
            return self._zf.open(item)
        except (NotImplementedError, RuntimeError) as exc:  # RuntimeError: no bz2/lzma
            raise zipfile.BadZipFile(f"the member {item.filename} is compressed in a way "
                                     "that cannot be read") from exc

    def _local(self, item: zipfile.ZipInfo, also: int) -> tuple[bytes, int]:
        """The member's local header and ``also`` bytes after it (one read, when its
        extra field is short, as it nearly always is) and where its data starts."""
        name = item.orig_filename
        # (ASCII, nearly every name, is the same bytes in both encodings, and encoding
        # it is C; cp437's codec is Python)
        name_bytes = name.encode("ascii") if name.isascii() else \
            name.encode("utf-8" if item.flag_bits & 0x800 else "cp437")
        fixed = _LOCAL_HEADER.size
        raw = os.pread(self._fd, fixed + len(name_bytes) + 64 + also, item.header_offset)
        if len(raw) < fixed + len(name_bytes):
            raise zipfile.BadZipFile(f"truncated member {item.filename}")
        head = _LOCAL_HEADER.unpack_from(raw)
        if head[0] != b"PK\x03\x04" or raw[fixed:fixed + head[10]] != name_bytes:
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
        """A big member, a piece at a time (`_inflated`), its size and CRC checked."""
        size = crc = 0
        for data in self._inflated(item):
            size += len(data)
            crc = zlib.crc32(data, crc) if check_crc else 0
            yield data
        _check_member(item, size, crc if check_crc else None)

    def _inflated(self, item: zipfile.ZipInfo) -> Iterator[bytes]:
        """The member's bytes: `_STEP` compressed bytes read at a time, and at most
        `_AT_ONCE` out of each call however well they compressed (one 256 KB step of
        mypy's wheel once made a 5 MB buffer)."""
        _, start = self._local(item, 0)
        at = item.header_offset + start
        end = at + item.compress_size
        inflater = _zlib.decompressobj(-15) \
            if item.compress_type == zipfile.ZIP_DEFLATED else None
        while at < end:
            block = os.pread(self._fd, min(_STEP, end - at), at)
            if not block:
                raise zipfile.BadZipFile(f"truncated member {item.filename}")
            at += len(block)
            if inflater is None:
                yield block
                continue
            while block:
                try:
                    data = inflater.decompress(block, _AT_ONCE)
                except _INFLATE_ERRORS as exc:
                    raise zipfile.BadZipFile(f"cannot inflate {item.filename}: {exc}") \
                        from None
                block = inflater.unconsumed_tail
                yield data
        if inflater is not None:
            rest = inflater.flush()  # what the last call held back, if anything
            if rest:
                yield rest
            if not inflater.eof:
                raise zipfile.BadZipFile(f"truncated member {item.filename}")


def _in_pycache(path: str) -> bool:
    """A wheel's bytecode in a ``__pycache__`` directory is not installed: it would be
    stale or foreign to the target's interpreter, and the target compiles its own.
    Left out quietly (installer skips it too, but warns through the process's
    ``warnings``), and RECORD's entry for it is not asked for."""
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


def _identify(pin: Pin, wf: _Wheel, label: str, path: Path,
              names: list[str]) -> tuple[str, str]:
    """The wheel's .dist-info directory (there must be one, for ``pin``, whose METADATA
    names ``pin``) and the name of its .data directory."""
    tops = {n.split("/", 1)[0] for n in names if "/" in n}
    infos = sorted(t for t in tops if t.endswith(".dist-info"))
    want = f"{pin.name}-{pin.version}.dist-info"
    stem = _normal_dist_info(want)
    if len(infos) != 1 or _normal_dist_info(infos[0]) != stem:
        raise InvalidWheel(f"invalid wheel {label}: expected one {want} directory, found "
                           f"{', '.join(infos) or 'none'}", package=pin.name, path=str(path))
    dist_info = infos[0]
    ok, name, version = names_itself(wf.read(f"{dist_info}/METADATA"), pin.name,
                                     pin.version)
    if not ok:
        raise InvalidWheel(f"invalid wheel {label}: its metadata says {name} {version}",
                           package=pin.name, path=str(path))
    # PEP 427 names it as the .dist-info directory is named; any spelling of the same
    # project and version is taken (another top-level name is a directory like any)
    data = [t for t in tops if t.endswith(".data")
            and _normal_dist_info(t[:-len(".data")] + ".dist-info") == stem]
    return dist_info, (data[0] if len(data) == 1 else dist_info[:-len(".dist-info")] + ".data")


def _root_scheme(wf: _Wheel, label: str) -> str:
    """Where the archive's root goes (purelib or platlib), as WHEEL says."""
    fields = header_fields(wf.read(f"{wf.dist_info}/WHEEL"),
                           ("wheel-version", "root-is-purelib"))
    if not fields.get("wheel-version", "").startswith("1."):
        raise InvalidWheel(f"invalid wheel {label}: unsupported Wheel-Version")
    return "purelib" if fields.get("root-is-purelib", "").lower() == "true" else "platlib"


_ENTRY_VALUE = re.compile(
    r"\s*(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?(\[[\w\s,.-]*\])?\s*")


def _entry_points(wf: _Wheel, label: str) -> list[tuple[str, str, str, str]]:
    """The wheel's console and GUI commands as (name, module, attribute, "console" or
    "gui"), each checked: a plain command name that is not the interpreter's, and a
    dotted module and attribute."""
    import configparser

    try:
        text = wf.read_dist_info("entry_points.txt")
    except KeyError:
        return []
    parser = configparser.ConfigParser(delimiters="=", interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        raise InvalidWheel(f"invalid wheel {label}: unreadable entry_points.txt "
                           f"({str(exc).splitlines()[0]})") from None
    found = []
    for section in parser.sections():
        if section not in ("console_scripts", "gui_scripts"):
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
            found.append((name, m.group("module"), m.group("attr"),
                          section[:-len("_scripts")]))
    return found


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
    with cache_writes(cache_root, f"unpacking '{pin.name}' {pin.version}", pin.name):
        entry.parent.mkdir(parents=True, exist_ok=True)
        return _unpack_once(pin, wheel, key, entry)


def _unpack_once(pin: Pin, wheel: Path, key: str, entry: Path) -> UnpackedWheel:
    """Unpack into a fresh directory beside ``entry`` and publish it there, unless
    another thread or process got there first."""
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
            dist_info, data_dir = _identify(pin, wf, label, wheel, names)
            wf.dist_info = dist_info
            root_scheme = _root_scheme(wf, label)
            scripts = tuple(_entry_points(wf, label))
            dest = _Destination(root, wf.record(), label)
            data_prefix = data_dir + "/"
            record_path = f"{dist_info}/RECORD"
            for member, chunks, executable in wf.contents():
                if member == record_path:
                    continue  # each install writes its own
                if member.startswith(data_prefix):
                    scheme, _, rel = member[len(data_prefix):].partition("/")
                    if scheme not in _SCHEMES or not rel:
                        raise InvalidWheel(f"invalid wheel {label}: {member} is not in a "
                                           "valid .data subdirectory")
                else:
                    scheme, rel = root_scheme, member
                dest.write_file(scheme, rel, member, chunks, executable)
            dest.check_complete()
    except InvalidWheel as exc:  # each names the wheel; all carry which, as fields too
        exc.package = exc.package or pin.name
        exc.path = exc.path or str(wheel)
        raise
    except zipfile.BadZipFile as exc:
        raise InvalidWheel(f"invalid wheel {label}: not a valid zip file ({exc})",
                           package=pin.name, path=str(wheel)) from exc
    except (ValueError, KeyError, OSError, csv.Error) as exc:
        if isinstance(exc, OSError) and refused_by_storage(exc):
            raise  # the cache's disk, not the wheel (a full disk, say): `unpack` says so
        detail = str(exc).strip() or type(exc).__name__
        raise InvalidWheel(f"invalid wheel {label}: {detail}", package=pin.name,
                           path=str(wheel)) from exc
    return UnpackedWheel.from_files(root, dist_info, root_scheme, dest.files, scripts)
