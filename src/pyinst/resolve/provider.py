"""The resolvelib provider: all package knowledge and I/O behind one object."""

from __future__ import annotations

import contextlib
import threading
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, TypeVar, Union

from packaging.metadata import RawMetadata
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version
from resolvelib import AbstractProvider
from resolvelib.structs import RequirementInformation

from ..config import BinaryPolicy
from ..errors import InvalidWheel
from ..evaluate import Evaluation, evaluate_links, tag_ranks
from ..fetch import Fetcher
from ..index.client import IndexClient
from ..installed import read_metadata
from ..metadata import names_itself, parse_headers, wheel_metadata
from ..models import InstalledDistribution, Link
from ..target import Target

if TYPE_CHECKING:
    from ..sources import Sources

PYTHON = "<python>"

_K = TypeVar("_K")
_V = TypeVar("_V")


def _admits(specifier: SpecifierSet, verdicts: dict[Version, bool], version: Version) -> bool:
    ok = verdicts.get(version)
    if ok is None:
        ok = verdicts[version] = specifier.contains(version, prereleases=True)
    return ok


@dataclass(frozen=True)
class Req:
    """A requirement as the resolver sees it (markers already evaluated)."""

    name: NormalizedName
    extras: frozenset[str] = frozenset()
    specifier: SpecifierSet = field(default_factory=SpecifierSet)
    url: str | None = None
    #: the requirement as written, for messages
    text: str = ""
    #: version -> verdict (the resolver asks the same question thousands of times)
    _verdicts: dict[Version, bool] = field(default_factory=dict, compare=False, repr=False)

    @property
    def identifier(self) -> str:
        return _ident(self.name, self.extras)

    def admits(self, version: Version) -> bool:
        return _admits(self.specifier, self._verdicts, version)

    def __str__(self) -> str:
        return self.text or f"{self.name}{self.specifier}"


@dataclass(frozen=True)
class PythonReq:
    specifier: SpecifierSet
    #: version -> verdict (the resolver asks the same question thousands of times)
    _verdicts: dict[Version, bool] = field(default_factory=dict, compare=False, repr=False)

    identifier = PYTHON

    def admits(self, version: Version) -> bool:
        return _admits(self.specifier, self._verdicts, version)

    def __str__(self) -> str:
        return f"Python{self.specifier}"


@dataclass(frozen=True)
class Cand:
    name: NormalizedName
    version: Version
    link: Link | None = None
    installed: InstalledDistribution | None = None
    extras: frozenset[str] = frozenset()
    direct: bool = False
    editable: bool = False

    @property
    def identifier(self) -> str:
        return _ident(self.name, self.extras)

    @property
    def needs_build(self) -> bool:
        return self.installed is None and self.link is not None and not self.link.is_wheel

    def __str__(self) -> str:
        return f"{self.identifier} {self.version}"


@dataclass(frozen=True)
class PythonCand:
    version: Version

    identifier = PYTHON

    def __str__(self) -> str:
        return f"Python {self.version}"


AnyReq = Union[Req, PythonReq]
AnyCand = Union[Cand, PythonCand]


def _ident(name: str, extras: frozenset[str]) -> str:
    return f"{name}[{','.join(sorted(extras))}]" if extras else name


@dataclass(frozen=True)
class ResolveOptions:
    upgrade: frozenset[str] = frozenset()
    force_reinstall: bool = False
    no_deps: bool = False
    allow_prereleases: bool = False
    constraints: Mapping[NormalizedName, Sequence[Req]] = field(default_factory=dict)
    #: user hashes (``--hash``): name -> algorithm -> allowed digests
    hashes: Mapping[NormalizedName, Mapping[str, Sequence[str]]] = field(default_factory=dict)
    #: projects given as ``-e DIR``: built and installed as editables (PEP 660)
    editables: frozenset[NormalizedName] = frozenset()
    #: URLs the user named (requirements or constraints): the only direct references a
    #: distribution from an index may depend on
    allowed_urls: frozenset[str] = frozenset()


def to_req(requirement: Requirement, *, text: str | None = None) -> Req:
    return Req(
        name=canonicalize_name(requirement.name),
        extras=frozenset(canonicalize_name(e) for e in requirement.extras),
        specifier=requirement.specifier,
        url=requirement.url,
        text=text or str(requirement),
    )


