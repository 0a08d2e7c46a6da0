"""The `Installer`: owns the HTTP client, the cache and a thread pool; no global state."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Union

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

from . import __version__
from .cache import Cache, cache_writes
from .config import Config, LinkMode
from .errors import InvalidWheel, PyinstError
from .events import Event, EventSink, ResolveFinished, ResolveStarted, TargetFinished, ignore
from .models import InstallPlan, InstallResult, Link, Pin, Resolution
from .reqfile import UserRequirement, parse_requirement
from .target import Target

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

    import httpx
    from packaging.pylock import Pylock

    from .apply import PreparedWheel
    from .fetch import Fetcher
    from .index.client import IndexClient
    from .memo import ResolutionMemo
    from .models import InstalledDistribution
    from .sources import Sources
    from .unpacked import UnpackedWheel
    from .workers import BiggestFirst, UnpackWorkers

RequirementLike = Union[str, Requirement, UserRequirement]


def _user_requirements(items: Iterable[RequirementLike]) -> list[UserRequirement]:
    out = []
    for item in items:
        if isinstance(item, UserRequirement):
            out.append(item)
        elif isinstance(item, Requirement):
            out.append(UserRequirement(item))
        else:
            out.append(UserRequirement(parse_requirement(item, base_dir=Path.cwd())))
    return out


class _Session:
    """One top-level call's view: a fresh index-page memo over the shared HTTP client,
    cache and pool (so a long-lived Installer never serves stale project pages), and
    the call's source builds (made on first need; `close()` removes their scratch)."""

    def __init__(self, client: IndexClient, fetcher: Fetcher, pool: ThreadPoolExecutor,
                 cache_root: Path, make_sources: Callable[[_Session], Sources],
                 unpack_slots: threading.Semaphore, unpack_threads: int = 2,
                 make_workers: Callable[[], UnpackWorkers | None] = lambda: None) -> None:
        self.client = client
        self.fetcher = fetcher
        self.pool = pool
        #: wheels unpacked at once: unpacking is CPU work, and threads beyond the cores
        #: only queue for the GIL (measured: 8 at once took a third longer than 2)
        self.unpack_slots = unpack_slots
        #: the lanes of threads that unpack: here (``unpack_threads`` of them, or one
        #: beside workers), and by the worker processes (one thread waiting for each).
        #: A downloaded wheel is handed to one, and the pool's thread goes on to the
        #: next download (waiting there for its unpacking, the pool's threads held up
        #: the downloads: the biggest wheel started a second late, measured). Made on
        #: the first unpack.
        self._unpack_threads = unpack_threads
        self._here: BiggestFirst | None = None
        self._there: BiggestFirst | None = None
        #: worker processes for big wheels: the pool is made on the first unpack (a call
        #: that unpacks nothing never imports it), its processes on the first big wheel
        self._make_workers = make_workers
        self._workers: UnpackWorkers | None = None
        self._workers_made = False
        self.cache_root = cache_root
        self._make_sources = make_sources
        self._sources: Sources | None = None
        #: wheels being unpacked now (or waiting for a thread), for whoever asks again
        self._unpacking: dict[Path, Future[UnpackedWheel]] = {}
        #: this call's wheels on their way (asked for early, while resolving, and again
        #: to install): downloaded and verified, then unpacked
        self._wheels: dict[tuple[str, str], Future[tuple[Path, UnpackedWheel]]] = {}
        self._closed = False
        self._lock = threading.Lock()

    @property
    def sources(self) -> Sources:
        with self._lock:
            if self._sources is None:
                self._sources = self._make_sources(self)
            return self._sources

    def cached(self, pin: Pin, link: Link) -> UnpackedWheel | None:
        """The wheel's unpacked tree when the index's sha256 names one in the cache (made
        from a file that had that very sha256, so a lock's or --hash's sha256 that names
        it is checked too): the wheel is not read at all."""
        from .unpacked import cached_unpacked

        ready = cached_unpacked(pin, self.cache_root)
        allowed = pin.allowed_hashes
        if ready is None or (allowed and link.hashes.get("sha256") not in
                             allowed.get("sha256", ())):
            return None
        return ready

    def wheel(self, pin: Pin, link: Link) -> Future[tuple[Path, UnpackedWheel]]:
        """``link``'s wheel, verified and unpacked: downloaded on the pool, then handed to
        the unpacking threads. Asked for again in this call, the same future (a failed
        one is tried again)."""
        from concurrent.futures import Future

        key = (link.url, repr(sorted(pin.allowed_hashes.items())))
        with self._lock:
            known = self._wheels.get(key)
            if known is not None and not (known.done() and (
                    known.cancelled() or known.exception() is not None)):
                return known
            future = self._wheels[key] = Future()
        try:
            self.pool.submit(self._download, pin, link, future)
        except RuntimeError as exc:  # the Installer is closing
            future.set_exception(exc)
        return future

    def _download(self, pin: Pin, link: Link,
                  future: Future[tuple[Path, UnpackedWheel]]) -> None:
        try:
            ready = self.cached(pin, link)  # unpacked meanwhile (another call, process)
            if ready is not None:
                future.set_result((self.fetcher.cached_path(link), ready))
                return
            path = self.fetcher.wheel(link, package=pin.name, allowed=pin.allowed_hashes)
            unpacking = self._unpack_soon(pin, path)
        except Exception as exc:
            future.set_exception(exc)
            return

        def done(unpacked: Future[UnpackedWheel]) -> None:
            if unpacked.cancelled():  # the call ended first
                future.cancel()
            elif (exc := unpacked.exception()) is not None:
                future.set_exception(exc)
            else:
                future.set_result((path, unpacked.result()))

        unpacking.add_done_callback(done)

    def _unpack_soon(self, pin: Pin, wheel: Path) -> Future[UnpackedWheel]:
        """``wheel`` to be unpacked into the cache (or the unpacking of it already under
        way). A big wheel goes to the worker processes' lane (by default only when
        another wheel is being unpacked, or waits to be: alone, it is unpacked here
        sooner than a worker starts), and so does a small one once workers run (here
        it would contend with the downloads and the resolver for the GIL); the others
        (and all, without workers) go to this process's lane, one per core at a time.
        In each lane the biggest goes first."""
        import functools

        from .workers import BIG_WHEEL, BiggestFirst

        size = wheel.stat().st_size
        with self._lock:
            running = self._unpacking.get(wheel)
            if running is not None:
                return running
            if self._closed:  # a download begun early, for a pin given up since
                raise RuntimeError("this call is over")
            if not self._workers_made:  # closed: made already, and dropped
                self._workers, self._workers_made = self._make_workers(), True
            workers = self._workers
            if self._here is None:
                # With worker processes taking the big wheels, this process (downloading
                # too) unpacks one wheel at a time: a second thread only contended for
                # the GIL (measured: a cold install from the lock 2.41 -> 2.29 s, 4%
                # less CPU, medians of 10). Without workers, one per core.
                self._here = BiggestFirst(1 if workers is not None else self._unpack_threads,
                                          "pyinst-unpack")
            if workers is None or (size < BIG_WHEEL and not workers.started) \
                    or not (self._unpacking or workers.eager):
                workers = None
                lane = self._here
            else:
                if self._there is None:
                    self._there = BiggestFirst(workers.size, "pyinst-unpack-worker")
                lane = self._there
            running = self._unpacking[wheel] = lane.submit(
                size, functools.partial(self._unpack, pin, wheel, workers))
            return running

    def _unpack(self, pin: Pin, wheel: Path, workers: UnpackWorkers | None
                ) -> UnpackedWheel:
        from .unpack import unpack  # only when a wheel must be unpacked

        try:
            if workers is not None:
                done = workers.unpack(pin, wheel, self.cache_root)
                if done is not None:
                    return done
            # (no worker could: a thread unpacks it after all)
            with self.unpack_slots:
                return unpack(pin, wheel, self.cache_root)
        finally:
            with self._lock:
                del self._unpacking[wheel]

    def close_workers(self) -> None:
        """Stop the worker processes now (a busy one finishes its wheel first), not at
        the end of the call: idle, they hold tens of megabytes while the wheels are
        linked and compiled. A wheel unpacked later in this session unpacks in a thread."""
        with self._lock:
            workers, self._workers, self._workers_made = self._workers, None, True
        if workers is not None:
            workers.close()

    def close(self) -> None:
        with self._lock:
            sources, self._sources = self._sources, None
        if sources is not None:
            sources.close()
        with self._lock:
            lanes, self._here, self._there, self._closed = (self._here, self._there), \
                None, None, True
        for lane in lanes:  # what is being unpacked finishes; what waits is dropped
            if lane is not None:
                lane.shutdown()
        self.close_workers()


