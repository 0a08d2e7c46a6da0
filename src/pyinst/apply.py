"""Apply an `InstallPlan` to a target, all or nothing.

Every wheel was verified and unpacked once into the cache (`unpack.py`). Installing it
links (or copies) those files into the target's scheme, generates console scripts for
the target interpreter, and writes INSTALLER, REQUESTED, direct_url.json and RECORD.
Everything goes through a `Transaction`, so a failure restores the target exactly.
No file is created through the process umask dance: modes are given to ``os.open``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from .config import LinkMode
from .errors import InstallConflict, InstallError, InvalidWheel, PyinstError
from .events import EventSink, InstallProgress, ignore
from .installed import remove_distribution
from .models import InstallPlan, Pin
from .redact import without_credentials
from .target import Target
from .transaction import Transaction, UnsafeTarget, new_journal_path
from .unpacked import (
    SchemeFiles,
    UnpackedFile,
    UnpackedWheel,
    plain_paths,
    record_hash,
    record_text,
)

INSTALLER_NAME = b"pyinst\n"

#: the body of a POSIX console/GUI script, as pip, uv and installer all write it
_POSIX_SCRIPT = (
    "# -*- coding: utf-8 -*-\n"
    "import re\n"
    "import sys\n"
    "from {module} import {head}\n"
    'if __name__ == "__main__":\n'
    '    sys.argv[0] = re.sub(r"(-script\\.pyw|\\.exe)?$", "", sys.argv[0])\n'
    "    sys.exit({attr}())\n"  # state-ok: text of the script written, not a call
)


def shebang(interpreter: str) -> bytes:
    """The first line(s) of a script run by ``interpreter`` on POSIX. The kernel takes
    a short path without spaces as it is; anything else goes through ``/bin/sh``, which
    runs the file again with the interpreter (to Python, that line is a bare string)."""
    raw = interpreter.encode("utf-8")
    if b" " not in raw and len(raw) + 3 <= 127:  # "#!" + path + newline: Linux's limit
        return b"#!" + raw + b"\n"
    import shlex

    return b"".join([b"#!/bin/sh\n", b"'''exec' ", shlex.quote(interpreter).encode("utf-8"),
                     b' "$0" "$@"\n', b"' '''\n"])


def posix_script(interpreter: str, module: str, attr: str) -> bytes:
    """A console (or GUI) script for the entry point ``module:attr``. Written here, not by
    `installer.scripts`: importing that imports all of installer (tens of milliseconds of
    every warm install). Windows launchers still come from installer."""
    return shebang(interpreter) + _POSIX_SCRIPT.format(
        module=module, head=attr.split(".")[0], attr=attr).encode("utf-8")


@dataclass(frozen=True)
class PreparedWheel:
    """A pin with its verified wheel, unpacked in the cache."""

    pin: Pin
    path: Path
    unpacked: UnpackedWheel
    #: unpacked into the call's scratch (a wheel built from a local tree), which goes
    #: away when the call ends: hard links and copies survive that, symlinks would not
    ephemeral: bool = False


def _direct_url_json(pin: Pin) -> bytes | None:
    """PEP 610's record of where a directly requested distribution came from."""
    if not pin.direct or pin.link is None:
        return None
    # imported by apply_plan, before any write, when some pin is direct
    from packaging.direct_url import ArchiveInfo, DirectUrl, DirInfo, VcsInfo

    from .vcs import is_vcs_url, parse_vcs_url

    link = pin.link
    if is_vcs_url(link.url):
        vcs = parse_vcs_url(link.url)
        info = DirectUrl(url=without_credentials(vcs.repo), subdirectory=vcs.subdirectory,
                         vcs_info=VcsInfo(vcs="git", commit_id=pin.vcs_commit or "",
                                          requested_revision=vcs.rev))
        return json.dumps(info.to_dict(), sort_keys=True).encode()
    if link.is_local_dir:
        info = DirectUrl(url=link.url, dir_info=DirInfo(editable=pin.editable or None))
        return json.dumps(info.to_dict(), sort_keys=True).encode()
    hashes = dict(link.hashes)
    info = DirectUrl(url=without_credentials(link.url),
                     archive_info=ArchiveInfo(hashes=hashes or None))
    return json.dumps(info.to_dict(generate_legacy_hash=bool(hashes)), sort_keys=True).encode()


def _additional_metadata(pin: Pin) -> dict[str, bytes]:
    extra = {"INSTALLER": INSTALLER_NAME}
    if pin.requested:
        extra["REQUESTED"] = b""
    direct = _direct_url_json(pin)
    if direct is not None:
        extra["direct_url.json"] = direct
    return extra


