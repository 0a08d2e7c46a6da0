"""A journal of filesystem changes to a target, so a failed install can be undone.

Files to be removed or overwritten are first moved into a backup directory on the
same filesystem (a rename, so nothing is copied); files and directories created are
remembered. ``rollback()`` puts everything back; ``commit()`` drops the backups.

Paths are kept as strings: an install touches tens of thousands of files, and pathlib
objects cost more than the system calls they wrap.

With a ``journal`` path, every change is also written down (one line per batch, before
the change is made), so that a process killed in the middle leaves enough behind for
`recover()` to undo it on the next run: new files deleted, moved files put back, new
directories removed, the backup dropped. Files put into a directory the install made
are not written down one by one: that directory is (before anything goes into it), and
undoing removes it with everything in it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import tempfile
import threading
from collections.abc import Callable, Iterable


class UnsafeTarget(OSError):
    """The target holds a link that would lead writes outside it."""


class Transaction:
    """Safe to use from several threads at once; for many threads writing side by side,
    give each its own `child()`: the hot path then takes no contended lock, and the
    parent still undoes (or keeps) everything the children did."""

    def __init__(self, backup_parent: str | os.PathLike[str], *,
                 roots: tuple[str, ...] = (), journal: str | None = None,
                 _parent: Transaction | None = None, _tag: str = "") -> None:
        self._lock = threading.RLock()
        self._journal = journal
        self._journal_fd: int | None = None
        #: directories (the target's scheme) that nothing may be written outside of: a
        #: symbolic link below one of them that points elsewhere is refused, not followed
        self._roots = tuple(os.path.normpath(r) for r in roots)
        self._root_prefixes = tuple(r + os.sep for r in self._roots)
        self._backup_parent = os.fspath(backup_parent)
        self._backup: str | None = None
        self._parent = _parent
        self._tag = _tag
        self._children: list[Transaction] = []
        self._count = 0
        self.created_files: list[str] = []
        self.created_dirs: list[str] = []
        self.moved: list[tuple[str, str]] = []
        self.removed_dirs: list[str] = []
        self._known_dirs: set[str] = set()
        self._new_dirs: set[str] = set()
        self._written: set[str] = set()
        #: directories made here that the on-disk journal already names as made
        self._made_logged: set[str] = set()
        self._done = False

    def child(self) -> Transaction:
        """A journal for one worker thread, rolled back and committed with this one."""
        with self._lock:
            c = Transaction(self._backup_parent, roots=self._roots, _parent=self,
                            _tag=f"{self._tag}{len(self._children)}.")
            c._known_dirs = set(self._known_dirs)
            self._children.append(c)
            return c

    def know_existing(self, paths: Iterable[str]) -> None:
        """Take the directories of ``paths`` that are there already (a target's scheme)
        as known, checked once here, so that no writer (nor any `child()` made after
        this) asks the filesystem to make them again."""
        for path in paths:
            path = os.path.normpath(path)
            if os.path.isdir(path):
                self._check_existing(path)
                with self._lock:
                    self._known_dirs.add(path)

    def _log(self, **record: object) -> None:
        """Write one record to the on-disk journal (of the root transaction)."""
        if self._parent is not None:
            self._parent._log(**record)
            return
        if self._journal is None:
            return
        line = (json.dumps(record) + "\n").encode()
        with self._lock:
            if self._journal_fd is None:
                os.makedirs(os.path.dirname(self._journal), exist_ok=True)
                self._journal_fd = os.open(self._journal,
                                           os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                os.write(self._journal_fd, (json.dumps(
                    {"journal": 1, "roots": list(self._roots)}) + "\n").encode())
            os.write(self._journal_fd, line)

    def _close_journal(self, *, best_effort: bool = False) -> None:
        """Close and remove the on-disk journal, if one was written: a journal that
        could not even be made (a read-only target) has nothing to remove, and asking
        to remove it would fail there too."""
        with self._lock:
            fd, self._journal_fd = self._journal_fd, None
        if fd is None:
            return
        os.close(fd)
        if self._journal is not None and self._parent is None:
            try:
                os.unlink(self._journal)
            except FileNotFoundError:
                pass
            except OSError:
                if not best_effort:
                    raise

    def _backup_dir(self) -> str:
        if self._parent is not None:
            return self._parent._backup_dir()
        with self._lock:
            if self._backup is None:
                os.makedirs(self._backup_parent, exist_ok=True)
                self._backup = tempfile.mkdtemp(prefix=".pyinst-backup-",
                                                dir=self._backup_parent)
                self._log(backup=self._backup)
            return self._backup

    def remove_file(self, path: str | os.PathLike[str]) -> None:
        """Move ``path`` into the backup, to be restored on rollback."""
        path = os.fspath(path)
        with self._lock:
            self._count += 1
            dest = os.path.join(self._backup_dir(),
                                f"{self._tag}{self._count}-{os.path.basename(path)}")
        self._log(moved=[path, dest])
        try:
            os.replace(path, dest)
        except OSError as exc:
            if exc.errno != 18:  # EXDEV: another filesystem; copy then delete
                raise
            shutil.copy2(path, dest, follow_symlinks=False)
            os.unlink(path)
        with self._lock:
            self.moved.append((path, dest))

    def remove_empty_dir(self, path: str | os.PathLike[str]) -> None:
        path = os.fspath(path)
        self._log(rmdir=path)
        with self._lock:
            os.rmdir(path)
            self.removed_dirs.append(path)
            self._known_dirs.discard(path)

    def prepare_write(self, path: str,
                      on_existing: Callable[[str], None] | None = None) -> None:
        """Call before creating ``path``: backs up what is there, creates parents.

        Threads may prepare writes at once as long as no two write the same path."""
        parent = os.path.dirname(path)
        self._log(dirs=[parent])
        self.ensure_dir(parent)
        with self._lock:
            # inside a directory this transaction made, nothing can be there yet
            fresh = parent in self._new_dirs and path not in self._written
        if not fresh:
            try:
                st = os.lstat(path)  # one syscall; a fresh target mostly says ENOENT
            except FileNotFoundError:
                pass
            else:
                if stat.S_ISDIR(st.st_mode):
                    raise IsADirectoryError(f"{path} is a directory")
                if path in self._written:  # this transaction's own file, written again
                    os.unlink(path)
                else:
                    if on_existing is not None:
                        on_existing(path)
                    self.remove_file(path)
        # journaled only now: a path that failed to move aside must not be deleted
        # by a rollback
        self._log(created=[path])
        with self._lock:
            self.created_files.append(path)
            self._written.add(path)

    def prepare_writes(self, paths: list[str],
                       on_existing: Callable[[str], None] | None = None) -> None:
        """`prepare_write` for many paths (distinct, and none of them a parent of another):
        parents made once each, and only paths outside directories this journal made are
        looked at."""
        if os.name == "nt":  # pragma: no cover - drive letters and both separators
            parent_of = [os.path.dirname(p) for p in paths]
        else:  # normalised absolute paths: the parent is everything before the last "/"
            parent_of = [p.rpartition("/")[0] or "/" for p in paths]
        dirs = sorted(set(parent_of))
        self._log(dirs=dirs)
        self._ensure_dirs(dirs)
        with self._lock:
            new, written = self._new_dirs, self._written
            check = [p for p, d in zip(paths, parent_of) if p in written or d not in new]
            # A file in a directory made here needs no line of its own: undoing removes
            # the whole directory. Those directories are written down (once) before any
            # file goes into them; files elsewhere are written down one by one.
            owned = {d for d in dirs if d in new and self._below_root(d)}
            made = sorted(owned - self._made_logged)
            self._made_logged.update(made)
            loose = [p for p, d in zip(paths, parent_of) if d not in owned]
        for path in check:
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue
            if stat.S_ISDIR(st.st_mode):
                raise IsADirectoryError(f"{path} is a directory")
            if path in written:  # this transaction's own file, written again
                os.unlink(path)
                continue
            if on_existing is not None:
                on_existing(path)  # may refuse to replace a file someone else owns
            self.remove_file(path)
        if made:
            self._log(made=made)
        if loose:
            self._log(created=loose)
        with self._lock:
            self.created_files.extend(loose)
            self._written.update(paths)

    def _ensure_dirs(self, dirs: list[str]) -> None:
        """`ensure_dir` for sorted ``dirs`` (parents before children): one whose parent
        is known is made with one ``mkdir`` and no more ado (as `ensure_dir` would);
        anything unusual (there already, a parent not seen yet) takes the careful way."""
        known = self._known_dirs
        sep = os.sep  # a drive's root never matches: the careful way then, no harm
        # the directories between that hold no file of their own (pkg/tests of
        # pkg/tests/unit/x.py) are made on the way, in order, rather than the careful way
        wanted = set(dirs)
        for d in dirs:
            parent = d.rpartition(sep)[0]
            while parent and parent not in wanted and parent not in known:
                wanted.add(parent)
                parent = parent.rpartition(sep)[0]
        if len(wanted) > len(dirs):
            dirs = sorted(wanted)
        made: list[str] = []
        try:
            for d in dirs:
                if d in known:
                    continue
                if d.rpartition(sep)[0] not in known:
                    self.ensure_dir(d)
                    continue
                try:
                    os.mkdir(d)
                except OSError:
                    self.ensure_dir(d)  # there already, or another thread made it
                    continue
                made.append(d)
                with self._lock:
                    known.add(d)
        finally:
            with self._lock:  # journaled as made (for rollback) even if a later one fails
                self.created_dirs.extend(made)
                self._new_dirs.update(made)

    def ensure_dir(self, path: str) -> None:
        """Create ``path`` and its missing parents, journaling the ones made here. Parents
        first, so nothing is made inside a directory that was not checked; one ``mkdir``
        per new directory; the calls run outside the lock, so threads overlap them."""
        with self._lock:
            if path in self._known_dirs:
                return
        if not self._below_root(path) and os.path.isdir(path):
            pass  # a root, or above one: trusted as it is
        else:
            parent = os.path.dirname(path)
            if parent != path:
                self.ensure_dir(parent)
            try:
                os.mkdir(path)
            except OSError as exc:  # there already (or another thread made it)
                if not (isinstance(exc, FileExistsError) or os.path.isdir(path)):
                    raise
                self._check_existing(path)
            else:
                self._made_dir(path)
        with self._lock:
            self._known_dirs.add(path)

    def _below_root(self, path: str) -> bool:
        return bool(self._root_prefixes) and path.startswith(self._root_prefixes)

    def _check_existing(self, path: str) -> None:
        """A directory that was there before, below a root, must not lead outside it."""
        for root in self._roots:
            if path.startswith(root + os.sep) and os.path.islink(path):
                real, real_root = os.path.realpath(path), os.path.realpath(root)
                if real != real_root and not real.startswith(real_root + os.sep):
                    raise UnsafeTarget(f"refusing to write through {path}: it is a symbolic "
                                       f"link to {real}, outside {root}")

    def _made_dir(self, path: str) -> None:
        with self._lock:
            self.created_dirs.append(path)
            self._new_dirs.add(path)

    def rollback(self) -> None:
        """Undo every change, newest first. Best effort: keeps going past failures."""
        if self._done:
            return
        self._done = True
        for c in reversed(self._children):
            c.rollback()
        for f in reversed(self.created_files):
            with contextlib.suppress(OSError):
                os.unlink(f)
        for d in reversed(self.created_dirs):
            # Created directories may hold __pycache__ made by an import meanwhile.
            if os.path.isdir(d):
                shutil.rmtree(d, ignore_errors=True)
        for d in self.removed_dirs:
            os.makedirs(d, exist_ok=True)
        for orig, backup in reversed(self.moved):
            try:
                os.makedirs(os.path.dirname(orig), exist_ok=True)
                os.replace(backup, orig)
            except OSError:
                shutil.copy2(backup, orig, follow_symlinks=False)
        self._drop_backup()
        self._close_journal(best_effort=True)

    def commit(self) -> None:
        if self._done:
            return
        self._done = True
        self._close_journal()  # done: nothing left to undo, whatever happens next
        self._drop_backup()

    def _drop_backup(self) -> None:
        if self._backup is not None:
            shutil.rmtree(self._backup, ignore_errors=True)
            self._backup = None



JOURNAL_PREFIX = ".pyinst-journal-"
BACKUP_PREFIX = ".pyinst-backup-"


def new_journal_path(directory: str) -> str:
    import secrets

    return os.path.join(directory, f"{JOURNAL_PREFIX}{secrets.token_hex(8)}.jsonl")


def recover(directory: str) -> list[str]:
    """Undo what interrupted installs left in ``directory`` (a target's site directory):
    replay each journal backwards, then drop backups no journal speaks for. Call it
    holding the target's lock. Returns the journals it undid."""
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    undone = []
    for name in names:
        if name.startswith(JOURNAL_PREFIX) and name.endswith(".jsonl"):
            path = os.path.join(directory, name)
            _undo(path)
            os.unlink(path)
            undone.append(path)
    for name in names:
        if name.startswith(BACKUP_PREFIX):
            shutil.rmtree(os.path.join(directory, name), ignore_errors=True)
    return undone


def _undo(journal: str) -> None:
    records = []
    with open(journal, encoding="utf-8") as fh:
        for line in fh:
            with contextlib.suppress(ValueError):  # a last line cut short by the kill
                records.append(json.loads(line))
    roots: list[str] = next((r.get("roots", []) for r in records if "journal" in r), [])
    made_dirs: list[str] = []
    for rec in reversed(records):
        if "created" in rec:
            for p in rec["created"]:
                with contextlib.suppress(OSError):
                    os.unlink(p)
        elif "moved" in rec:
            orig, backup = rec["moved"]
            if os.path.lexists(backup):
                os.makedirs(os.path.dirname(orig), exist_ok=True)
                os.replace(backup, orig)
        elif "rmdir" in rec:
            os.makedirs(rec["rmdir"], exist_ok=True)
        elif "dirs" in rec:
            made_dirs.extend(rec["dirs"])
        elif "made" in rec:  # made by the install, with everything put in them since
            for d in rec["made"]:
                if d not in roots and any(d.startswith(r + os.sep) for r in roots):
                    shutil.rmtree(d, ignore_errors=True)
    # directories the install made and left empty, deepest first, up to a root
    for d in sorted(set(made_dirs), key=len, reverse=True):
        while d and d not in roots and any(d.startswith(r + os.sep) for r in roots):
            try:
                os.rmdir(d)
            except OSError:
                break
            d = os.path.dirname(d)