@dataclass(frozen=True)
class _Request:
    """What one resolve or install call asks for, parsed once."""

    requirements: list[UserRequirement]
    constraints: list[UserRequirement]
    upgrade: bool
    force_reinstall: bool
    no_deps: bool
    #: a last word on each fetched wheel before it is installed (bootstrap names pip's
    #: commands with it)
    adjust: Callable[[PreparedWheel], PreparedWheel] | None = None
    #: hash-checking mode (``--require-hashes``); also on when any requirement has a hash
    require_hashes: bool = False

    @property
    def hash_mode(self) -> bool:
        return self.require_hashes or any(
            ur.hashes for ur in [*self.requirements, *self.constraints])


class Installer:
    """Resolves and installs distributions. Use as a context manager.

    Many `Installer`s may run in many threads, and one `Installer` may be used by many
    threads at once. Each owns its HTTP client, its cache handle and its thread pool.
    ``on_event`` receives progress events (see `pyinst.events`); calls to it are
    serialised, so it need not be thread-safe.
    """

    def __init__(self, config: Config | None = None, *, on_event: EventSink | None = None
                 ) -> None:
        self.config = config or Config()
        self._sink = on_event or ignore
        self._emit_lock = threading.Lock()
        self._lock = threading.Lock()
        self._http: httpx.Client | None = None
        self._cache: Cache | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._unpack_slots = threading.BoundedSemaphore(self._per_core())
        self._tmp_cache: str | None = None
        self._closed = False

    # -- lifetime ------------------------------------------------------------------

    def __enter__(self) -> Installer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker threads, close connections, drop a private cache.

        The pool is shut down without holding the Installer's lock: a task still
        running may need that lock (to get the HTTP client) to finish.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            http, self._http = self._http, None
            tmp, self._tmp_cache = self._tmp_cache, None
            self._cache = None
        if http is not None:
            http.close()
        if tmp is not None:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)

    def _emit(self, event: Event) -> None:
        with self._emit_lock:
            self._sink(event)

    def _session(self, config: Config | None = None) -> _Session:
        """A session over the shared client, cache and pool; ``config`` may narrow where
        it looks (bootstrap's offline sources), never how the shared parts were made."""
        from concurrent.futures import ThreadPoolExecutor

        from .fetch import Fetcher
        from .index.client import IndexClient

        with self._lock:
            if self._closed:
                raise RuntimeError("this Installer is closed")
            if self._cache is None or self._pool is None:
                cfg = self.config
                if cfg.cache_dir is not None:
                    root = Path(cfg.cache_dir)
                else:
                    import tempfile

                    with cache_writes(tempfile.gettempdir(), "making a throw-away cache"):
                        self._tmp_cache = tempfile.mkdtemp(prefix="pyinst-cache-")
                    root = Path(self._tmp_cache)
                self._cache = Cache(root)
                self._pool = ThreadPoolExecutor(max_workers=cfg.max_workers,
                                                thread_name_prefix="pyinst")
            client = IndexClient(config or self.config, self._http_client, self._cache)
            return _Session(client, Fetcher(client, self._cache, self._emit), self._pool,
                            self._cache.root, self._make_sources, self._unpack_slots,
                            self._per_core(), self._workers)

    def _workers(self) -> UnpackWorkers | None:
        """Worker processes for one call's big wheels (none are started until one is
        needed), or ``None`` for threads only."""
        from .workers import UnpackWorkers, default_python

        cfg = self.config
        size = cfg.unpack_processes
        if size is None:
            size = self._per_core()
        python = cfg.worker_python or default_python()
        if (size < 2 and cfg.unpack_processes is None) or size < 1 or python is None:
            return None
        return UnpackWorkers(python, size, eager=cfg.unpack_processes is not None)

    @contextlib.contextmanager
    def _call(self, config: Config | None = None) -> Iterator[_Session]:
        """A session for one top-level call, closed (its builds removed) at the end."""
        session = self._session(config)
        try:
            yield session
        finally:
            session.close()

    def _make_sources(self, session: _Session) -> Sources:
        from .build import BuildOptions, SourceBuilder
        from .sources import Sources

        cfg = self.config
        constraints = _user_requirements(cfg.build_constraints)

        def provision(requirements: Sequence[str], target: Target) -> None:
            # build environments are filled by the same pipeline, cache and pool
            self._install(session, _Request(_user_requirements(requirements), constraints,
                                            False, False, False), target)

        builder = SourceBuilder(
            session.cache_root / "tmp", provision,
            BuildOptions(isolation=cfg.build_isolation,
                         config_settings=dict(cfg.config_settings),
                         constraints=cfg.build_constraints),
            base_environ=cfg.build_environ)
        return Sources(session.fetcher, session.cache_root, builder)

    def _http_client(self) -> httpx.Client:
        """The shared HTTP client, made on first use (importing httpx and loading the
        trust store only when something must really be fetched)."""
        with self._lock:
            if self._http is None:
                import httpx

                from .auth import IndexAuth, ssl_context
                from .errors import UsageError
                from .index.network import SharedLookups, share_lookups
                from .redact import redact

                cfg = self.config
                auth = IndexAuth(index_urls=(*cfg.index_urls, *cfg.find_links),
                                 netrc_file=cfg.netrc_file,
                                 keyring_command=cfg.keyring_command)
                try:
                    self._http = httpx.Client(
                        timeout=httpx.Timeout(cfg.timeout),
                        verify=ssl_context(cfg.ca_bundle),
                        trust_env=cfg.trust_env and cfg.proxy is None,
                        proxy=cfg.proxy,
                        auth=auth,
                        limits=httpx.Limits(max_connections=max(4, cfg.max_workers * 2),
                                            max_keepalive_connections=max(4, cfg.max_workers)),
                        headers={"User-Agent": f"pyinst/{__version__}"},
                    )
                except ValueError as exc:  # httpx's word for a proxy URL it cannot use
                    raise UsageError(f"cannot use the proxy {redact(cfg.proxy or '')}: "
                                     f"{exc}") from None
                # one address look-up per host, not one per connection
                share_lookups(self._http, SharedLookups())
            return self._http

    # -- the pipeline -------------------------------------------------------------------

    def resolve(
        self,
        requirements: Iterable[RequirementLike],
        target: Target,
        *,
        constraints: Iterable[RequirementLike] = (),
        upgrade: bool = False,
        force_reinstall: bool = False,
        no_deps: bool = False,
    ) -> Resolution:
        """Pin every distribution the requirements need on ``target``."""
        request = _Request(_user_requirements(requirements), _user_requirements(constraints),
                           upgrade, force_reinstall, no_deps)
        with self._call() as session:
            return self._resolve(session, request, target)

    def _resolve(self, session: _Session, request: _Request, target: Target, *,
                 prefetch_wheels: bool = False) -> Resolution:
        from .installed import installed_distributions, read_metadata
        from .unpacked import has_unpacked

        reqs = self._name_local_projects(session, request.requirements, target)
        cons = request.constraints
        if request.hash_mode:
            _check_pinned_and_hashed(reqs, cons)
        t0 = time.perf_counter()
        self._emit(ResolveStarted(target.describe_location()))
        installed = installed_distributions(target)
        memo, key = self._memo(session, request, reqs, cons, target, installed)
        if key is not None and not self.config.refresh:
            remembered = memo.load(
                key, metadata=lambda link, name: session.fetcher.cached_metadata(link),
                installed_metadata=lambda name: (read_metadata(installed[name])
                                                 if name in installed else None))
            if remembered is not None:
                self._emit(ResolveFinished(target.describe_location(), len(remembered),
                                           time.perf_counter() - t0, remembered=True))
                if request.hash_mode:
                    _check_every_file_hashed(remembered)
                return remembered
        # the resolver itself is imported only when a remembered answer will not do
        from .memo import rememberable
        from .resolve import Provider, ResolveOptions, resolve_requirements, to_req
        from .resolve.provider import Cand

        hashes: dict[NormalizedName, dict[str, list[str]]] = {}
        for ur in [*reqs, *cons]:
            if ur.hashes:
                slot = hashes.setdefault(canonicalize_name(ur.requirement.name), {})
                for algo, digests in ur.hashes.items():
                    slot.setdefault(algo, []).extend(digests)
        constraint_map: dict[NormalizedName, list[Any]] = {}
        env = {**target.markers, "extra": ""}
        for c in cons:
            if c.requirement.marker is None or c.requirement.marker.evaluate(env):
                r = to_req(c.requirement)
                constraint_map.setdefault(r.name, []).append(r)
        options = ResolveOptions(
            upgrade=frozenset(canonicalize_name(r.requirement.name) for r in reqs)
            if request.upgrade else frozenset(),
            force_reinstall=request.force_reinstall,
            no_deps=request.no_deps,
            allow_prereleases=self.config.allow_prereleases,
            constraints=constraint_map,
            hashes=hashes,
            editables=frozenset(canonicalize_name(r.requirement.name) for r in reqs
                                if r.editable),
            allowed_urls=frozenset(r.requirement.url for r in [*reqs, *cons]
                                   if r.requirement.url),
        )
        on_pin = None
        if prefetch_wheels:
            def on_pin(cand: Cand) -> None:
                # Start downloading and unpacking the pinned wheel now; the real fetch
                # later asks the session for the same wheel, and waits for it (errors
                # surface there, with the pin's context).
                assert cand.link is not None
                pin = Pin(name=cand.name, version=cand.version, link=cand.link,
                          allowed_hashes={k: tuple(v) for k, v in
                                          hashes.get(cand.name, {}).items()})
                if not has_unpacked(pin, session.cache_root):  # else nothing to do early
                    session.wheel(pin, cand.link)

        provider = Provider(client=session.client, fetcher=session.fetcher, target=target,
                            installed=installed, options=options,
                            binary=self.config.binary,
                            config_prereleases=self.config.allow_prereleases,
                            sources=lambda: session.sources,
                            background=session.pool.submit, on_pin=on_pin)
        resolution = resolve_requirements(provider, [r.requirement for r in reqs],
                                          env=target.markers)
        if key is not None and rememberable(resolution):
            stamps = session.client.page_stamps()
            if stamps is not None:
                memo.store(key, resolution, stamps)
        self._emit(ResolveFinished(target.describe_location(), len(resolution),
                                   time.perf_counter() - t0))
        if request.hash_mode:
            _check_every_file_hashed(resolution)
        return resolution

    def _memo(self, session: _Session, request: _Request, reqs: Sequence[UserRequirement],
              cons: Sequence[UserRequirement], target: Target,
              installed: Mapping[NormalizedName, InstalledDistribution]
              ) -> tuple[ResolutionMemo, str | None]:
        """The resolution memo and this request's key in it (``None`` when the request
        names URLs, paths or editables, or uses find-links: not remembered)."""
        from .memo import ResolutionMemo, request_key

        cfg = self.config
        memo = ResolutionMemo(Cache(session.cache_root), offline=cfg.offline)
        if cfg.find_links or any(r.editable or r.requirement.url for r in [*reqs, *cons]):
            return memo, None
        key = request_key(
            requirements=[(str(r.requirement), r.editable, r.hashes) for r in reqs],
            constraints=[(str(c.requirement), c.editable, c.hashes) for c in cons],
            options={"upgrade": request.upgrade, "force_reinstall": request.force_reinstall,
                     "no_deps": request.no_deps, "hash_mode": request.hash_mode,
                     "prereleases": cfg.allow_prereleases,
                     "only_binary": sorted(cfg.binary.only_binary),
                     "no_binary": sorted(cfg.binary.no_binary),
                     "indexes": list(cfg.index_urls), "strategy": cfg.index_strategy.value},
            markers=target.markers, tags=target.interpreter.tags,
            installed=[(d.name, str(d.version), str(d.dist_info)) for d in installed.values()])
        return memo, key

    def _per_core(self) -> int:
        """At most one per core (and no more than ``max_workers``): for CPU work, where
        more only share the cores."""
        return max(1, min(self.config.max_workers, _cores()))

    def _apply_workers(self) -> int:
        """Threads for linking files into a target: about one per core (measured: more
        threads than cores make it slower, the work being mostly system time)."""
        return min(self._per_core(), 4)

    def _compile(self, wheels: Sequence[PreparedWheel], target: Target) -> None:
        if self.config.compile_bytecode:
            from .apply import python_files
            from .bytecode import compile_files

            # one compiling process per core: more only share the cores, each holding
            # an interpreter's memory
            compile_files(target.python, [f for w in wheels for f in python_files(w, target)],
                          workers=self._per_core())

    @staticmethod
    def _name_local_projects(session: _Session, reqs: list[UserRequirement], target: Target
                             ) -> list[UserRequirement]:
        """Local projects that do not state their name (a setup.py-only project, a
        dynamic name) are named by their metadata, prepared before resolution."""
        import dataclasses

        from .metadata import parse_headers
        from .reqfile import is_unnamed

        out = []
        for ur in reqs:
            req = ur.requirement
            if is_unnamed(req):
                assert req.url is not None
                link = Link.from_url(req.url, origin="direct")
                where = link.url.removeprefix("file://")
                data = session.sources.metadata(link, where, target, editable=ur.editable)
                name = parse_headers(data).get("name")
                if not name:
                    raise InvalidWheel(f"the project at {where} has metadata without a name",
                                       package=where)
                named = Requirement(str(req).replace(req.name, name, 1))
                ur = dataclasses.replace(ur, requirement=named)
            out.append(ur)
        return out

    def plan(self, resolution: Resolution, target: Target) -> InstallPlan:
        from .installed import installed_distributions
        from .plan import make_plan

        return make_plan(resolution, installed_distributions(target))

    def fetch(self, pins: Sequence[Pin], target: Target | None = None
              ) -> list[PreparedWheel]:
        """Download (in parallel) and verify the wheels of ``pins``; pins of sources are
        built for ``target`` (required then)."""
        with self._call() as session:
            return self._fetch(session, pins, target)

    def _fetch(self, session: _Session, pins: Sequence[Pin], target: Target | None
               ) -> list[PreparedWheel]:
        """Wheels download on the shared pool and unpack on the session's unpacking
        threads; sources build on threads of their own (a build fills its environment
        through that pool, and must not wait for it from inside it)."""
        todo = [p for p in pins if p.link is not None]
        # what is not a wheel is built (importing the source machinery only then)
        sources = [p for p in todo if p.link is not None and not p.link.is_wheel]
        # Wheels unpacked in the cache already are taken here, on this thread: reading
        # a manifest is a moment of CPU, and a pool's threads would only queue for the
        # GIL (measured: several times slower than in turn)
        ready: dict[str, PreparedWheel] = {}
        wheels: dict[str, Future[tuple[Path, UnpackedWheel]]] = {}
        futures: dict[str, Future[PreparedWheel]] = {}
        for p in todo:
            if p in sources or p.link is None:
                continue
            cached = session.cached(p, p.link)
            if cached is not None:
                ready[p.name] = self._prepared(p, session.fetcher.cached_path(p.link), cached)
            else:
                wheels[p.name] = session.wheel(p, p.link)
        if sources:
            if target is None:
                raise ValueError("building from source needs the target to build for")
            chain = session.sources.chain()

            def build(pin: Pin) -> PreparedWheel:
                with session.sources.in_chain(chain):
                    return self._prepare_source(session, pin, target)

            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=min(4, len(sources)),
                                    thread_name_prefix="pyinst-build") as builders:
                for p in sources:
                    futures[p.name] = builders.submit(build, p)
        out = []
        for p in todo:
            if p.name in ready:
                out.append(ready[p.name])
            elif p.name in wheels:
                out.append(self._prepared(p, *wheels[p.name].result()))
            else:
                out.append(futures[p.name].result())
        return out

    @staticmethod
    def _prepared(pin: Pin, path: Path, unpacked: UnpackedWheel) -> PreparedWheel:
        """A verified, unpacked wheel for ``pin``, whose metadata must be the one the
        resolver went by."""
        from .apply import PreparedWheel

        _same_metadata(pin, unpacked)
        if pin.direct and pin.link is not None and not pin.link.hashes:
            pin = _with_sha256(pin, unpacked.sha256)  # direct_url.json records what it was
        return PreparedWheel(pin=pin, path=path, unpacked=unpacked)

    @staticmethod
    def _prepare_source(session: _Session, pin: Pin, target: Target) -> PreparedWheel:
        """Build (or take from the built-wheel cache) a wheel of a source pin, then
        unpack it like any wheel; the pin keeps the source's link for direct_url.json."""
        import dataclasses

        from .apply import PreparedWheel
        from .index.client import path_to_url
        from .unpack import unpack

        source = pin.link
        assert source is not None
        wheel = session.sources.wheel(source, pin.name, target, editable=pin.editable,
                                      allowed=pin.allowed_hashes)
        commit = session.sources.commits.get(source.url)
        if commit is not None:
            pin = dataclasses.replace(pin, vcs_commit=commit)
        if pin.direct and not source.hashes:
            digest = session.sources.archive_sha256(source, pin.allowed_hashes)
            if digest is not None:
                pin = _with_sha256(pin, digest)
        as_wheel = dataclasses.replace(pin, link=Link.from_url(path_to_url(wheel)),
                                       allowed_hashes={})
        # wheels of local trees change with their files: unpacked for this call only
        cacheable = wheel.is_relative_to(session.cache_root / "built")
        root = session.cache_root if cacheable else session.sources.builder.scratch()
        return PreparedWheel(pin=pin, path=wheel, unpacked=unpack(as_wheel, wheel, root),
                             ephemeral=not cacheable)

    def install(
        self,
        requirements: Iterable[RequirementLike],
        target: Target,
        *,
        constraints: Iterable[RequirementLike] = (),
        upgrade: bool = False,
        force_reinstall: bool = False,
        no_deps: bool = False,
        dry_run: bool = False,
        require_hashes: bool = False,
    ) -> InstallResult:
        """Resolve, fetch and install; the target is unchanged if anything fails.

        ``require_hashes`` (or any requirement with hashes) turns on hash-checking mode:
        every requirement pinned with ``==`` and hashed, every file checked."""
        request = _Request(_user_requirements(requirements), _user_requirements(constraints),
                           upgrade, force_reinstall, no_deps, require_hashes=require_hashes)
        with self._call() as session:
            return self._install(session, request, target, dry_run=dry_run, alone=True)

    def _install(self, session: _Session, request: _Request, target: Target, *,
                 dry_run: bool = False, alone: bool = False) -> InstallResult:
        """``alone``: the only install of its session (not a build environment's, nor
        one of several targets'), which may stop the workers once its wheels are in."""
        # The lock spans resolve to apply: the plan is made against what the target
        # holds, and nobody else may change that before the plan is applied.
        with contextlib.nullcontext() if dry_run else target.lock(self.config.lock_timeout):
            if not dry_run:
                _recover(target)
            t0 = time.perf_counter()
            resolution = self._resolve(session, request, target, prefetch_wheels=not dry_run)
            plan = self.plan(resolution, target)
            t1 = time.perf_counter()
            timings = {"resolve": t1 - t0}
            if not dry_run:
                from .apply import apply_plan

                wheels = self._fetch(session, plan.to_install, target)
                if alone:
                    session.close_workers()
                if request.adjust is not None:
                    wheels = [request.adjust(w) for w in wheels]
                t2 = time.perf_counter()
                apply_plan(plan, wheels, target, self._emit, LinkMode(self.config.link_mode),
                           self._apply_workers(), overwrite=request.force_reinstall)
                self._compile(wheels, target)
                t3 = time.perf_counter()
                timings.update(prepare=t2 - t1, install=t3 - t2)
        return InstallResult(
            installed=tuple((p.name, str(p.version)) for p in plan.to_install),
            removed=tuple((d.name, str(d.version)) for d in plan.to_remove),
            already_satisfied=tuple((p.name, str(p.version)) for p in plan.already_satisfied),
            plan=plan,
            resolution=resolution,
            dry_run=dry_run,
            timings=timings,
        )

    def bootstrap(
        self,
        target: Target,
        *,
        version: str | None = None,
        offline: bool = False,
        upgrade: bool = False,
        root: str | os.PathLike[str] | None = None,
        user: bool = False,
        altinstall: bool = False,
        default_pip: bool = False,
    ) -> InstallResult:
        """Install pip into ``target`` as ``python -m ensurepip`` would, running no pip code.

        The options mean what ensurepip's do. The wheel is the newest pip (matching
        ``version``, a version or a specifier) whose Requires-Python admits the target,
        from the configured indexes; with ``offline``, the pip wheel bundled with the
        target interpreter (``ensurepip/_bundled`` or ``WHEEL_PKG_DIR``), else one in
        the cache, without any network request. An installed pip that satisfies
        ``version`` is left alone unless ``upgrade``; the result then lists it in
        ``already_satisfied``.
        """
        from packaging.requirements import Requirement

        from .bootstrap import pip_requirement, script_names, with_pip_scripts
        from .errors import (
            IndexFetchError,
            NoCompatibleDistribution,
            NoMatchingVersion,
            ProjectNotFound,
        )
        from .installed import installed_distributions

        names = script_names(target, altinstall=altinstall, default_pip=default_pip)
        where = target.variant(user=user, root=root)
        req = Requirement(pip_requirement(version))
        present = installed_distributions(where).get(canonicalize_name("pip"))
        if present is not None and not upgrade and req.specifier.contains(
                present.version, prereleases=True):
            return InstallResult(installed=(), removed=(),
                                 already_satisfied=(("pip", str(present.version)),))
        request = _Request([UserRequirement(req)], [], upgrade, False, True,
                           adjust=lambda w: with_pip_scripts(w, names))
        if not offline:
            with self._call() as session:
                return self._install(session, request, where)
        bundled = where.interpreter.bundled_wheel_dirs
        if bundled:
            local = self.config.with_(index_urls=(), find_links=bundled, offline=True)
            try:
                with self._call(local) as session:
                    return self._install(session, request, where)
            except (ProjectNotFound, NoMatchingVersion, NoCompatibleDistribution):
                pass  # none bundled that fits: try the cache
        try:
            with self._call(self.config.with_(offline=True)) as session:
                return self._install(session, request, where)
        except (ProjectNotFound, NoMatchingVersion, NoCompatibleDistribution,
                IndexFetchError) as exc:
            looked = ", ".join(bundled) if bundled else "no ensurepip wheel directory"
            raise PyinstError(
                f"no {req} wheel for {where.describe()} offline: none bundled with the "
                f"interpreter ({looked}) and none in the cache ({exc}); run without "
                "--offline to fetch one", package="pip") from exc

    def read_url(self, url: str) -> bytes:
        """The body at an http(s) ``url`` (a requirements file, say), fetched as index
        pages are: with the configured credentials, proxy, certificates, timeout and
        retries, and not at all offline. Not cached."""
        with self._call() as session:
            return session.client.read_bytes(url)

    def lock(
        self,
        requirements: Iterable[RequirementLike],
        target: Target,
        *,
        constraints: Iterable[RequirementLike] = (),
        lock_dir: str | os.PathLike[str] | None = None,
    ) -> Pylock:
        """A PEP 751 lock of what ``requirements`` resolve to on ``target`` (what the
        target has installed is ignored). Paths in it are relative to ``lock_dir``."""
        from .lock import make_lock
        from .sources import is_source_link

        request = _Request(_user_requirements(requirements), _user_requirements(constraints),
                           False, True, False)
        with self._call() as session:
            resolution = self._resolve(session, request, target)
            sizes: dict[str, int] = {}
            pins = {}
            for pin in resolution:
                link = pin.link
                if link is None or not (link.is_wheel or is_source_link(link)):
                    continue
                local = session.fetcher.cached_path(link)
                strong = any(k in ("sha256", "sha384", "sha512") for k in link.hashes)
                if not strong and not link.url.startswith("git+") and (
                        link.is_wheel or link.filename.endswith((".tar.gz", ".zip"))):
                    # the index gave no usable hash: the file itself says
                    local = session.fetcher.wheel(link, package=pin.name)
                    from .cache import file_sha256

                    pin = _with_sha256(pin, file_sha256(local))
                if link.size is None and local.is_file():
                    sizes[link.url] = local.stat().st_size
                pins[pin.name] = pin
            if pins:
                import dataclasses

                resolution = dataclasses.replace(
                    resolution, pins={n: pins.get(n, p) for n, p in resolution.pins.items()})
            commits = dict(session.sources.commits) if any(
                p.link is not None and p.link.url.startswith("git+") for p in resolution) \
                else {}
            return make_lock(resolution, target,
                             lock_dir=Path(lock_dir) if lock_dir else Path.cwd(),
                             sizes=sizes, commits=commits,
                             created_by=f"pyinst {__version__}")

    def install_lock(
        self,
        lock: str | os.PathLike[str] | Pylock,
        target: Target,
        *,
        extras: Iterable[str] = (),
        groups: Iterable[str] | None = None,
        sync: bool = False,
        keep: Iterable[str] = (),
        lock_dir: str | os.PathLike[str] | None = None,
        dry_run: bool = False,
    ) -> InstallResult:
        """Install exactly what a PEP 751 lock selects for ``target``: no resolution, no
        index page, every file hash-checked. With ``sync``, also remove what the lock
        does not list (but not the distributions named in ``keep``)."""
        from .apply import apply_plan
        from .installed import installed_distributions
        from .lock import load_lock, pins_from_lock, plan_lock

        if isinstance(lock, (str, os.PathLike)):
            path = Path(lock)
            pylock = load_lock(path)
            base = Path(lock_dir) if lock_dir else path.resolve().parent
        else:
            pylock, base = lock, Path(lock_dir) if lock_dir else Path.cwd()
        pins = pins_from_lock(pylock, base, target, extras=list(extras),
                              groups=list(groups) if groups is not None else None)
        with self._call() as session, \
                contextlib.nullcontext() if dry_run else target.lock(self.config.lock_timeout):
            if not dry_run:
                _recover(target)
            t0 = time.perf_counter()
            pins = [self._versioned(session, p, target) for p in pins]
            plan = plan_lock(pins, installed_distributions(target), sync=sync, keep=list(keep))
            timings = {"resolve": time.perf_counter() - t0}
            if not dry_run:
                wheels = self._fetch(session, plan.to_install, target)
                session.close_workers()
                t2 = time.perf_counter()
                apply_plan(plan, wheels, target, self._emit, LinkMode(self.config.link_mode),
                           self._apply_workers())
                self._compile(wheels, target)
                timings.update(prepare=t2 - t0 - timings["resolve"],
                               install=time.perf_counter() - t2)
        return InstallResult(
            installed=tuple((p.name, str(p.version)) for p in plan.to_install),
            removed=tuple((d.name, str(d.version)) for d in plan.to_remove),
            already_satisfied=tuple((p.name, str(p.version)) for p in plan.already_satisfied),
            plan=plan, resolution=Resolution(pins={p.name: p for p in pins}),
            dry_run=dry_run, timings=timings)

    @staticmethod
    def _versioned(session: _Session, pin: Pin, target: Target) -> Pin:
        """A lock may leave out the version of a directory or git package: its metadata
        says it."""
        import dataclasses

        from packaging.version import Version

        from .metadata import parse_headers

        if pin.version != Version("0") or pin.link is None or pin.link.is_wheel:
            return pin
        raw = parse_headers(session.sources.metadata(pin.link, pin.name, target,
                                                     editable=pin.editable))
        return dataclasses.replace(pin, version=Version(raw.get("version") or "0"))

    def outdated(self, target: Target) -> list[tuple[str, str, str, str]]:
        """(name, installed version, newest version, "wheel"/"sdist") for each installed
        distribution the indexes have something newer of (for the target; pre-releases
        only with ``Config(allow_prereleases=True)``)."""
        from packaging.version import InvalidVersion, Version

        from .errors import PyinstError
        from .evaluate import evaluate_links, tag_ranks
        from .installed import installed_distributions

        installed = installed_distributions(target)
        ranks = tag_ranks(target.tags)
        out: list[tuple[str, str, str, str]] = []
        with self._call() as session:
            def newest(name: NormalizedName) -> tuple[Version, str] | None:
                try:
                    page = session.client.project_page(name)
                except PyinstError:
                    return None
                ev = evaluate_links(name, page.links, ranks=ranks,
                                    python_version=target.interpreter.python_version,
                                    binary=self.config.binary)
                best = ev.best_by_version()
                versions = [v for v in best if self.config.allow_prereleases
                            or not v.is_prerelease]
                if not versions:
                    return None
                top = max(versions)
                return top, "wheel" if best[top].link.is_wheel else "sdist"

            futures = {n: session.pool.submit(newest, n) for n in sorted(installed)}
            for name, fut in futures.items():
                found = fut.result()
                dist = installed[name]
                try:
                    have = Version(str(dist.version))
                except InvalidVersion:
                    continue
                if found is not None and found[0] > have:
                    out.append((dist.name, str(dist.version), str(found[0]), found[1]))
        return out

    def download(self, requirements: Iterable[RequirementLike], target: Target,
                 dest: str | os.PathLike[str], *,
                 constraints: Iterable[RequirementLike] = ()) -> list[Path]:
        """Resolve for ``target`` (ignoring what it has installed) and save every file
        (wheel, or sdist as it is) into ``dest``, hash-checked; returns the paths."""
        request = _Request(_user_requirements(requirements), _user_requirements(constraints),
                           False, True, False)
        out_dir = Path(dest)
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a file in the way, no permission
            from .errors import UsageError, directory_problem

            raise UsageError(f"cannot save files into {dest}: "
                             f"{directory_problem(out_dir, exc)}") from None
        saved = []
        with self._call() as session:
            resolution = self._resolve(session, request, target)
            links = [p for p in resolution if p.link is not None and p.link.url.split(":")[0]
                     in ("http", "https", "file") and (p.link.is_wheel
                                                        or p.link.is_source_archive)]
            futures = [session.pool.submit(session.fetcher.wheel, p.link, package=p.name,
                                           allowed=p.allowed_hashes)
                       for p in links if p.link is not None]
            for pin, fut in zip(links, futures):
                assert pin.link is not None
                path = fut.result()
                target_path = out_dir / pin.link.filename
                if not target_path.exists():
                    tmp = target_path.with_name(f".{target_path.name}.part")
                    import shutil

                    try:
                        shutil.copyfile(path, tmp)
                        os.replace(tmp, target_path)
                    except OSError as exc:  # a full disk, say: no half file left
                        tmp.unlink(missing_ok=True)
                        raise PyinstError(f"cannot save '{pin.name}' {pin.version} into "
                                          f"{dest}: {exc.strerror or exc}",
                                          package=pin.name) from exc
                saved.append(target_path)
        return saved

    def uninstall(self, names: Iterable[str], target: Target) -> InstallResult:
        """Remove distributions from ``target`` by their RECORDs, all or nothing. Names
        that are not installed are skipped (see ``already_satisfied``: empty for them)."""
        from .installed import installed_distributions, remove_distribution
        from .transaction import Transaction, new_journal_path

        with target.lock(self.config.lock_timeout):
            _recover(target)
            installed = installed_distributions(target)
            dists = [installed[k] for k in dict.fromkeys(canonicalize_name(n) for n in names)
                     if k in installed]
            site = os.path.normpath(target.scheme["purelib"])
            tx = Transaction(site, roots=tuple(dict.fromkeys(target.scheme.values())),
                             journal=new_journal_path(site))
            try:
                for dist in dists:
                    remove_distribution(dist, target, tx)
            except BaseException:
                tx.rollback()
                raise
            tx.commit()
        return InstallResult(installed=(),
                             removed=tuple((d.name, str(d.version)) for d in dists))

    def provision(
        self,
        targets: Mapping[Target, Iterable[RequirementLike]],
        *,
        max_workers: int = 4,
        upgrade: bool = False,
    ) -> dict[Target, InstallResult | PyinstError]:
        """Install into many targets at once.

        Targets are resolved and installed in parallel (``max_workers`` at a time); each
        distinct file is fetched once for all of them (one session shares index pages,
        and the cache lets one downloader fill each entry while the others wait). The
        result maps each target to its `InstallResult`, or to the `PyinstError` that
        stopped it: one failing target does not spoil the others.
        """
        if max_workers < 1:
            raise ValueError(f"max_workers must be 1 or more, not {max_workers!r}")
        session = self._session()
        items = [(t, list(reqs)) for t, reqs in targets.items()]

        def one(target: Target, reqs: list[RequirementLike]) -> InstallResult | PyinstError:
            try:
                result = self._install(session, _Request(_user_requirements(reqs), [],
                                                         upgrade, False, False), target)
            except PyinstError as exc:
                self._emit(TargetFinished(target.describe_location(), False, str(exc)))
                return exc
            self._emit(TargetFinished(target.describe_location(), True))
            return result

        # Targets run on their own short-lived threads: they use the Installer's pool
        # for downloads, and must not wait for it from inside it.
        from concurrent.futures import ThreadPoolExecutor

        try:
            with ThreadPoolExecutor(max_workers=max_workers,
                                    thread_name_prefix="pyinst-provision") as runner:
                futures = {t: runner.submit(one, t, reqs) for t, reqs in items}
                return {t: f.result() for t, f in futures.items()}
        finally:
            session.close()