class Provider(AbstractProvider):  # type: ignore[type-arg]
    def __init__(
        self,
        *,
        client: IndexClient,
        fetcher: Fetcher,
        target: Target,
        installed: Mapping[NormalizedName, InstalledDistribution],
        options: ResolveOptions,
        binary: BinaryPolicy,
        config_prereleases: bool,
        sources: Callable[[], Sources] | None = None,
        background: Callable[[Callable[[], object]], object] | None = None,
        on_pin: Callable[[Cand], None] | None = None,
    ) -> None:
        self._client = client
        self._fetcher = fetcher
        self._target = target
        self._installed = installed
        self._options = options
        self._ranks = tag_ranks(target.tags)
        self._python_version = target.interpreter.python_version
        self._env = dict(target.markers)
        self._binary = binary
        self._sources = sources
        self._prereleases = config_prereleases or options.allow_prereleases
        self._evaluations: dict[NormalizedName, Evaluation] = {}
        self._metadata: dict[tuple[str, str, str], tuple[bytes, RawMetadata]] = {}
        self._deps: dict[AnyCand, list[AnyReq]] = {}
        self._direct: dict[tuple[NormalizedName, str], Version] = {}
        self._lock = threading.Lock()
        #: runs a job on a worker thread (fire and forget); used to look ahead (pages,
        #: metadata) while the resolver works on something else
        self._background = background
        self._prefetched: set[NormalizedName] = set()
        #: set by `stop_looking_ahead`: the resolution is over, so is guessing for it
        self._stopped = False
        #: what `_once` is making right now, by (kind, key): others wait for it
        self._making: dict[tuple[str, object], threading.Event] = {}
        self._on_pin = on_pin

    def prefetch(self, reqs: Sequence[Req]) -> None:
        """Look ahead in the background: each requirement's project page, then the
        metadata of the version it would most likely get (the newest it admits, which
        the resolver takes unless something conflicts), then that version's own
        dependencies, and so on. The resolver then mostly finds what it asks for already
        fetched; a wrong guess costs one metadata file (or the few ranges of a wheel that
        hold it, where the index has no PEP 658 files)."""
        if self._background is None:
            return
        for req in reqs:
            with self._lock:
                if self._stopped or req.name in self._prefetched:
                    continue
                self._prefetched.add(req.name)
            self._background(lambda r=req: self._look_ahead(r))  # type: ignore[misc]

    def pinned(self, cand: Cand) -> None:
        """The resolver pinned ``cand``: let the caller start fetching its wheel."""
        if self._on_pin is not None and cand.installed is None and cand.link is not None \
                and not cand.extras and not cand.needs_build:
            self._on_pin(cand)

    def stop_looking_ahead(self) -> None:
        """The resolution is over (done, or failed): what `prefetch` has queued is
        dropped rather than fetched for nobody, in an Installer that lives on."""
        with self._lock:
            self._stopped = True

    def _look_ahead(self, req: Req) -> None:
        """`prefetch`'s job for one requirement; quiet: what fails here fails again, with
        its message, when the resolver itself asks."""
        if self._stopped:
            return
        with contextlib.suppress(Exception):
            reqs = [req, *self._options.constraints.get(req.name, ())]
            likely = next(iter(self._matches(req.name, frozenset(), reqs)), None)
            if likely is not None:
                self._metadata_parsed(likely, guess=True)  # only what is cheap
                self.get_dependencies(likely)  # which looks ahead at its dependencies

    @property
    def options(self) -> ResolveOptions:
        return self._options

    @property
    def python_version(self) -> Version:
        return self._python_version

    # -- knowledge ------------------------------------------------------------------

    def _once(self, kind: str, cache: dict[_K, _V], key: _K, make: Callable[[], _V]) -> _V:
        """``cache[key]``, made once however many threads (the resolver, looking ahead)
        ask at once: a second asker waits for the first, and tries itself if that
        failed. ``make`` may not itself wait on a `_once` (so none can wait in a ring)."""
        tag = (kind, key)
        while True:
            with self._lock:
                if key in cache:
                    return cache[key]
                busy = self._making.get(tag)
                mine = busy is None
                if busy is None:
                    busy = self._making[tag] = threading.Event()
            if not mine:
                busy.wait()
                continue
            try:
                value = make()
                with self._lock:
                    cache[key] = value
                return value
            finally:
                with self._lock:
                    del self._making[tag]
                busy.set()

    def evaluation(self, name: NormalizedName) -> Evaluation:
        def make() -> Evaluation:
            page = self._client.project_page(name)
            return evaluate_links(name, page.links, ranks=self._ranks,
                                  python_version=self._python_version, binary=self._binary)

        return self._once("evaluation", self._evaluations, name, make)

    def project_found(self, name: NormalizedName) -> bool:
        return self._client.project_page(name).found

    def project_locations(self, name: NormalizedName) -> tuple[str, ...]:
        return self._client.project_page(name).locations

    def metadata(self, cand: Cand) -> bytes:
        return self._metadata_parsed(cand)[0]

    def _metadata_parsed(self, cand: Cand, *, guess: bool = False
                         ) -> tuple[bytes, RawMetadata]:
        """The candidate's metadata, fetched once however many threads ask at once.
        On a ``guess`` (looking ahead), only what is cheap: a PEP 658 file, or a few
        ranges of a wheel; never a whole wheel, nor a build (`_NotOnAGuess`)."""
        key = (cand.name, str(cand.version), cand.link.url if cand.link else "")
        return self._once("metadata", self._metadata, key,
                          lambda: self._fetch_metadata(cand, guess))

    def _fetch_metadata(self, cand: Cand, guess: bool) -> tuple[bytes, RawMetadata]:
        if cand.installed is not None:
            data = read_metadata(cand.installed)
        elif cand.needs_build:
            assert cand.link is not None
            if guess:
                raise _NotOnAGuess(cand.name)
            data = self._source_metadata(cand)
        elif cand.link is not None and cand.link.metadata_hashes is not None:
            data = self._fetcher.metadata(cand.link, package=cand.name)
        elif cand.link is not None:
            data = self._metadata_from_wheel(cand, whole=not guess)
        else:  # pragma: no cover - every candidate has a link or an installed copy
            data = b""
        raw = parse_headers(data)
        self._check_metadata(cand, raw)
        return data, raw

    def _source_metadata(self, cand: Cand) -> bytes:
        assert cand.link is not None
        if self._sources is None:
            from ..errors import NotSupportedYet

            raise NotSupportedYet(f"'{cand.name}' {cand.version} needs a build from source, "
                                  "and this call cannot build", package=cand.name)
        return self._sources().metadata(cand.link, cand.name, self._target,
                                      editable=cand.editable,
                                      allowed=self._options.hashes.get(cand.name))

    def _metadata_from_wheel(self, cand: Cand, *, whole: bool = True) -> bytes:
        """METADATA read with range requests from a remote wheel (not with ``--hash``:
        then the whole file is checked first), else from the whole wheel (unless not
        ``whole``: `_NotOnAGuess`)."""
        assert cand.link is not None
        if not cand.link.is_file and not self._options.hashes.get(cand.name):
            data = self._fetcher.metadata_by_range(cand.link, package=cand.name)
            if data is not None:
                return data
        if not whole:
            raise _NotOnAGuess(cand.name)
        path = self._fetcher.wheel(cand.link, package=cand.name,
                                   allowed=self._options.hashes.get(cand.name))
        try:
            with zipfile.ZipFile(path) as zf:
                return wheel_metadata(zf)
        except zipfile.BadZipFile as exc:
            raise InvalidWheel(
                f"invalid wheel '{cand.name}' {cand.version} ({cand.link.filename}): {exc}",
                package=cand.name, path=str(path)) from exc

    def _check_metadata(self, cand: Cand, raw: RawMetadata) -> None:
        if cand.installed is not None:
            return
        same, name, version = names_itself(raw, cand.name, cand.version)
        if not same:
            fname = cand.link.filename if cand.link else ""
            raise InvalidWheel(
                f"invalid metadata for '{cand.name}' {cand.version} ({fname}): it says "
                f"{name} {version}", package=cand.name)

    # -- resolvelib interface -------------------------------------------------------------

    def identify(self, requirement_or_candidate: AnyReq | AnyCand) -> str:
        return requirement_or_candidate.identifier

    def get_preference(self, identifier: str, resolutions: Mapping[str, AnyCand],
                       candidates: Mapping[str, Iterator[AnyCand]],
                       information: Mapping[str, Iterator[RequirementInformation]],  # type: ignore[type-arg]
                       backtrack_causes: Sequence[RequirementInformation]  # type: ignore[type-arg]
                       ) -> tuple[bool, bool, bool, str]:
        infos = list(information[identifier])
        direct = any(isinstance(i.requirement, Req) and i.requirement.url for i in infos)
        pinned = any(isinstance(i.requirement, Req)
                     and any(s.operator in ("==", "===") for s in i.requirement.specifier)
                     for i in infos)
        causes = {c.requirement.identifier for c in backtrack_causes}
        return (identifier != PYTHON, not direct, identifier not in causes and not pinned,
                identifier)

    def find_matches(self, identifier: str, requirements: Mapping[str, Iterator[AnyReq]],
                     incompatibilities: Mapping[str, Iterator[AnyCand]]) -> list[AnyCand]:
        if identifier == PYTHON:
            # the target's Python is one fixed candidate; once backjumping has marked it
            # incompatible it must stay out, or resolvelib re-pins it forever
            if any(True for _ in incompatibilities[identifier]):
                return []
            preqs = list(requirements[identifier])
            if all(r.admits(self._python_version) for r in preqs if isinstance(r, PythonReq)):
                return [PythonCand(self._python_version)]
            return []
        reqs = [r for r in requirements[identifier] if isinstance(r, Req)]
        base = identifier.split("[", 1)[0]
        if base != identifier:
            reqs += [r for r in requirements.get(base, iter(())) if isinstance(r, Req)]
        name = canonicalize_name(base)
        extras = frozenset(e for r in reqs if r.identifier == identifier for e in r.extras)
        bad = {(c.version, c.link.url if c.link else None) for c in incompatibilities[identifier]
               if isinstance(c, Cand)}
        reqs += list(self._options.constraints.get(name, ()))
        return [c for c in self._matches(name, extras, reqs)
                if (c.version, c.link.url if c.link else None) not in bad]

    def _matches(self, name: NormalizedName, extras: frozenset[str],
                 reqs: Sequence[Req]) -> list[Cand]:
        urls = {r.url for r in reqs if r.url}
        if urls:
            if len(urls) > 1:
                return []
            cand = self._direct_candidate(name, extras, urls.pop())
            return [cand] if all(self._spec_ok(r, cand.version) for r in reqs) else []
        ev = self.evaluation(name)
        best = ev.best_by_version()
        allow_pre = self._prereleases or any(s.prereleases for r in reqs for s in r.specifier) \
            or not any(not v.is_prerelease for v in best)
        out: list[Cand] = []
        for version in sorted(best, reverse=True):
            fc = best[version]
            if version.is_prerelease and not allow_pre:
                continue
            if fc.link.yanked is not None and not all(_is_exact_pin(r) for r in reqs):
                continue
            if not all(self._spec_ok(r, version) for r in reqs):
                continue
            out.append(Cand(name=name, version=version, link=fc.link, extras=extras))
        dist = self._installed.get(name)
        if dist is None or self._options.force_reinstall:
            return out
        if not all(self._spec_ok(r, dist.version) for r in reqs):
            return out
        installed = Cand(name=name, version=dist.version, installed=dist, extras=extras)
        out = [c for c in out if c.version != dist.version]
        if name in self._options.upgrade:
            pos = next((i for i, c in enumerate(out) if c.version < dist.version), len(out))
            out.insert(pos, installed)
        else:
            out.insert(0, installed)
        return out

    def _direct_candidate(self, name: NormalizedName, extras: frozenset[str], url: str) -> Cand:
        from ..vcs import is_vcs_url

        # a git URL keeps its #subdirectory= fragment; others may carry a #hash there
        link = Link(url=url, filename=url.split("#", 1)[0].rsplit("/", 1)[-1],
                    origin="direct") if is_vcs_url(url) else Link.from_url(url, origin="direct")
        editable = name in self._options.editables
        if link.is_wheel:
            from packaging.utils import parse_wheel_filename

            if editable:
                from ..errors import UsageError

                raise UsageError(f"'{name}': an editable install needs a project directory, "
                                 f"not a wheel ({link.filename})")

            wname, version, _, _ = parse_wheel_filename(link.filename)
            if wname != name:
                raise InvalidWheel(f"'{name} @ {url}': the file is a wheel of '{wname}'",
                                   package=name)
            return Cand(name=name, version=version, link=link, extras=extras, direct=True)
        with self._lock:
            known = self._direct.get((name, url))
        if known is not None:
            return Cand(name=name, version=known, link=link, extras=extras, direct=True,
                        editable=editable)
        # A source: its version is whatever its metadata says (an sdist's file name
        # may say it too, but the metadata decides)
        probe = Cand(name=name, version=Version("0"), link=link, direct=True,
                     editable=editable)
        data = self._source_metadata(probe)
        raw = parse_headers(data)
        said_name, said_version = raw.get("name"), raw.get("version")
        try:
            version = Version(said_version or "")
        except InvalidVersion:
            raise InvalidWheel(f"'{name} @ {url}': its metadata has an invalid version "
                               f"{said_version!r}", package=name) from None
        if said_name is None or canonicalize_name(said_name) != name:
            raise InvalidWheel(f"'{name} @ {url}': the project there is named "
                               f"'{said_name}'", package=name)
        with self._lock:
            self._direct[(name, url)] = version
            self._metadata[(name, str(version), link.url)] = (data, raw)
        return Cand(name=name, version=version, link=link, extras=extras, direct=True,
                    editable=editable)

    @staticmethod
    def _spec_ok(req: Req, version: Version) -> bool:
        return req.admits(version)

    def is_satisfied_by(self, requirement: AnyReq, candidate: AnyCand) -> bool:
        if isinstance(requirement, PythonReq):
            return isinstance(candidate, PythonCand) and requirement.admits(candidate.version)
        assert isinstance(candidate, Cand)
        if requirement.url:
            return candidate.link is not None and candidate.link.url == \
                Link.from_url(requirement.url).url
        return self._spec_ok(requirement, candidate.version)

    def get_dependencies(self, candidate: AnyCand) -> list[AnyReq]:
        if isinstance(candidate, PythonCand):
            return []
        with self._lock:
            cached = self._deps.get(candidate)
        if cached is not None:
            return cached
        deps = self._dependencies(candidate)
        with self._lock:
            self._deps[candidate] = deps
        return deps

    def _dependencies(self, cand: Cand) -> list[AnyReq]:
        out: list[AnyReq] = []
        if cand.extras:
            url = cand.link.url if cand.direct and cand.link else None
            out.append(Req(name=cand.name, specifier=SpecifierSet(f"=={cand.version}"), url=url,
                           text=f"{cand.name}=={cand.version}"))
        if self._options.no_deps:
            return out
        deps = self.requirements_of(cand)
        if not cand.direct and cand.installed is None:
            self._refuse_urls_from_an_index(cand, deps)
        self.prefetch([r for r in deps if isinstance(r, Req) and not r.url])
        out.extend(deps)
        return out

    def _refuse_urls_from_an_index(self, cand: Cand, deps: Sequence[AnyReq]) -> None:
        """A distribution from an index may not send pyinst to an arbitrary URL (a git
        repository whose build would run code, say) unless the user named that URL."""
        from ..errors import DirectReferenceRefused

        for dep in deps:
            if isinstance(dep, Req) and dep.url and dep.url not in self._options.allowed_urls:
                raise DirectReferenceRefused(
                    f"'{cand.name}' {cand.version} from an index depends on a direct "
                    f"reference ({dep.name} @ {dep.url}); pyinst follows such references "
                    f"only when you give them yourself: add '{dep.name} @ {dep.url}' to "
                    "your requirements or constraints", package=cand.name)

    def requirements_of(self, cand: Cand) -> list[AnyReq]:
        """Dependencies from the candidate's metadata (for its extras, or the base)."""
        raw = self._metadata_parsed(cand)[1]
        out: list[AnyReq] = []
        if not cand.extras and raw.get("requires_python") and cand.installed is None:
            with contextlib.suppress(InvalidSpecifier):
                out.append(PythonReq(SpecifierSet(raw["requires_python"])))
        for line in raw.get("requires_dist", []):
            try:
                req = Requirement(line)
            except InvalidRequirement as exc:
                raise InvalidWheel(f"'{cand.name}' {cand.version} has an invalid dependency "
                                   f"'{line}': {exc}", package=cand.name) from exc
            if not self._wanted(req, cand.extras):
                continue
            out.append(to_req(req))
        return out

    def _wanted(self, req: Requirement, extras: frozenset[str]) -> bool:
        if not extras:
            return req.marker is None or bool(req.marker.evaluate({**self._env, "extra": ""}))
        if req.marker is None:
            return False
        # Only dependencies that an extra brings in (the base brings in the rest)
        if req.marker.evaluate({**self._env, "extra": ""}):
            return False
        return any(req.marker.evaluate({**self._env, "extra": e}) for e in extras)


class _NotOnAGuess(Exception):
    """Metadata that looking ahead does not fetch (a whole wheel, a build)."""


def _is_exact_pin(req: Req) -> bool:
    return any(s.operator in ("==", "===") and "*" not in s.version for s in req.specifier)


__all__ = ["PYTHON", "Cand", "Provider", "PythonCand", "PythonReq", "Req",
           "ResolveOptions", "to_req"]
