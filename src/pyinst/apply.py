"""Apply an `InstallPlan` to a target: verify every wheel, then unpack, with rollback.

Wheels are unpacked by `installer` into a destination of ours that writes through a
`Transaction` (so a failure restores the target exactly) and that never touches the
process umask: file modes are given to ``os.open`` and the kernel applies the umask.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import installer
from installer.destinations import WheelDestination
from installer.exceptions import InstallerError
from installer.records import Hash, RecordEntry
from installer.scripts import Script
from installer.sources import WheelFile
from packaging.direct_url import ArchiveInfo, DirectUrl
from packaging.metadata import parse_email
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from .errors import InstallError, InvalidWheel, PyinstError
from .events import EventSink, InstallProgress, ignore
from .installed import remove_distribution
from .models import InstallPlan, Pin
from .target import Target
from .transaction import Transaction

INSTALLER_NAME = b"pyinst\n"


@dataclass(frozen=True)
class PreparedWheel:
    """A pin with its local, verified wheel file."""

    pin: Pin
    path: Path


def verify_wheel(prepared: PreparedWheel) -> None:
    """Check a wheel completely before anything is written: a readable zip, a RECORD
    that matches every file, and metadata naming the pinned project and version."""
    pin, path = prepared.pin, prepared.path
    label = f"'{pin.name}' {pin.version} ({path.name})"
    try:
        with WheelFile.open(path) as wf:
            dist_info = wf.dist_info_dir
            wf.validate_record()
            raw, _ = parse_email(wf.read_dist_info("METADATA"))
            wheel_text = wf.read_dist_info("WHEEL")
    except zipfile.BadZipFile as exc:
        raise InvalidWheel(f"invalid wheel {label}: not a zip file ({exc})", package=pin.name,
                           path=str(path)) from exc
    except (InstallerError, ValueError, KeyError, OSError) as exc:
        detail = str(exc).strip() or type(exc).__name__
        raise InvalidWheel(f"invalid wheel {label}: {detail}", package=pin.name,
                           path=str(path)) from exc
    name, version = raw.get("name"), raw.get("version")
    try:
        ok = (name is not None and version is not None
              and canonicalize_name(name) == pin.name and Version(version) == pin.version)
    except InvalidVersion:
        ok = False
    if not ok:
        raise InvalidWheel(
            f"invalid wheel {label}: its metadata says {name} {version}", package=pin.name,
            path=str(path))
    if "Wheel-Version: 1." not in wheel_text:
        raise InvalidWheel(f"invalid wheel {label}: unsupported Wheel-Version "
                           f"in {dist_info}/WHEEL", package=pin.name, path=str(path))


class TransactionalDestination(WheelDestination):
    """Writes a wheel's files into a target's scheme through a `Transaction`."""

    def __init__(self, scheme: Mapping[str, str], interpreter: str, launcher_kind: str,
                 tx: Transaction) -> None:
        self._scheme = {k: Path(v) for k, v in scheme.items()}
        self._interpreter = interpreter
        self._launcher_kind = launcher_kind
        self._tx = tx

    def _target_path(self, scheme: str, path: str) -> Path:
        root = self._scheme[scheme]
        full = Path(os.path.normpath(root / path))
        if full != root and root not in full.parents:
            raise InvalidWheel(f"the wheel tries to write outside the target: {path}")
        return full

    def write_to_fs(self, scheme: str, path: str, stream: BinaryIO,
                    is_executable: bool) -> RecordEntry:
        target = self._target_path(scheme, path)
        self._tx.prepare_write(target)
        digest = hashlib.sha256()
        size = 0
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                     0o777 if is_executable else 0o666)
        with os.fdopen(fd, "wb") as out:
            while True:
                chunk = stream.read(1 << 16)
                if not chunk:
                    break
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        b64 = _urlsafe_b64(digest.digest())
        return RecordEntry(path, Hash("sha256", b64), size)

    def write_file(self, scheme: str, path: str | os.PathLike[str],
                   stream: BinaryIO, is_executable: bool) -> RecordEntry:
        path = os.fspath(path)
        if scheme == "scripts":
            head = stream.read(8)
            rest = stream.read()
            if head.startswith(b"#!python"):
                line_end = rest.find(b"\n")
                tail = rest[line_end:] if line_end >= 0 else b"\n"
                data = b"#!" + self._interpreter.encode() + tail
                return self.write_to_fs(scheme, path, io.BytesIO(data), True)
            return self.write_to_fs(scheme, path, io.BytesIO(head + rest), is_executable)
        return self.write_to_fs(scheme, path, stream, is_executable)

    def write_script(self, name: str, module: str, attr: str,  # type: ignore[override,unused-ignore]
                     section: str) -> RecordEntry:
        script = Script(name, module, attr, section)  # type: ignore[arg-type]
        script_name, data = script.generate(self._interpreter,
                                            self._launcher_kind)  # type: ignore[arg-type]
        return self.write_to_fs("scripts", script_name, io.BytesIO(data), True)

    def finalize_installation(self, scheme: str, record_file_path: str,  # type: ignore[override,unused-ignore]
                              records: Iterable[tuple[str, RecordEntry]]) -> None:
        root = self._scheme[scheme]
        rows = []
        for entry_scheme, entry in records:
            full = self._scheme[entry_scheme] / entry.path
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            rows.append((rel, str(entry.hash_) if entry.hash_ else "",
                         str(entry.size) if entry.size is not None else ""))
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        self.write_to_fs(scheme, record_file_path, io.BytesIO(buf.getvalue().encode()), False)


def _urlsafe_b64(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _direct_url_json(pin: Pin) -> bytes | None:
    if not pin.direct or pin.link is None:
        return None
    hashes = dict(pin.link.hashes)
    info = DirectUrl(url=pin.link.url, archive_info=ArchiveInfo(hashes=hashes or None))
    return json.dumps(info.to_dict(generate_legacy_hash=bool(hashes)), sort_keys=True).encode()


def _additional_metadata(pin: Pin) -> dict[str, bytes]:
    extra = {"INSTALLER": INSTALLER_NAME}
    if pin.requested:
        extra["REQUESTED"] = b""
    direct = _direct_url_json(pin)
    if direct is not None:
        extra["direct_url.json"] = direct
    return extra


def apply_plan(plan: InstallPlan, wheels: Sequence[PreparedWheel], target: Target,
               emit: EventSink = ignore) -> None:
    """Remove what the plan replaces and install its wheels; all or nothing."""
    for w in wheels:
        verify_wheel(w)
    tx = Transaction(Path(target.scheme["purelib"]))
    try:
        for dist in plan.to_remove:
            remove_distribution(dist, target, tx)
        dest = TransactionalDestination(target.scheme, target.python,
                                        target.interpreter.launcher_kind, tx)
        where = target.describe_location()
        for n, w in enumerate(wheels, start=1):
            emit(InstallProgress(where, w.pin.name, str(w.pin.version), n, len(wheels)))
            try:
                with WheelFile.open(w.path) as source:
                    installer.install(source, dest, _additional_metadata(w.pin))
            except PyinstError:
                raise
            except (InstallerError, OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
                raise InstallError(
                    f"installing '{w.pin.name}' {w.pin.version} failed: {exc}; the target "
                    "was restored", package=w.pin.name) from exc
    except BaseException:
        tx.rollback()
        raise
    tx.commit()