def _check_pinned_and_hashed(reqs: Sequence[UserRequirement],
                             cons: Sequence[UserRequirement]) -> None:
    """Hash-checking mode, as pip's: every requirement pinned with == and hashed."""
    from .errors import HashRequired

    hashed = {canonicalize_name(c.requirement.name) for c in cons if c.hashes}
    for ur in reqs:
        req = ur.requirement
        exact = req.url is not None or (len(req.specifier) == 1 and all(
            s.operator in ("==", "===") and not s.version.endswith(".*")
            for s in req.specifier))
        if not exact:
            raise HashRequired(f"hash-checking mode: '{req}' must be pinned with == (every "
                               "requirement must name one exact version)",
                               package=req.name)
        if not ur.hashes and canonicalize_name(req.name) not in hashed:
            raise HashRequired(f"hash-checking mode: '{req}' has no --hash (every "
                               "requirement must be hashed)", package=req.name)


def _check_every_file_hashed(resolution: Resolution) -> None:
    from .errors import HashRequired

    missing = [p for p in resolution if p.link is not None and not p.allowed_hashes]
    if missing:
        names = ", ".join(f"{p.name}=={p.version}" for p in missing)
        raise HashRequired(f"hash-checking mode: these dependencies have no --hash: {names} "
                           "(add each, pinned and hashed, to the requirements)",
                           package=missing[0].name)


