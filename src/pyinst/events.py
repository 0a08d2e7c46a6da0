"""Progress events, delivered to a callback the caller injects.

The `Installer` serialises calls to the callback, so it need not be thread-safe itself,
even though events come from worker threads. Events are small frozen values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Union


@dataclass(frozen=True)
class ResolveStarted:
    """Resolution began for ``target`` (a description of where it installs)."""

    target: str


@dataclass(frozen=True)
class ResolveFinished:
    """Resolution for ``target`` pinned ``packages`` distributions in ``seconds``."""

    target: str
    packages: int
    seconds: float
    #: the answer of an earlier identical resolution, whose index pages are unchanged
    remembered: bool = False


@dataclass(frozen=True)
class DownloadProgress:
    """``done`` bytes of ``package``'s file at ``url`` have arrived (of ``total``)."""

    package: str
    url: str
    done: int
    #: ``None`` when the server did not say
    total: int | None


@dataclass(frozen=True)
class DownloadFinished:
    """``package``'s file at ``url`` arrived whole and verified: ``size`` bytes."""

    package: str
    url: str
    size: int


@dataclass(frozen=True)
class InstallProgress:
    """``package`` ``version`` is being installed into ``target``."""

    target: str
    package: str
    version: str
    #: 1-based position among ``of`` wheels being installed into the target
    index: int
    of: int


@dataclass(frozen=True)
class TargetFinished:
    """One target of `Installer.provision` is done, well (``ok``) or not."""

    target: str
    ok: bool
    #: the error's one-line message when not ok
    error: str | None = None


Event = Union[ResolveStarted, ResolveFinished, DownloadProgress, DownloadFinished,
              InstallProgress, TargetFinished]


class EventSink(Protocol):
    def __call__(self, event: Event, /) -> None: ...


def ignore(event: Event, /) -> None:
    """The default sink: drop every event."""
