"""The exception tree.

Every error pyinst raises for a user-facing problem derives from `PyinstError`,
carries structured fields, and renders as one readable line with `str()`.
The CLI maps them to exit codes; the API simply raises them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from .redact import redact


def directory_problem(path: str | os.PathLike[str], exc: OSError) -> str:
    """Why ``path`` could not be made or opened as a directory, for a message: a file in
    the way is said as such (``mkdir`` only says "File exists")."""
    return "it is a file, not a directory" if os.path.isfile(path) else \
        exc.strerror or str(exc)


class PyinstError(Exception):
    """Base of every error pyinst raises for a problem with its input or environment."""

    #: process exit code the CLI uses for this kind of error
    exit_code = 1

    def __init__(self, message: str, *, package: str | None = None) -> None:
        message = redact(message)  # no password or token from a URL ever shows
        super().__init__(message)
        self.message = message
        self.package = package

    def __str__(self) -> str:
        return self.message


class UsageError(PyinstError):
    """Options that do not fit together, or an unreadable requirement."""

    exit_code = 2


class InvalidRequirement(UsageError):
    """A requirement string, or a line of a requirements file, that cannot be parsed."""

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None):
        where = f"{source}:{line}: " if source and line else (f"{source}: " if source else "")
        super().__init__(where + message)
        self.source = source
        self.line = line


class TargetError(PyinstError):
    """The target interpreter or directory cannot be used."""


class CacheError(PyinstError):
    """The cache's filesystem refused a write or a read: it is full, over a quota,
    read-only or not ours to write, or a file stands where a directory must. Nothing
    was installed."""


class IndexFetchError(PyinstError):
    """An index page or file could not be fetched (network error, HTTP error status)."""

    def __init__(
        self,
        message: str,
        *,
        url: str,
        package: str | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message, package=package)
        self.url = redact(url) if url else url
        self.status_code = status_code


class IndexPageError(PyinstError):
    """An index page that cannot be understood."""

    def __init__(self, message: str, *, url: str, package: str | None = None) -> None:
        super().__init__(message, package=package)
        self.url = redact(url) if url else url


class ProjectNotFound(PyinstError):
    """No index (nor find-links location) knows the project."""

    def __init__(self, package: str, *, locations: Sequence[str],
                 required_by: str | None = None) -> None:
        where = ", ".join(locations) if locations else "no index configured"
        by = f", required by {required_by}" if required_by else ""
        super().__init__(f"no project named '{package}' was found ({where}){by}",
                         package=package)
        self.locations = tuple(locations)


class NoMatchingVersion(PyinstError):
    """The project exists, but none of its usable versions fits the requirement."""

    def __init__(self, package: str, *, requirement: str, available: Sequence[str],
                 required_by: str | None = None) -> None:
        shown = ", ".join(available) if available else "none"
        by = f", required by {required_by}" if required_by else ""
        super().__init__(
            f"no version of '{package}' matches '{requirement}'{by} (available: {shown})",
            package=package,
        )
        self.requirement = requirement
        self.available = tuple(available)


class NoCompatibleDistribution(PyinstError):
    """The project has files, but none that can be installed on the target."""

    def __init__(self, package: str, *, reason: str, required_by: str | None = None) -> None:
        by = f" (required by {required_by})" if required_by else ""
        super().__init__(f"'{package}'{by} has no installable file for this target: {reason}",
                         package=package)
        self.reason = reason


class ResolutionImpossible(PyinstError):
    """Requirements that cannot all be satisfied at once; the message explains the conflict."""

    def __init__(self, message: str, *, package: str | None = None,
                 conflicts: Sequence[str] = ()) -> None:
        super().__init__(message, package=package)
        self.conflicts = tuple(conflicts)


class HashMismatch(PyinstError):
    """A downloaded file does not have the hash the index or the user promised."""

    def __init__(self, package: str, *, url: str, expected: str, got: str) -> None:
        super().__init__(
            f"hash mismatch for '{package}' from {url}: expected {expected}, got {got}",
            package=package,
        )
        self.url = redact(url) if url else url
        self.expected = expected
        self.got = got


class DirectReferenceRefused(PyinstError):
    """A distribution from an index depends on a URL the user did not name."""


class HashRequired(PyinstError):
    """Hash-checking mode: a requirement is not pinned, or a file has no hash to check."""


class InvalidWheel(PyinstError):
    """A wheel (or its metadata) that is broken or does not describe what it claims."""

    def __init__(self, message: str, *, package: str | None = None, path: str | None = None):
        super().__init__(message, package=package)
        self.path = path


class InvalidSdist(PyinstError):
    """A source archive that is broken or would write outside where it is unpacked."""

    def __init__(self, message: str, *, package: str | None = None, path: str | None = None):
        super().__init__(message, package=package)
        self.path = path


class BuildFailed(PyinstError):
    """A build backend failed; ``output`` is the tail of what it printed."""

    def __init__(self, message: str, *, package: str | None = None, output: str = ""):
        super().__init__(message, package=package)
        self.output = output


class InstallConflict(PyinstError):
    """A file the install would write belongs to another installed distribution."""


class InstallError(PyinstError):
    """Writing to the target failed; the target was rolled back to its previous state."""


class UninstallError(PyinstError):
    """A distribution could not be removed (missing or unreadable RECORD, ...)."""


class EnvironmentLocked(PyinstError):
    """Another install holds the target's lock and did not finish in time."""

    def __init__(self, target: str, timeout: float) -> None:
        super().__init__(f"the environment {target} is locked by another install "
                         f"(waited {timeout:g}s)")
        self.target = target
        self.timeout = timeout


class NotSupportedYet(PyinstError):
    """Something pyinst deliberately does not do (yet), such as building from source."""