def _cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def _recover(target: Target) -> None:
    """Undo what an install killed in the middle left in ``target`` (its journal says
    what; the target's lock is held)."""
    from .transaction import recover

    recover(os.path.normpath(target.scheme["purelib"]))


def _same_metadata(pin: Pin, unpacked: Any) -> None:
    """The metadata the resolver went by (an index's sidecar, say) must be the wheel's
    own: otherwise the index described one thing and serves another (PEP 658 wants them
    byte for byte the same)."""
    if not pin.metadata or pin.link is None or not pin.link.is_wheel:
        return
    own = Path(unpacked.root) / unpacked.root_scheme / unpacked.dist_info / "METADATA"
    try:
        data = own.read_bytes()
    except OSError:
        return
    if data != pin.metadata:
        raise InvalidWheel(f"the metadata the index gave for '{pin.name}' {pin.version} is "
                           f"not the metadata inside {pin.link.filename}; refusing it",
                           package=pin.name)


def _with_sha256(pin: Pin, digest: str) -> Pin:
    import dataclasses

    assert pin.link is not None
    return dataclasses.replace(pin, link=dataclasses.replace(pin.link,
                                                             hashes={"sha256": digest}))


def install(
    requirements: Iterable[RequirementLike],
    *,
    python: str | os.PathLike[str] | None = None,
    config: Config | None = None,
    **options: Any,
) -> InstallResult:
    """One-off install into the environment of ``python`` (default: the running one).

    ``options`` are those of `Installer.install` (``upgrade``, ``no_deps``, ...).
    """
    target = Target.from_python(python if python is not None else sys.executable)
    with Installer(config) as inst:
        return inst.install(requirements, target, **options)


__all__ = ["Installer", "install"]
