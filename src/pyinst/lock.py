"""PEP 751 lock files (``pylock.toml``), with `packaging.pylock`.

Writing: a resolution for one target becomes a lock that names every file by URL (or
path), with its hashes and size, and states the environment it was made for.
Reading: `Pylock.select` picks, for a target's markers and tags, the file of each
package to install; pyinst then installs exactly that set, every file hash-checked,
with no resolution and no index page read.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.markers import Marker
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name

from .errors import PyinstError, UsageError
from .index.client import path_to_url, url_to_path
from .models import InstalledDistribution, InstallPlan, Link, Pin
from .redact import without_credentials

if TYPE_CHECKING:
    from packaging.pylock import Package, Pylock

    from .models import Resolution
    from .target import Target

#: hash algorithms accepted in locks and in hash-checking mode (pip's list)
STRONG_HASHES = ("sha256", "sha384", "sha512")


class LockError(PyinstError):
    """A lock file that cannot be read, or that has nothing for this target."""


# -- writing -------------------------------------------------------------------------------


def environment_marker(target: Target) -> Marker:
    """A marker true on environments like ``target`` (what the lock was made for)."""
    m = target.markers
    return Marker(f"sys_platform == {m['sys_platform']!r} and platform_machine == "
                  f"{m['platform_machine']!r} and implementation_name == "
                  f"{m['implementation_name']!r} and python_version == {m['python_version']!r}")


def make_lock(resolution: Resolution, target: Target, *, lock_dir: Path,
              sizes: Mapping[str, int] | None = None,
              commits: Mapping[str, str] | None = None,
              created_by: str = "pyinst") -> Pylock:
    """The lock of ``resolution`` (every pin must have a file: resolve ignoring what is
    installed). ``sizes`` and ``commits`` fill in what the index did not say."""
    from packaging.pylock import Pylock
    from packaging.version import Version

    packages = [_package(pin, lock_dir, sizes or {}, commits or {}) for pin in resolution]
    major, minor = target.interpreter.version[:2]
    lock = Pylock(lock_version=Version("1.0"), created_by=created_by,
                  environments=[environment_marker(target)],
                  requires_python=SpecifierSet(f"=={major}.{minor}.*"),
                  packages=packages)
    lock.validate()
    return lock


def _package(pin: Pin, lock_dir: Path, sizes: Mapping[str, int],
             commits: Mapping[str, str]) -> Package:
    from packaging.pylock import (
        Package,
        PackageArchive,
        PackageDirectory,
        PackageSdist,
        PackageVcs,
        PackageWheel,
    )

    from .vcs import is_vcs_url, parse_vcs_url

    link = pin.link
    if link is None:
        raise LockError(f"cannot lock '{pin.name}': it has no file (resolve without the "
                        "installed distributions)")
    hashes = {k: v for k, v in link.hashes.items() if k in STRONG_HASHES}
    size = link.size if link.size is not None else sizes.get(link.url)
    rp = SpecifierSet(link.requires_python) if link.requires_python else None
    common: dict[str, Any] = {"name": pin.name, "requires_python": rp}
    if is_vcs_url(link.url):
        vcs = parse_vcs_url(link.url)
        commit = pin.vcs_commit or commits.get(link.url)
        if commit is None:
            raise LockError(f"cannot lock '{pin.name}': its git commit is unknown")
        return Package(**common, version=pin.version, vcs=PackageVcs(
            type="git", url=without_credentials(vcs.repo), requested_revision=vcs.rev,
            commit_id=commit, subdirectory=vcs.subdirectory))
    if link.is_local_dir:
        return Package(**common, version=pin.version, directory=PackageDirectory(
            path=_relative(url_to_path(link.url), lock_dir), editable=pin.editable or None))
    if not hashes:
        raise LockError(f"cannot lock '{pin.name}' {pin.version}: no sha256 (or stronger) "
                        f"hash is known for {link.filename}")
    where: dict[str, Any] = ({"path": _relative(url_to_path(link.url), lock_dir)}
                             if link.is_file else {"url": without_credentials(link.url)})
    if pin.direct:
        return Package(**common, version=pin.version, archive=PackageArchive(
            **where, size=size, hashes=hashes))
    index = without_credentials(link.origin) if link.origin else None
    if link.is_wheel:
        return Package(**common, version=pin.version, index=index, wheels=[
            PackageWheel(name=link.filename, **where, size=size, hashes=hashes)])
    return Package(**common, version=pin.version, index=index, sdist=PackageSdist(
        name=link.filename, **where, size=size, hashes=hashes))


def _relative(path: Path, base: Path) -> str:
    try:
        return Path(os.path.relpath(path, base)).as_posix()
    except ValueError:  # another drive
        return path.as_posix()


def dump_lock(lock: Pylock) -> str:
    """TOML text of ``lock``."""
    import tomli_w

    return tomli_w.dumps(lock.to_dict())


# -- reading ----------------------------------------------------------------------------------


def load_lock(path: Path) -> Pylock:
    from packaging.pylock import (
        Pylock,
        PylockUnsupportedVersionError,
        PylockValidationError,
    )

    from . import toml
    try:
        data = toml.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read lock file {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise LockError(f"lock file {path} is not valid TOML: {exc}") from None
    try:
        return Pylock.from_dict(data)
    except (PylockValidationError, PylockUnsupportedVersionError) as exc:
        raise LockError(f"lock file {path} is not a valid PEP 751 lock: {exc}") from None


def pins_from_lock(lock: Pylock, lock_dir: Path, target: Target, *,
                   extras: Collection[str] = (), groups: Collection[str] | None = None
                   ) -> list[Pin]:
    """What the lock says to install on ``target``: one pin per package, each with the
    hashes its file must have."""
    from packaging.pylock import (
        PackageArchive,
        PackageDirectory,
        PackageSdist,
        PackageVcs,
        PylockSelectError,
    )

    for asked, offered, what, flag in ((extras, lock.extras, "extra", "--extra"),
                                       (groups or (), lock.dependency_groups,
                                        "dependency group", "--group")):
        unknown = sorted(set(map(canonicalize_name, asked))
                         - set(map(canonicalize_name, offered or ())))
        if unknown:  # a typo would otherwise install less than meant, silently
            known = ", ".join(sorted(offered or ())) or "none"
            raise LockError(f"{flag} {', '.join(unknown)}: not a {what} of the lock "
                            f"(it has: {known})")
    try:
        chosen = list(lock.select(environment=dict(target.markers),  # type: ignore[arg-type]
                                  tags=target.tags, extras=extras,
                                  dependency_groups=groups))
    except PylockSelectError as exc:
        raise LockError(f"the lock has nothing installable for {target.describe()}: "
                        f"{exc}") from None
    pins = []
    for package, dist in chosen:
        name = canonicalize_name(package.name)
        if isinstance(dist, PackageVcs):
            rev = dist.commit_id
            url = f"git+{dist.url or path_to_url(lock_dir / (dist.path or ''))}@{rev}"
            if dist.subdirectory:
                url += f"#subdirectory={dist.subdirectory}"
            link = Link(url=url, filename=url.rsplit("/", 1)[-1], origin="lock")
            pins.append(_pin(name, package.version, link, direct=True, commit=rev))
            continue
        if isinstance(dist, PackageDirectory):
            link = Link.from_url(path_to_url((lock_dir / dist.path).resolve()), origin="lock")
            pins.append(_pin(name, package.version, link, direct=True,
                             editable=bool(dist.editable)))
            continue
        hashes = {k: v.lower() for k, v in dist.hashes.items() if k in STRONG_HASHES}
        if not hashes:
            raise LockError(f"the lock gives '{name}' no sha256 (or stronger) hash")
        url = dist.url if dist.url else path_to_url((lock_dir / (dist.path or "")).resolve())
        filename = getattr(dist, "name", None) or url.split("#", 1)[0].rsplit("/", 1)[-1]
        link = Link(url=url.split("#", 1)[0], filename=filename, hashes=hashes,
                    size=dist.size, origin=package.index or "lock")
        pins.append(_pin(name, package.version, link,
                         direct=isinstance(dist, PackageArchive),
                         sdist=isinstance(dist, PackageSdist)))
    return pins


def _pin(name: NormalizedName, version: Any, link: Link, *, direct: bool = False,
         editable: bool = False, commit: str | None = None, sdist: bool = False) -> Pin:
    from packaging.version import Version

    del sdist  # a source either way: the pipeline builds what is not a wheel
    return Pin(name=name, version=version if version is not None else Version("0"),
               link=link, direct=direct, editable=editable, requested=True,
               vcs_commit=commit,
               allowed_hashes={k: (v,) for k, v in link.hashes.items()})


def plan_lock(pins: Iterable[Pin], installed: Mapping[NormalizedName, InstalledDistribution],
              *, sync: bool = False, keep: Collection[str] = ()) -> InstallPlan:
    """Install what differs from the lock; with ``sync``, remove what it does not list
    (except the distributions named in ``keep``)."""
    to_install: list[Pin] = []
    to_remove: list[InstalledDistribution] = []
    satisfied: list[Pin] = []
    wanted = set()
    for pin in pins:
        wanted.add(pin.name)
        old = installed.get(pin.name)
        same = old is not None and old.version == pin.version and not pin.direct
        if same:
            satisfied.append(pin)
            continue
        to_install.append(pin)
        if old is not None:
            to_remove.append(old)
    if sync:
        spared = {canonicalize_name(k) for k in keep}
        to_remove += [d for n, d in sorted(installed.items())
                      if n not in wanted and n not in spared]
    return InstallPlan(to_install=tuple(to_install), to_remove=tuple(to_remove),
                       already_satisfied=tuple(satisfied))


__all__ = ["STRONG_HASHES", "LockError", "dump_lock", "environment_marker", "load_lock",
           "make_lock", "pins_from_lock", "plan_lock"]
