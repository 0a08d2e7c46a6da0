"""Configuration as a plain, frozen value object. Pure: nothing here reads the environment."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_INDEX_URL = "https://pypi.org/simple/"


class IndexStrategy(str, enum.Enum):
    """How several indexes are combined."""

    #: a project found on an earlier index is never looked up on a later one
    #: (the defence against dependency confusion); pip's and uv's default
    FIRST_INDEX = "first-index"
    #: every index is asked and the best version from any of them wins
    UNSAFE_BEST_MATCH = "unsafe-best-match"


class LinkMode(str, enum.Enum):
    """How files get from the unpacked-wheel cache into a target (`Config.link_mode`)."""

    #: hard links (the default); a copy where the cache is on another filesystem
    HARDLINK = "hardlink"
    COPY = "copy"
    SYMLINK = "symlink"


@dataclass(frozen=True)
class BinaryPolicy:
    """Which projects may (or must) come as wheels. ``":all:"`` stands for every project."""

    only_binary: frozenset[str] = frozenset()
    no_binary: frozenset[str] = frozenset()

    def wheels_allowed(self, name: str) -> bool:
        if name in self.only_binary:
            return True
        return not (name in self.no_binary or ":all:" in self.no_binary)

    def sources_allowed(self, name: str) -> bool:
        if name in self.no_binary:
            return True
        return not (name in self.only_binary or ":all:" in self.only_binary)


class InvalidConfig(ValueError):
    """A `Config` field given a value it cannot take; ``field`` names it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"Config.{field} {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class Config:
    """Everything an `Installer` needs to know that is not about the target.

    Built by the caller (the CLI builds one from its arguments); never read from the
    process environment by the library itself. A value a field cannot take (a negative
    count, a timeout of 0, an unknown link mode) raises `InvalidConfig` when the object
    is made.
    """

    index_urls: tuple[str, ...] = (DEFAULT_INDEX_URL,)
    find_links: tuple[str, ...] = ()
    index_strategy: IndexStrategy = IndexStrategy.FIRST_INDEX
    #: where downloaded files are kept; ``None`` means a private temporary cache
    #: that lives as long as the `Installer`
    cache_dir: Path | None = None
    timeout: float = 30.0
    retries: int = 3
    #: seconds to wait before the first retry; doubled for each further one
    retry_backoff: float = 0.25
    max_workers: int = 8
    #: worker processes that unpack big wheels (threads share one GIL, processes do
    #: not): ``None`` is one per core when there are two or more, used while another
    #: wheel is being unpacked (a lone wheel unpacks sooner than a worker starts); a
    #: number sends every big wheel to that many workers; ``0`` unpacks in threads only
    unpack_processes: int | None = None
    #: the interpreter those workers run on; ``None`` is the running one, when it is a
    #: Python that can be started again (not a program that embeds Python)
    worker_python: str | None = None
    allow_prereleases: bool = False
    binary: BinaryPolicy = field(default_factory=BinaryPolicy)
    #: CA bundle file; ``None`` uses the system's trust store (through truststore on
    #: Python 3.10 and later, OpenSSL's default locations before)
    ca_bundle: Path | None = None
    #: take proxies from the environment (``HTTPS_PROXY``, ``HTTP_PROXY``,
    #: ``ALL_PROXY``, ``NO_PROXY``), as httpx reads them; off unless asked for
    trust_env: bool = False
    #: one proxy URL for every request (``http://user:pass@host:port``); wins over
    #: `trust_env`
    proxy: str | None = None
    #: a netrc file to take credentials from, by host; ``None`` reads none
    netrc_file: Path | None = None
    #: the ``keyring`` command (argv) to ask for credentials after a 401; ``None``
    #: asks no keyring
    keyring_command: tuple[str, ...] | None = None
    #: seconds to wait for another install of the same target; ``None`` waits forever
    lock_timeout: float | None = None
    #: how files get from the unpacked-wheel cache into a target: "hardlink" (falls
    #: back to a copy across filesystems), "copy" or "symlink"
    link_mode: str = "hardlink"
    #: compile installed modules to bytecode (with the target interpreter)
    compile_bytecode: bool = False
    #: revalidate every cached index page, however fresh
    refresh: bool = False
    #: never touch the network: index pages and files come from the cache only
    offline: bool = False
    #: build sources in isolated environments that pyinst provisions (PEP 518);
    #: ``False`` builds with what the target environment already has
    build_isolation: bool = True
    #: ``--config-settings`` for every build backend
    config_settings: Mapping[str, str | list[str]] = field(default_factory=dict)
    #: requirement strings that constrain build environments (``--build-constraint``)
    build_constraints: tuple[str, ...] = ()
    #: the environment build backends run with; ``None`` passes on the process's own,
    #: as any subprocess inherits it (minus PYTHONPATH and friends, for isolation)
    build_environ: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        # each as "holds": NaN holds none of them, so it is refused too
        for name, holds, rule in (
                ("timeout", self.timeout > 0, "more than 0"),
                ("retries", self.retries >= 0, "0 or more"),
                ("retry_backoff", self.retry_backoff >= 0, "0 or more"),
                ("max_workers", self.max_workers >= 1, "1 or more"),
                ("unpack_processes",
                 self.unpack_processes is None or self.unpack_processes >= 0, "0 or more"),
                ("lock_timeout", self.lock_timeout is None or self.lock_timeout >= 0,
                 "0 or more"),
                ("link_mode", self.link_mode in {m.value for m in LinkMode},
                 "one of " + ", ".join(m.value for m in LinkMode))):
            if not holds:
                raise InvalidConfig(name, f"must be {rule}, not {getattr(self, name)!r}")

    @property
    def no_index(self) -> bool:
        return not self.index_urls

    def with_(self, **changes: object) -> Config:
        """A copy with some fields changed."""
        return replace(self, **changes)  # type: ignore[arg-type]
