"""Plain data passed between the pipeline's steps. Pure and frozen."""

from __future__ import annotations

import posixpath
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # names for annotations only: an unpacking worker imports this module
    from packaging.requirements import Requirement
    from packaging.utils import NormalizedName
    from packaging.version import Version

#: the source archives pyinst can unpack (an sdist, or a project archive)
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar", ".zip")


@dataclass(frozen=True)
class Link:
    """One file offered by an index or a find-links location."""

    url: str
    filename: str
    #: hash name -> hex digest, as the index stated it
    hashes: Mapping[str, str] = field(default_factory=dict, hash=False)
    requires_python: str | None = None
    #: ``None`` when not yanked, else the reason (possibly empty)
    yanked: str | None = None
    #: PEP 658/714: ``None`` when the index offers no metadata sidecar, else the
    #: sidecar's hashes (possibly empty when the index gave none)
    metadata_hashes: Mapping[str, str] | None = field(default=None, hash=False)
    #: which index (or find-links location) listed it
    origin: str = ""
    #: the file's size in bytes, when the index said (PEP 700)
    size: int | None = field(default=None, compare=False)

    @classmethod
    def from_url(cls, url: str, *, filename: str | None = None,
                 hashes: Mapping[str, str] | None = None, requires_python: str | None = None,
                 yanked: str | None = None, metadata_hashes: Mapping[str, str] | None = None,
                 origin: str = "", size: int | None = None) -> Link:
        """A link whose hash, if any, is in the URL fragment (``#sha256=...``); its file
        name is the URL's last part unless the index said (``filename``)."""
        base, _, frag = url.partition("#")
        found = dict(hashes) if hashes else {}
        name, sep, value = frag.partition("=")
        if sep and name in _HASH_NAMES and value:
            found.setdefault(name, value.lower())
        if not filename:
            start = base.find("://")
            if start > 0 and "?" not in base:  # an index's file link: no need for urlsplit
                slash = base.find("/", start + 3)
                path = base[slash:] if slash >= 0 else ""
            else:
                path = urllib.parse.urlsplit(base).path
            filename = urllib.parse.unquote(posixpath.basename(path))
        # The fields set at once: the generated __init__ of a frozen dataclass sets them
        # one by one through object.__setattr__, a third of parsing an index page (a
        # cold resolution of jupyterlab makes 30,000 links). A test checks that the two
        # make equal links.
        link = object.__new__(cls)
        link.__dict__.update(url=base, filename=filename, hashes=found,
                             requires_python=requires_python, yanked=yanked,
                             metadata_hashes=metadata_hashes, origin=origin, size=size)
        return link

    @property
    def is_wheel(self) -> bool:
        return self.filename.endswith(".whl")

    @property
    def is_source_archive(self) -> bool:
        return self.filename.lower().endswith(ARCHIVE_SUFFIXES)

    @property
    def is_local_dir(self) -> bool:
        """A local project directory (``file:`` and neither a wheel nor an archive)."""
        return self.is_file and not self.is_wheel and not self.is_source_archive

    @property
    def metadata_url(self) -> str:
        return self.url + ".metadata"

    @property
    def is_file(self) -> bool:
        return self.url.startswith("file:")


_HASH_NAMES = frozenset({"sha256", "sha384", "sha512", "sha224", "sha1", "md5", "blake2b"})


@dataclass(frozen=True)
class Pin:
    """A pinned distribution chosen by the resolver."""

    name: NormalizedName
    version: Version
    #: the file to install; ``None`` when the installed copy is kept
    link: Link | None
    #: the installed copy that was found and kept (site dir of its .dist-info)
    installed_at: Path | None = None
    #: the raw core metadata (METADATA file) the resolver read
    metadata: bytes = field(default=b"", repr=False, compare=False)
    #: came from a direct URL requirement (``name @ url``, a path)
    direct: bool = False
    #: an editable install of a local project (PEP 660)
    editable: bool = False
    #: the commit a ``git+`` requirement was built from (known once it is checked out)
    vcs_commit: str | None = None
    requested: bool = False
    requested_extras: frozenset[str] = frozenset()
    #: hashes the user allowed (``--hash``): algorithm -> digests; one must match
    allowed_hashes: Mapping[str, tuple[str, ...]] = field(default_factory=dict, compare=False)
    #: dependencies as the resolver applied them (for reports and explanations)
    dependencies: tuple[Requirement, ...] = field(default=(), compare=False)

    def __str__(self) -> str:
        return f"{self.name}=={self.version}"


@dataclass(frozen=True)
class Resolution:
    """Every distribution the requirements need, pinned."""

    pins: Mapping[NormalizedName, Pin]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.pins.values())

    def __len__(self) -> int:
        return len(self.pins)


@dataclass(frozen=True)
class InstalledDistribution:
    """A distribution found in a target (a ``.dist-info`` directory)."""

    name: NormalizedName
    version: Version
    dist_info: Path
    installer: str = ""

    @property
    def site_dir(self) -> Path:
        return self.dist_info.parent


@dataclass(frozen=True)
class InstallPlan:
    """What installing a resolution into a target would change."""

    to_install: tuple[Pin, ...]
    #: installed distributions replaced (upgraded, downgraded or reinstalled)
    to_remove: tuple[InstalledDistribution, ...]
    already_satisfied: tuple[Pin, ...]

    @property
    def is_empty(self) -> bool:
        return not self.to_install and not self.to_remove


@dataclass(frozen=True)
class InstallResult:
    """What an install did: ``installed`` and ``removed`` list ``(name, version)``."""

    installed: tuple[tuple[str, str], ...]
    removed: tuple[tuple[str, str], ...]
    already_satisfied: tuple[tuple[str, str], ...] = ()
    plan: InstallPlan | None = field(default=None, repr=False, compare=False)
    resolution: Resolution | None = field(default=None, repr=False, compare=False)
    dry_run: bool = False
    #: seconds spent in each phase ("resolve", "prepare", "install")
    timings: Mapping[str, float] = field(default_factory=dict, compare=False)
