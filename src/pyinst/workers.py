"""Worker processes that unpack big wheels.

Unpacking is CPU work (inflate, hash, write) done by Python code that holds the GIL
between system calls, so threads beyond one mostly queue for it: on a cold install of
the benchmark's set, threads spent a third of their time handing the GIL over. Big
wheels are therefore unpacked by worker processes of our own, one per core at most,
and once those run, the small wheels too.

A worker is the running interpreter started again in isolated mode (``-I``, so the
environment's ``PYTHON*`` variables are not read), given this process's ``sys.path``
on its command line, and importing nothing of the host application (unlike
``multiprocessing``, which re-imports the host's ``__main__``). It reads requests and
answers with pickles over its pipes: ``(pin, wheel, cache root)`` in, the unpacked wheel
or the error out. Workers start on the first big wheel of a call and stop when the call
ends. When a worker cannot start, or dies, the wheel is unpacked in a thread as before.
"""

from __future__ import annotations

import contextlib
import dataclasses
import heapq
import itertools
import os
import re
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

from .models import Pin
from .unpacked import UnpackedWheel

if TYPE_CHECKING:
    from concurrent.futures import Future

T = TypeVar("T")

#: wheels at least this big start the workers; smaller ones go to them only once they
#: run: a call with only small wheels starts no process at all
BIG_WHEEL = 256 * 1024

#: seconds a worker has to start and say hello (it takes about a tenth of one)
HELLO_TIMEOUT = 30.0

#: each message: a magic word, its length, its pickle
_HEADER = struct.Struct("<4sQ")
_MAGIC = b"PYIW"
_LONGEST = 1 << 30
_PYTHON_NAME = re.compile(r"(python|pypy)[\d.]*[tw]?(\.exe)?", re.IGNORECASE)


def default_python() -> str | None:
    """The interpreter workers run on by default: this one, if `can_restart` it."""
    gil = getattr(sys, "_is_gil_enabled", None)
    return sys.executable if can_restart(
        sys.executable, frozen=bool(getattr(sys, "frozen", False)),
        gil=gil() if gil is not None else True) else None


def can_restart(executable: str, *, frozen: bool, gil: bool) -> bool:
    """Whether ``executable`` is a Python that may be started again as a worker: not a
    host program that embeds Python (its name is not python's), not a frozen
    application, and not a build without the GIL (whose threads already unpack in
    parallel)."""
    return bool(executable) and not frozen and gil and _PYTHON_NAME.fullmatch(
        os.path.basename(executable)) is not None


def hello() -> tuple[str, str, tuple[int, ...]]:
    """What a worker says first: it runs the same Python, with our code importable."""
    return ("ready", sys.implementation.name, tuple(sys.version_info[:2]))


def send(stream: IO[bytes], obj: object) -> None:
    import pickle  # here: a call that unpacks nothing in a worker never needs it

    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(_MAGIC, len(data)) + data)
    stream.flush()


def receive(stream: IO[bytes]) -> Any:
    """The next message, or ``EOFError`` when the other side is gone."""
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        raise EOFError
    magic, size = _HEADER.unpack(head)
    if magic != _MAGIC or size > _LONGEST:  # not our worker talking
        raise EOFError("not a message")
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    import pickle

    try:
        return pickle.loads(data)  # our own worker, over its own pipe
    except Exception as exc:  # e.g. an error type that cannot be made again here
        raise EOFError(f"an unreadable message ({exc})") from exc


