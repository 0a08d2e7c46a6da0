"""The environment lock: one writer at a time per target, across threads and processes.

The lock is an advisory ``flock`` on the target's site directory itself, so taking it
creates no file in the target (a failed install leaves the tree byte-identical).
Each acquisition opens its own descriptor, so two threads of one process exclude each
other just as two processes do.

Hand-written rather than `filelock`: filelock 4 registers ``atexit`` handlers and keeps
a module-level registry of live locks, process-global state this library must not add.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import TracebackType

from .errors import EnvironmentLocked, TargetError, directory_problem

_POLL = 0.02


class EnvironmentLock:
    """``with EnvironmentLock(dir, timeout=...):`` holds an exclusive lock on ``dir``."""

    def __init__(self, directory: Path, *, timeout: float | None = None,
                 description: str = "") -> None:
        self.directory = directory
        self.timeout = timeout
        self.description = description or str(directory)
        self._fd: int | None = None

    def acquire(self) -> None:
        import fcntl

        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.directory, os.O_RDONLY)
        except OSError as exc:  # a file in the way, no permission, a read-only disk
            raise TargetError(f"cannot install into {self.description}: "
                              f"{directory_problem(self.directory, exc)}") from None
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if deadline is not None and time.monotonic() >= deadline:
                        raise EnvironmentLocked(self.description, self.timeout or 0.0) from None
                    time.sleep(_POLL)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        import fcntl

        fd, self._fd = self._fd, None
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> EnvironmentLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
