"""The worker process that `pyinst.workers` starts: unpacks wheels it is sent.

This module is a process's entry point (like the command line), so it may set up its
own process: file descriptor 1 carries the answers, and anything printed goes to
standard error instead.
"""

from __future__ import annotations

import gc
import os
import pickle
import signal
import sys
from pathlib import Path


def main() -> None:
    from .workers import hello, receive, send

    # Ctrl-C reaches the whole process group: the parent decides, the worker ends
    # when its input does
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # state-ok: the worker's own process
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # state-ok: the worker's own process; stray output must not corrupt answers
    requests = sys.stdin.buffer  # state-ok: the worker's own process reads its requests
    from .unpack import unpack

    # What was imported lives as long as the worker: the collector need not walk it
    # again, which makes the collection after each wheel cost microseconds, not ms
    gc.freeze()  # state-ok: the worker's own process
    send(answers, hello())
    while True:
        try:
            pin, wheel, cache_root = receive(requests)
        except EOFError:
            # Nothing is left to do (every answer was flushed as it was sent): out at
            # once. Tearing the interpreter down took ~30 ms per worker, which the
            # parent waited through before linking the wheels (measured).
            os._exit(0)  # state-ok: the worker's own process, its work done
        try:
            answer: tuple[str, object] = ("ok", unpack(pin, Path(wheel), Path(cache_root)))
        except Exception as exc:  # the parent raises it, as if it had unpacked
            answer = ("error", exc)
        try:
            send(answers, answer)
        except (pickle.PicklingError, TypeError, AttributeError):
            send(answers, ("unsendable", repr(answer[1])))
        # A wheel of thousands of files leaves the interpreter's free lists full of the
        # tuples and strings it was read into, which keeps their memory pages from
        # being given back; a full collection empties those lists. After jedi's 5,600
        # files a worker held 4 MB more without it (measured), through the rest of
        # the install
        del answer
        gc.collect()