class _Writer:
    """Puts one unpacked wheel into a target's scheme through a transaction.

    The hot path works on plain strings: it runs once per installed file.
    """

    def __init__(self, target: Target, tx: Transaction, mode: LinkMode,
                 on_existing: Callable[[str], None] | None = None) -> None:
        self._on_existing = on_existing
        self._scheme = {k: os.path.normpath(v) for k, v in target.scheme.items()}
        self._interpreter = target.python
        self._launcher = target.interpreter.launcher_kind
        self._tx = tx
        self._mode = mode
        #: (scheme, path, hash, size, ...) of what is written here rather than linked
        #: from the cache (scripts, INSTALLER...), for RECORD; an `UnpackedFile` is one
        self.records: list[tuple[str, str, str, int | None] | UnpackedFile] = []
        #: the groups of files linked from the cache, whose RECORD rows come ready-made
        self.record_blocks: list[SchemeFiles] = []
        #: where RECORD goes, when `write_generated` prepared it already
        self._prepared_record: str | None = None

    def _dest(self, scheme: str, path: str) -> str:
        root = self._scheme[scheme]
        if plain_paths((path,)):
            return root + "/" + path  # nothing for normpath to do
        full = os.path.normpath(root + os.sep + path)
        if not full.startswith(root + os.sep):
            raise InvalidWheel(f"the wheel tries to write outside the target: {path}")
        return full

    def write_bytes(self, scheme: str, path: str, data: bytes, executable: bool) -> None:
        dest = self._dest(scheme, path)
        self._tx.prepare_write(dest, self._on_existing)
        self._write_new(scheme, path, dest, data, executable)

    def write_generated(self, files: Sequence[tuple[str, str, bytes, bool]],
                        record_path: tuple[str, str] | None = None) -> None:
        """Write the files made here (scripts, INSTALLER, REQUESTED...): their places
        prepared at once, with ``record_path``'s (written last, by `record`). Of two with
        the same path, the later is kept (as written one after the other)."""
        by_dest = {self._dest(scheme, path): (scheme, path, data, executable)
                   for scheme, path, data, executable in files}
        dests = list(by_dest)
        if record_path is not None:
            self._prepared_record = self._dest(*record_path)
            dests.append(self._prepared_record)
        self._tx.prepare_writes(dests, self._on_existing)
        for dest, (scheme, path, data, executable) in by_dest.items():
            self._write_new(scheme, path, dest, data, executable)

    def _write_new(self, scheme: str, path: str, dest: str, data: bytes,
                   executable: bool) -> None:
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                     0o777 if executable else 0o666)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        self.records.append((scheme, path, record_hash(hashlib.sha256(data).digest()),
                             len(data)))

    def place(self, src_root: str, f: UnpackedFile) -> None:
        src = os.path.join(src_root, f.scheme, f.path)
        if f.scheme == "scripts":
            with open(src, "rb") as fh:
                head = fh.read(8)
                if head.startswith(b"#!python"):
                    rest = fh.read()
                    line_end = rest.find(b"\n")
                    data = shebang(self._interpreter) + (
                        rest[line_end + 1:] if line_end >= 0 else b"")
                    self.write_bytes(f.scheme, f.path, data, True)
                    return
        dest = self._dest(f.scheme, f.path)
        self._tx.prepare_write(dest, self._on_existing)
        if not self._link(src, dest):
            self._copy(src, dest, f.executable)
        self.records.append(f)

    def place_group(self, src_root: str, group: SchemeFiles) -> None:
        """Link (or copy) one scheme's files: destinations checked first, then one journal
        entry for all of them, then a tight loop of links; their RECORD rows come
        ready-made. This runs once per installed file, so it does as little Python as it
        can between system calls."""
        scheme, paths = group.scheme, group.paths
        root = self._scheme[scheme]
        if plain_paths(paths):  # checked at once: nothing for normpath to do
            prefix = root + "/"
            dests = [prefix + p for p in paths]
        else:
            dests = [self._dest(scheme, p) for p in paths]
        self._tx.prepare_writes(dests, self._on_existing)
        base = src_root + os.sep + scheme + os.sep
        srcs = [base + p for p in paths]
        if self._mode is LinkMode.HARDLINK:
            link = os.link
            executable: set[str] | None = None
            for src, dest in zip(srcs, dests):
                try:
                    link(src, dest)
                except OSError:  # another filesystem, a link limit: copy instead
                    if executable is None:
                        executable = {srcs[i] for i in group.executable}
                    self._copy(src, dest, src in executable)
        else:
            for i, (src, dest) in enumerate(zip(srcs, dests)):
                if not self._link(src, dest):
                    self._copy(src, dest, i in group.executable)
        self.record_blocks.append(group)

    def _link(self, src: str, dest: str) -> bool:
        try:
            if self._mode is LinkMode.HARDLINK:
                os.link(src, dest)
                return True
            if self._mode is LinkMode.SYMLINK:
                os.symlink(src, dest)
                return True
        except OSError:
            return False  # another filesystem, a link limit, no permission: copy instead
        return False

    @staticmethod
    def _copy(src: str, dest: str, executable: bool) -> None:
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                     0o777 if executable else 0o666)
        with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
            shutil.copyfileobj(inp, out, 1 << 20)

    def script(self, name: str, module: str, attr: str, section: str) -> tuple[str, bytes]:
        """The file name and content of the script for an entry point."""
        if self._launcher == "posix":
            return name, posix_script(self._interpreter, module, attr)
        from installer.scripts import Script  # imported by apply_plan, before any write

        script = Script(name, module, attr, section)  # type: ignore[arg-type]
        return script.generate(self._interpreter, self._launcher)  # type: ignore[arg-type]

    def record(self, root_scheme: str, record_path: str) -> None:
        root = self._scheme[root_scheme]

        def prefix(scheme: str) -> str:
            """What makes a path in ``scheme`` relative to the root scheme's directory."""
            if scheme == root_scheme or self._scheme[scheme] == root:
                return ""
            return os.path.relpath(self._scheme[scheme], root).replace(os.sep, "/") + "/"

        parts = []
        for group in self.record_blocks:
            head = prefix(group.scheme)
            if not head:
                parts.append(group.record)  # relative to the root already: as they are
            else:
                parts.append(record_text([(head + f.path, f.hash, str(f.size))
                                          for f in group.rows()]))
        # a path written twice (an entry point's script, then the wheel's own of that
        # name) is listed once, as it ended up
        latest = {(r[0], r[1]): r for r in self.records}
        rows = [(prefix(scheme) + path, h, "" if size is None else str(size))
                for scheme, path, h, size, *_ in latest.values()]
        rows.append((record_path, "", ""))
        parts.append(record_text(rows))
        dest = self._dest(root_scheme, record_path)
        if dest != self._prepared_record:
            self._tx.prepare_write(dest, self._on_existing)
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as out:
            out.write("".join(parts).encode())


