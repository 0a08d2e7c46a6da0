"""Turn progress events into a progress display: rich bars on a terminal, plain lines
(with -v) otherwise. rich is imported only when a terminal will show it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..events import (
    DownloadFinished,
    DownloadProgress,
    Event,
    EventSink,
    InstallProgress,
    ResolveFinished,
    ResolveStarted,
    TargetFinished,
    ignore,
)


def plain_line(event: Event) -> str | None:
    """The one-line form of an event, or None for the chatty ones."""
    if isinstance(event, ResolveStarted):
        return f"resolving for {event.target}"
    if isinstance(event, ResolveFinished):
        return f"resolved {event.packages} packages for {event.target} in {event.seconds:.2f}s"
    if isinstance(event, DownloadFinished):
        return f"downloaded {event.package} ({event.size} bytes)"
    if isinstance(event, InstallProgress):
        return f"installing {event.package}=={event.version} ({event.index}/{event.of}) " \
               f"into {event.target}"
    if isinstance(event, TargetFinished):
        return f"{'done' if event.ok else 'failed'}: {event.target}" + (
            f": {event.error}" if event.error else "")
    return None


@contextmanager
def progress_sink(args: argparse.Namespace) -> Iterator[EventSink]:
    if args.quiet:
        yield ignore
        return
    if sys.stderr.isatty():
        with _rich_sink() as sink:
            yield sink
        return
    if args.verbose:
        def write(event: Event) -> None:
            line = plain_line(event)
            if line:
                sys.stderr.write(line + "\n")
        yield write
        return
    yield ignore


@contextmanager
def _rich_sink() -> Iterator[EventSink]:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TransferSpeedColumn,
    )

    progress = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                        TransferSpeedColumn(), transient=True,
                        console=_stderr_console())
    tasks: dict[str, Any] = {}

    def sink(event: Event) -> None:
        if isinstance(event, DownloadProgress):
            task = tasks.get(event.url)
            if task is None:
                task = tasks[event.url] = progress.add_task(event.package, total=event.total)
            progress.update(task, completed=event.done)
        elif isinstance(event, DownloadFinished) and event.url in tasks:
            progress.remove_task(tasks.pop(event.url))

    with progress:
        yield sink


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)