class _Worker:
    def __init__(self, python: str, path: Sequence[str]) -> None:
        code = (f"import sys; sys.path[:] = {list(path)!r}; "
                "from pyinst._worker import main; main()")
        self.proc = subprocess.Popen(
            [python, "-I", "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, close_fds=True)
        self.ready = False

    def request(self, message: object) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        if not self.ready:
            if self._hello(self.proc.stdout) != hello():
                raise EOFError("not a worker of this Python")
            self.ready = True
        send(self.proc.stdin, message)
        return receive(self.proc.stdout)

    def _hello(self, out: IO[bytes]) -> Any:
        """The worker's first message; a worker silent for `HELLO_TIMEOUT` (a
        ``worker_python`` that is no Python, say) is given up on: the threads unpack."""
        if os.name == "posix":
            import select

            if not select.select([out], [], [], HELLO_TIMEOUT)[0]:
                raise EOFError("no hello")
            return receive(out)
        # elsewhere a pipe cannot be waited on: the silent worker is ended, which
        # closes its pipe
        silent = threading.Timer(HELLO_TIMEOUT, self.proc.kill)
        silent.start()
        try:
            return receive(out)
        finally:
            silent.cancel()

    def stop(self, *, busy: bool = False, kill: bool = False) -> None:
        """End the worker (at the end of its input, or at once with ``kill``) and wait
        for it; a busy worker still answers its last request, and its reader closes
        the pipe."""
        if kill:
            self.proc.kill()
        self.end_input()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if not busy:
            self.close_output()

    def end_input(self) -> None:
        """Close the worker's input: it ends once it has answered what it was sent."""
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()

    def close_output(self) -> None:
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class UnpackWorkers:
    """At most ``size`` worker processes, started on demand, for one call.

    ``eager``: every big wheel goes to a worker (the number was asked for); otherwise a
    big wheel goes to one only while another wheel is being unpacked.

    `unpack` returns ``None`` when no worker can do the job (none could start, or one
    died): the caller then unpacks in its own thread. Thread-safe.
    """

    def __init__(self, python: str, size: int, path: Sequence[str] | None = None, *,
                 eager: bool = False) -> None:
        self.eager = eager
        self.size = max(1, size)
        self._python = python
        self._path = list(sys.path if path is None else path)
        self._free = threading.BoundedSemaphore(self.size)
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._all: list[_Worker] = []
        self._broken = False
        self._closed = False

    def unpack(self, pin: Pin, wheel: Path, cache_root: Path) -> UnpackedWheel | None:
        # what unpacking reads of the pin: the worker need not get the resolver's rest
        slim = dataclasses.replace(pin, metadata=b"", dependencies=())
        with self._free:
            worker = self._take()
            if worker is None:
                return None
            try:
                answer = worker.request((slim, os.fspath(wheel), os.fspath(cache_root)))
            except (EOFError, OSError, ValueError):  # ValueError: closed under us
                self._drop(worker)
                return None
            with self._lock:
                if self._closed:  # closed while this one worked: it has ended
                    worker.close_output()
                else:
                    self._idle.append(worker)
        kind, value = answer
        if kind == "error":
            raise value
        if kind != "ok":  # an error the worker could not send: meet it here, as it is
            self._break()
            return None
        assert isinstance(value, UnpackedWheel)
        return value

    @property
    def started(self) -> bool:
        """Whether worker processes are running (and still taking wheels)."""
        with self._lock:
            return bool(self._all) and not self._broken

    def _take(self) -> _Worker | None:
        with self._lock:
            if self._broken:
                return None
            if self._idle:
                return self._idle.pop()
            try:
                worker = _Worker(self._python, self._path)
            except OSError:
                self._broken = True
                return None
            self._all.append(worker)
            return worker

    def _break(self) -> None:
        """Unpack in threads from now on."""
        with self._lock:
            self._broken = True

    def _drop(self, worker: _Worker) -> None:
        """A worker that failed (died, or said something unreadable) is ended, and no
        further wheel goes to a worker: the threads unpack the rest."""
        with self._lock:
            self._broken = True
            if worker in self._all:
                self._all.remove(worker)
        worker.stop(kill=True)

    def close(self) -> None:
        """Stop every worker; those still busy finish their wheel first."""
        with self._lock:
            self._broken = self._closed = True
            workers, idle, self._all, self._idle = self._all, self._idle, [], []
        for worker in workers:  # told at once, they all end side by side
            worker.end_input()
        for worker in workers:
            worker.stop(busy=worker not in idle)


class BiggestFirst:
    """Runs jobs on at most ``threads`` threads of its own, the biggest waiting job
    first: with wheels to unpack piling up (downloads outpace the unpacking), starting
    the longest first ends the whole set soonest, instead of leaving the biggest wheel,
    often the last pinned, for the end."""

    def __init__(self, threads: int, name: str) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name)
        self._waiting: list[tuple[int, int, Callable[[], Any], Future[Any]]] = []
        self._count = itertools.count()
        self._lock = threading.Lock()

    def submit(self, size: int, job: Callable[[], T]) -> Future[T]:
        from concurrent.futures import Future

        future: Future[T] = Future()
        with self._lock:
            heapq.heappush(self._waiting, (-size, next(self._count), job, future))
        self._pool.submit(self._run_biggest)  # one run per job: whichever is biggest then
        return future

    def _run_biggest(self) -> None:
        with self._lock:
            if not self._waiting:  # cancelled by `shutdown`
                return
            _, _, job, future = heapq.heappop(self._waiting)
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(job())
        except BaseException as exc:  # the waiter raises it
            future.set_exception(exc)

    def shutdown(self) -> None:
        """Cancel the jobs still waiting, and wait for the running ones to end."""
        with self._lock:
            waiting, self._waiting = self._waiting, []
        for *_, future in waiting:
            future.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)