def python_files(w: PreparedWheel, target: Target) -> list[Path]:
    """The installed paths of a wheel's importable .py files (for bytecode)."""
    return [Path(target.scheme[g.scheme]) / p for g in w.unpacked.groups
            if g.scheme in ("purelib", "platlib") for p in g.paths if p.endswith(".py")]


def install_unpacked(w: PreparedWheel, target: Target, tx: Transaction, mode: LinkMode,
                     owners: _Owners | None = None) -> None:
    """Put one wheel in place. With ``owners``, a file already there that another
    distribution owns is a conflict (not silently replaced)."""
    u = w.unpacked
    if w.ephemeral and mode is LinkMode.SYMLINK:
        mode = LinkMode.COPY
    on_existing = None if owners is None else (lambda path: owners.refuse(w.pin, path))
    writer = _Writer(target, tx, mode, on_existing)
    if u.scripts:  # before the wheel's own files (of the same name, those win)
        writer.write_generated([("scripts", *writer.script(*s), True) for s in u.scripts])
    src_root = os.fspath(u.root)
    for group in u.groups:
        if group.scheme != "scripts":
            writer.place_group(src_root, group)
        else:  # shebangs may need rewriting: one at a time
            for f in group.rows():
                writer.place(src_root, f)
    record_path = f"{u.dist_info}/RECORD"
    writer.write_generated([(u.root_scheme, f"{u.dist_info}/{filename}", data, False)
                            for filename, data in _additional_metadata(w.pin).items()],
                           (u.root_scheme, record_path))
    writer.record(u.root_scheme, record_path)


def _overlapping(wheels: Sequence[PreparedWheel], target: Target) -> bool:
    """Whether two of the wheels write the same path (old-style namespace packages do;
    the later one wins, so such a plan is applied in order, on one thread). Compared by
    top-level names first (kept in the manifests); file by file only under a name that
    several wheels share."""
    roots = {k: os.path.normpath(v) for k, v in target.scheme.items()}
    sharing: dict[tuple[str, str], list[UnpackedWheel]] = {}
    for w in wheels:
        u = w.unpacked
        mine = {(roots[scheme], top) for scheme, top in u.tops}
        mine.update((roots["scripts"], s[0]) for s in u.scripts)
        for key in mine:
            sharing.setdefault(key, []).append(u)
    for (root, top), group in sharing.items():
        if len(group) < 2:
            continue
        seen: set[str] = set()
        for u in group:
            paths = {p for g in u.groups if roots[g.scheme] == root
                     for p in g.paths if p.partition("/")[0] == top}
            if root == roots["scripts"]:
                paths.update(s[0] for s in u.scripts if s[0] == top)
            if not seen.isdisjoint(paths):
                return True
            seen |= paths
    return False


