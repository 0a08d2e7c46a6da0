"""A journal of filesystem changes to a target, so a failed install can be undone.

Files to be removed or overwritten are first moved into a backup directory on the
same filesystem (a rename, so nothing is copied); files and directories created are
remembered. ``rollback()`` puts everything back; ``commit()`` drops the backups.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import threading
from pathlib import Path


class Transaction:
    """Safe to use from several threads at once (one wheel per thread)."""

    def __init__(self, backup_parent: Path) -> None:
        self._lock = threading.RLock()
        self._backup_parent = backup_parent
        self._backup: Path | None = None
        self._count = 0
        self.created_files: list[Path] = []
        self.created_dirs: list[Path] = []
        self.moved: list[tuple[Path, Path]] = []
        self.removed_dirs: list[Path] = []
        self._known_dirs: set[Path] = set()
        self._new_dirs: set[Path] = set()
        self._written: set[Path] = set()
        self._done = False

    def _backup_dir(self) -> Path:
        if self._backup is None:
            self._backup_parent.mkdir(parents=True, exist_ok=True)
            self._backup = Path(tempfile.mkdtemp(prefix=".pyinst-backup-",
                                                 dir=self._backup_parent))
        return self._backup

    def remove_file(self, path: Path) -> None:
        """Move ``path`` into the backup, to be restored on rollback."""
        with self._lock:
            self._count += 1
            dest = self._backup_dir() / f"{self._count}-{path.name}"
        try:
            os.replace(path, dest)
        except OSError as exc:
            if exc.errno != 18:  # EXDEV: another filesystem; copy then delete
                raise
            shutil.copy2(path, dest, follow_symlinks=False)
            os.unlink(path)
        with self._lock:
            self.moved.append((path, dest))

    def remove_empty_dir(self, path: Path) -> None:
        with self._lock:
            os.rmdir(path)
            self.removed_dirs.append(path)
            self._known_dirs.discard(path)

    def prepare_write(self, path: Path) -> None:
        """Call before creating ``path``: backs up what is there, creates parents."""
        with self._lock:
            self.ensure_dir(path.parent)
            if path.parent in self._new_dirs and path not in self._written:
                # inside a directory this transaction made: nothing can be there yet
                self.created_files.append(path)
                self._written.add(path)
                return
            try:
                st = os.lstat(path)  # one syscall; a fresh target mostly says ENOENT
            except FileNotFoundError:
                pass
            else:
                if stat.S_ISDIR(st.st_mode):
                    raise IsADirectoryError(f"{path} is a directory")
                self.remove_file(path)
            self.created_files.append(path)
            self._written.add(path)

    def ensure_dir(self, path: Path) -> None:
        with self._lock:
            if path in self._known_dirs:
                return
            missing = []
            p = path
            while not p.exists():
                missing.append(p)
                p = p.parent
            for d in reversed(missing):
                d.mkdir()
                self.created_dirs.append(d)
                self._new_dirs.add(d)
            self._known_dirs.add(path)

    def rollback(self) -> None:
        """Undo every change, newest first. Best effort: keeps going past failures."""
        if self._done:
            return
        self._done = True
        for f in reversed(self.created_files):
            try:
                f.unlink()
            except FileNotFoundError:
                pass
            except OSError:
                pass
        for d in reversed(self.created_dirs):
            _remove_tree_quietly(d)
        for d in self.removed_dirs:
            d.mkdir(parents=True, exist_ok=True)
        for orig, backup in reversed(self.moved):
            try:
                orig.parent.mkdir(parents=True, exist_ok=True)
                os.replace(backup, orig)
            except OSError:
                shutil.copy2(backup, orig, follow_symlinks=False)
        self._drop_backup()

    def commit(self) -> None:
        if self._done:
            return
        self._done = True
        self._drop_backup()

    def _drop_backup(self) -> None:
        if self._backup is not None:
            shutil.rmtree(self._backup, ignore_errors=True)
            self._backup = None


def _remove_tree_quietly(d: Path) -> None:
    # Created directories may hold __pycache__ made by an import during the install.
    if d.is_dir():
        shutil.rmtree(d, ignore_errors=True)