class _Owners:
    """Who owns the files already in a target (read from RECORDs on the first conflict)."""

    def __init__(self, target: Target) -> None:
        self._target = target
        self._lock = threading.Lock()
        self._by_path: dict[str, str] | None = None

    def refuse(self, pin: Pin, path: str) -> None:
        from .installed import installed_distributions, record_paths

        with self._lock:
            if self._by_path is None:
                self._by_path = {}
                for dist in installed_distributions(self._target).values():
                    try:
                        paths = record_paths(dist)
                    except PyinstError:
                        continue  # one being written right now, or a broken one
                    for p in paths:
                        self._by_path[os.path.normpath(p)] = f"'{dist.name}' {dist.version}"
            owner = self._by_path.get(path)
        whose = f"belongs to {owner}" if owner else "is not from any installed distribution"
        raise InstallConflict(f"installing '{pin.name}' {pin.version} would overwrite {path}, "
                              f"which {whose}; --force-reinstall replaces it",
                              package=pin.name)


def _install_one(w: PreparedWheel, target: Target, tx: Transaction, mode: LinkMode,
                 owners: _Owners | None = None) -> None:
    try:
        install_unpacked(w, target, tx, mode, owners)
    except PyinstError:
        raise
    except UnsafeTarget as exc:
        raise InstallError(f"installing '{w.pin.name}' {w.pin.version} stopped: {exc}; "
                           "the target was restored", package=w.pin.name) from exc
    except (OSError, ValueError) as exc:
        raise InstallError(
            f"installing '{w.pin.name}' {w.pin.version} failed: {exc}; the target was "
            "restored", package=w.pin.name) from exc


def apply_plan(plan: InstallPlan, wheels: Sequence[PreparedWheel], target: Target,
               emit: EventSink = ignore, mode: LinkMode = LinkMode.HARDLINK,
               workers: int = 1, overwrite: bool = False) -> None:
    """Remove what the plan replaces and install its (already verified) wheels; all or
    nothing. With ``workers`` > 1 the wheels are installed side by side, each thread with
    its own journal. Most of an install is system time (mkdir, link); more threads than
    cores only trade it for GIL hand-offs, so callers pass about the core count.
    A file already in the target that another distribution owns stops the install
    unless ``overwrite`` (``--force-reinstall``)."""
    owners = None if overwrite else _Owners(target)
    # Everything the writing needs is imported now: the files about to be written may
    # be modules this process would otherwise import later (a target on sys.path).
    if target.interpreter.launcher_kind != "posix" and any(w.unpacked.scripts
                                                           for w in wheels):
        import installer.scripts  # noqa: F401
    if any(w.pin.direct for w in wheels):  # for direct_url.json
        import packaging.direct_url  # noqa: F401

        from . import vcs  # noqa: F401
    site = os.path.normpath(target.scheme["purelib"])
    tx = Transaction(site, roots=tuple(dict.fromkeys(target.scheme.values())),
                     journal=new_journal_path(site))
    tx.know_existing(target.scheme.values())
    where = target.describe_location()
    try:
        for dist in plan.to_remove:
            remove_distribution(dist, target, tx)
        progress = [InstallProgress(where, w.pin.name, str(w.pin.version), n, len(wheels))
                    for n, w in enumerate(wheels, start=1)]
        if workers < 2 or len(wheels) < 2 or _overlapping(wheels, target):
            for w, event in zip(wheels, progress):
                emit(event)
                _install_one(w, target, tx, mode, owners)
        else:
            def one(w: PreparedWheel, event: InstallProgress) -> None:
                emit(event)
                # each thread its own, uncontended journal
                _install_one(w, target, tx.child(), mode, owners)

            with ThreadPoolExecutor(max_workers=workers,
                                    thread_name_prefix="pyinst-apply") as pool:
                futures = [pool.submit(one, w, e) for w, e in zip(wheels, progress)]
                try:
                    wait(futures)
                finally:  # interrupted too: nothing may still be writing during a rollback
                    for fut in futures:
                        fut.cancel()
                    wait(futures)
            for fut in futures:
                fut.result()
    except BaseException:
        tx.rollback()
        raise
    tx.commit()
