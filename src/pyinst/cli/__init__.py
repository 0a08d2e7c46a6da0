"""The command line. The only place that reads argv and the environment, prints and exits."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from .. import __version__

TYPE_CHECKING = False  # typing itself is not imported for `pyinst --version`
if TYPE_CHECKING:
    from typing import NoReturn, TextIO

    from ..config import Config
    from ..models import InstallResult
    from ..reqfile import RequirementSet
    from ..target import Target


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    idx = common.add_argument_group("indexes")
    idx.add_argument("-i", "--index-url", metavar="URL",
                     help="base URL of the package index (default: the public index)")
    idx.add_argument("--extra-index-url", action="append", default=[], metavar="URL",
                     help="more indexes, asked after the first (repeatable)")
    idx.add_argument("--no-index", action="store_true", help="use only --find-links locations")
    idx.add_argument("-f", "--find-links", action="append", default=[], metavar="LOCATION",
                     help="a directory or page of distribution files (repeatable)")
    idx.add_argument("--index-strategy", choices=["first-index", "unsafe-best-match"],
                     default=None, help="how to combine several indexes")
    idx.add_argument("--pre", action="store_true", help="allow pre-release versions")
    idx.add_argument("--only-binary", action="append", default=[], metavar="NAMES",
                     help="comma-separated projects (or :all:) that must come as wheels")
    idx.add_argument("--no-binary", action="append", default=[], metavar="NAMES",
                     help="comma-separated projects (or :all:) that must not come as wheels")
    net = common.add_argument_group("network and credentials")
    net.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                     help="socket timeout for each request (default: 30)")
    net.add_argument("--retries", type=int, default=3, metavar="N",
                     help="retry a failed request this many times (default: 3)")
    net.add_argument("--cert", metavar="FILE",
                     help="trust this CA bundle instead of the system's certificates")
    net.add_argument("--proxy", metavar="URL", help="send every request through this proxy")
    net.add_argument("--env-proxy", action="store_true",
                     help="take proxies from HTTPS_PROXY/HTTP_PROXY/ALL_PROXY/NO_PROXY")
    net.add_argument("--keyring-provider", choices=["disabled", "subprocess"], default=None,
                     help="ask the keyring command for credentials after a 401 "
                          "(default: disabled)")
    net.add_argument("--no-netrc", action="store_true",
                     help="do not read credentials from $NETRC or ~/.netrc")
    cache = common.add_argument_group("cache and output")
    cache.add_argument("--cache-dir", metavar="DIR", help="where to keep downloads")
    cache.add_argument("--no-cache", action="store_true", help="use a throw-away cache")
    cache.add_argument("--refresh", action="store_true",
                       help="revalidate cached index pages, however fresh")
    cache.add_argument("--offline", action="store_true",
                       help="use only what is cached; make no network request")
    cache.add_argument("--lock-timeout", type=float, default=None, metavar="SECONDS",
                       help="give up if another install holds the environment this long")
    cache.add_argument("--link-mode", choices=["hardlink", "copy", "symlink"],
                       default="hardlink",
                       help="how files get from the unpacked-wheel cache into the target")
    cache.add_argument("--compile-bytecode", action="store_true",
                       help="compile installed modules to bytecode (off by default, as uv)")
    cache.add_argument("--unpack-processes", type=int, default=None, metavar="N",
                       help="worker processes that unpack big wheels (default: one per "
                            "core; 0 unpacks in threads)")
    cache.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    cache.add_argument("-v", "--verbose", action="count", default=0, help="say more")
    return common


def add_requirement_inputs(
        parser: argparse.ArgumentParser, *,
        requirement_help: str = "a requirements file or a script with inline (PEP 723) "
                                "metadata (repeatable)",
        group_help: str = "") -> None:
    """What to resolve, as install, lock and download all take it."""
    parser.add_argument("requirements", nargs="*", metavar="REQ",
                        help="requirement specifiers, wheel or project paths, or URLs")
    parser.add_argument("-r", "--requirement", action="append", default=[],
                        metavar="FILE", help=requirement_help)
    parser.add_argument("-c", "--constraint", action="append", default=[], metavar="FILE",
                        help="constrain versions with a constraints file (repeatable)")
    parser.add_argument("--group", action="append", default=[], metavar="[PATH:]NAME",
                        help="a dependency group (PEP 735) of ./pyproject.toml or PATH "
                             f"(repeatable){group_help}")


#: every command, by the part of the parser that defines it
_PARTS = {"install": "install", "config": "config", "provision": "provision",
          "bootstrap": "envs", "venv": "envs", "lock": "lock", "download": "lock",
          "run": "lock", "list": "envcmds", "freeze": "envcmds", "show": "envcmds",
          "check": "envcmds", "tree": "envcmds", "uninstall": "envcmds", "cache": "envcmds"}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line. With ``command``, only the part that defines that command is
    built: all `main` needs once the first argument names one (building every command's
    options is a good part of a short run's start-up)."""
    part = _PARTS.get(command) if command is not None else None

    def wanted(name: str) -> bool:
        return part is None or part == name

    parser = argparse.ArgumentParser(prog="pyinst",
                                     description="A fast, embeddable Python package installer.")
    parser.add_argument("--version", action="version", version=f"pyinst {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = _common_options()
    if wanted("install"):
        _add_install(sub, common)
    if wanted("config"):
        cfg = sub.add_parser("config",
                             help="show every setting, its value and where it comes from")
        cfg.add_argument("action", nargs="?", choices=["list"], default="list")
    if wanted("provision"):
        prov = sub.add_parser("provision", parents=[common],
                              help="install into many environments at once, from a manifest")
        prov.add_argument("manifest", metavar="MANIFEST",
                          help="a TOML or JSON file listing targets and their requirements")
        prov.add_argument("-j", "--max-workers", type=_at_least_one, default=4, metavar="N",
                          help="how many targets to work on at once (default 4)")
        prov.add_argument("-U", "--upgrade", action="store_true",
                          help="upgrade the named packages in every target")
    if wanted("envs"):
        from .envs import add_parsers

        add_parsers(sub, common)
    if wanted("lock"):
        from .lockcmd import add_parsers as add_lock_parsers

        add_lock_parsers(sub, common)
    if wanted("envcmds"):
        from .envcmds import add_cache_parser
        from .envcmds import add_parsers as add_env_parsers

        add_env_parsers(sub, common)
        add_cache_parser(sub, common)
    return parser


def _add_install(sub: argparse._SubParsersAction,  # type: ignore[type-arg]
                 common: argparse.ArgumentParser) -> None:
    inst = sub.add_parser("install", parents=[common],
                          help="install packages into an environment")
    add_requirement_inputs(
        inst, requirement_help="a requirements file (a path, or an http(s) URL), a "
                               "pylock.toml lock, or a script with inline (PEP 723) "
                               "metadata (repeatable)",
        group_help="; with a lock file, a group of the lock")
    inst.add_argument("-e", "--editable", action="append", default=[], metavar="DIR",
                      help="install a local project in editable mode (repeatable)")
    lockopts = inst.add_argument_group("hashes and lock files")
    lockopts.add_argument("--require-hashes", action="store_true",
                          help="hash-checking mode: every requirement pinned and hashed "
                               "(on as soon as any requirement has --hash)")
    lockopts.add_argument("--sync", action="store_true",
                          help="with -r pylock.toml: also remove what the lock does not list")
    lockopts.add_argument("--keep", action="append", default=[], metavar="NAME",
                          help="with --sync: never remove NAME (e.g. pip)")
    lockopts.add_argument("--extra", action="append", default=[], metavar="NAME",
                          help="with -r pylock.toml: an extra of the lock to install")
    build = inst.add_argument_group("building from source")
    build.add_argument("--no-build-isolation", action="store_true",
                       help="build with what the target environment already has")
    build.add_argument("-C", "--config-settings", action="append", default=[],
                       metavar="KEY=VALUE", help="pass a setting to every build backend")
    build.add_argument("--build-constraint", action="append", default=[], metavar="FILE",
                       help="constrain what goes into build environments (repeatable)")
    where = inst.add_argument_group("where to install")
    where.add_argument("-p", "--python", metavar="PATH",
                       help="interpreter (or environment directory) to install into; default: "
                            "$VIRTUAL_ENV, then ./.venv")
    where.add_argument("--user", action="store_true",
                       help="install into the interpreter's user site-packages")
    where.add_argument("--target", metavar="DIR", help="install into a plain directory")
    where.add_argument("--prefix", metavar="DIR", help="install under this prefix")
    where.add_argument("--root", metavar="DIR", help="re-root every install path under DIR")
    how = inst.add_argument_group("what to do")
    how.add_argument("-U", "--upgrade", action="store_true",
                     help="upgrade the named packages (their dependencies only if needed)")
    how.add_argument("--force-reinstall", action="store_true",
                     help="reinstall every resolved package even if already installed")
    how.add_argument("--no-deps", action="store_true", help="do not install dependencies")
    how.add_argument("--break-system-packages", action="store_true",
                     help="install into an externally managed Python anyway (PEP 668)")
    how.add_argument("--dry-run", action="store_true",
                     help="resolve and show what would change, change nothing")
    how.add_argument("--json", action="store_true",
                     help="print the installation report (pip's JSON) instead of text; same "
                          "as --report -")
    how.add_argument("--report", metavar="FILE",
                     help="write an installation report (pip's JSON format) to FILE ('-' for "
                          "standard output)")


def _at_least_one(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {number}")
    return number


def _default_cache_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("pyinst", appauthor=False))


def cache_root(args: argparse.Namespace) -> Path | None:
    """The cache directory the command line asks for (None with --no-cache)."""
    if getattr(args, "no_cache", False):
        return None
    return Path(args.cache_dir) if getattr(args, "cache_dir", None) else _default_cache_dir()


def _find_python(args: argparse.Namespace) -> str | None:
    if args.python:
        return str(args.python)
    venv = os.environ.get("VIRTUAL_ENV")
    if venv:
        return venv
    if Path(".venv").is_dir():
        return ".venv"
    return None


def _split_names(values: Iterable[str]) -> set[str]:
    from packaging.utils import canonicalize_name

    out: set[str] = set()
    for v in values:
        for part in v.split(","):
            part = part.strip()
            if part:
                out.add(part if part == ":all:" else canonicalize_name(part))
    return out


def _build_config(args: argparse.Namespace, reqs: RequirementSet) -> Config:
    from ..config import DEFAULT_INDEX_URL, BinaryPolicy, Config, IndexStrategy, InvalidConfig
    from ..errors import UsageError

    from_config: dict[str, str] = getattr(args, "from_config", {})
    cli_index = args.index_url if "index_url" not in from_config else None
    index_url = cli_index or reqs.index_url or args.index_url or DEFAULT_INDEX_URL
    extra = [*args.extra_index_url, *reqs.extra_index_urls]
    indexes: tuple[str, ...] = () if (args.no_index or reqs.no_index) else (index_url, *extra)
    strategy = IndexStrategy(args.index_strategy or "first-index")
    try:
        return Config(
            index_urls=tuple(dict.fromkeys(indexes)),
            find_links=tuple(dict.fromkeys([*args.find_links, *reqs.find_links])),
            index_strategy=strategy,
            cache_dir=cache_root(args),
            allow_prereleases=args.pre or reqs.pre,
            binary=BinaryPolicy(
                only_binary=frozenset(_split_names(args.only_binary) | _split_names(
                    reqs.only_binary)),
                no_binary=frozenset(_split_names(args.no_binary)
                                    | _split_names(reqs.no_binary))),
            timeout=args.timeout,
            retries=args.retries,
            ca_bundle=Path(args.cert) if args.cert else None,
            trust_env=args.env_proxy,
            proxy=args.proxy,
            netrc_file=None if args.no_netrc else _netrc_file(),
            keyring_command=_keyring_command(args.keyring_provider),
            lock_timeout=args.lock_timeout,
            link_mode=args.link_mode,
            compile_bytecode=args.compile_bytecode,
            unpack_processes=args.unpack_processes,
            refresh=args.refresh,
            offline=args.offline,
            build_isolation=not getattr(args, "no_build_isolation", False),
            config_settings=_config_settings(getattr(args, "config_settings", [])),
            build_constraints=_build_constraints(getattr(args, "build_constraint", [])),
        )
    except InvalidConfig as exc:  # a value out of range, from the command line or a setting
        key = exc.field.replace("_", "-")
        where = from_config.get(exc.field)
        raise UsageError(f"{where}: {key} {exc.reason}" if where else f"--{key} {exc.reason}"
                         ) from None


_PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY",
               "all_proxy")


def _proxy_hint(args: argparse.Namespace, exc: Exception) -> str:
    """A network failure while proxy variables are set that pyinst was told to ignore."""
    from ..errors import IndexFetchError

    if (not isinstance(exc, IndexFetchError) or exc.status_code is not None
            or getattr(args, "env_proxy", True) or getattr(args, "proxy", None)):
        return ""
    set_vars = [v for v in _PROXY_VARS if os.environ.get(v)]
    if not set_vars:
        return ""
    return (f"hint: {set_vars[0]} is set, but pyinst only uses proxies from the "
            "environment with --env-proxy (or env-proxy = true in pyinst.toml)\n")


def _netrc_file() -> Path | None:
    """$NETRC, else ~/.netrc when it exists (as pip, uv and curl)."""
    explicit = os.environ.get("NETRC")
    if explicit:
        return Path(explicit)
    default = Path.home() / ".netrc"
    return default if default.is_file() else None


def _keyring_command(provider: str | None) -> tuple[str, ...] | None:
    from ..errors import UsageError

    if provider in (None, "disabled"):
        return None
    import shutil

    found = shutil.which("keyring")
    if found is None:
        raise UsageError("--keyring-provider subprocess needs the keyring command on PATH "
                         "(install it with: pyinst install keyring, or pipx install "
                         "keyring)")
    return (found,)


def _config_settings(items: Sequence[str]) -> dict[str, str | list[str]]:
    from ..errors import UsageError

    settings: dict[str, str | list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--config-settings expects KEY=VALUE, got {item!r}")
        have = settings.get(key)
        if have is None:
            settings[key] = value
        else:  # a repeated key makes a list, as pip does
            settings[key] = [*(have if isinstance(have, list) else [have]), value]
    return settings


@contextlib.contextmanager
def url_reader(args: argparse.Namespace, what: str = "the requirements file"
               ) -> Iterator[Callable[[str], bytes]]:
    """What reads the files (requirements files, a script) given as http(s) URLs: an
    `Installer` with the command's own network settings (what requirements files say
    is not known yet), made at the first URL and closed at the end."""
    from ..api import Installer
    from ..errors import IndexFetchError
    from ..reqfile import RequirementSet

    made: list[Installer] = []

    def fetch(url: str) -> bytes:
        if not made:
            made.append(Installer(_build_config(args, RequirementSet())))
        try:
            return made[0].read_url(url)
        except IndexFetchError as exc:  # said as what it was for
            raise IndexFetchError(f"cannot read {what} {url}: {exc}", url=url,
                                  status_code=exc.status_code) from None

    try:
        yield fetch
    finally:
        for inst in made:
            inst.close()


def _build_constraints(files: Sequence[str]) -> tuple[str, ...]:
    from ..reqfile import RequirementSet, parse_requirements_file

    found = RequirementSet()
    for f in files:
        parse_requirements_file(f, env=os.environ, constraint=True, into=found)
    return tuple(str(c.requirement) for c in found.constraints)


def _build_target(args: argparse.Namespace) -> Target:
    from ..errors import UsageError
    from ..target import Target

    if args.target and (args.prefix or args.root):
        raise UsageError("--target cannot be combined with --prefix or --root")
    if getattr(args, "user", False) and (args.target or args.prefix):
        raise UsageError("--user cannot be combined with --target or --prefix")
    python = _find_python(args)
    cache = cache_root(args)
    if args.target:
        return Target.directory(args.target, python=python, cache_dir=cache)
    if python is None:
        raise UsageError("no environment to install into: pass -p/--python, activate a "
                         "virtual environment, or create ./.venv")
    if getattr(args, "user", False):
        target = Target.from_python(python, cache_dir=cache).variant(user=True, root=args.root)
    else:
        target = Target.from_python(python, prefix=args.prefix, root=args.root,
                                    cache_dir=cache)
    refuse_externally_managed(target, args)
    return target


def refuse_externally_managed(target: Target, args: argparse.Namespace) -> None:
    """PEP 668, as pip and uv do: not into a distribution's own Python unless asked."""
    from ..errors import TargetError

    if getattr(args, "break_system_packages", False) or getattr(args, "dry_run", False):
        return
    message = target.externally_managed()
    if message is not None:
        raise TargetError(f"{target.python} is externally managed (PEP 668): "
                          f"{' '.join(message.split())} (--break-system-packages to "
                          "install anyway)")


def _echo(out: TextIO, text: str) -> None:
    out.write(text + "\n")
    out.flush()


def _print_result(result: InstallResult, out: TextIO, n_resolved: int) -> None:
    t = result.timings
    _echo(out, f"Resolved {n_resolved} package{'s' * (n_resolved != 1)} in "
               f"{t.get('resolve', 0.0):.2f}s")
    if result.dry_run:
        if not result.installed and not result.removed:
            _echo(out, "Would make no changes")
        else:
            _echo(out, f"Would install {len(result.installed)} package"
                       f"{'s' * (len(result.installed) != 1)}")
    elif result.installed or result.removed:
        n = len(result.installed)
        _echo(out, f"Prepared {n} package{'s' * (n != 1)} in {t.get('prepare', 0.0):.2f}s")
        _echo(out, f"Installed {n} package{'s' * (n != 1)} in {t.get('install', 0.0):.2f}s")
    else:
        _echo(out, "Nothing to do: every requirement is already satisfied")
    changes = [(name, "-", ver) for name, ver in result.removed] + \
              [(name, "+", ver) for name, ver in result.installed]
    for name, sign, ver in sorted(changes, key=lambda c: (c[0], c[1] == "+")):
        _echo(out, f" {sign} {name}=={ver}")


class _RedactingFilter:
    """Masks URL credentials in every log line (httpx logs each request's URL)."""

    def filter(self, record: object) -> bool:
        import logging

        from ..redact import redact

        assert isinstance(record, logging.LogRecord)
        record.msg, record.args = redact(record.getMessage()), None
        return True


def _is_lock_file(name: str) -> bool:
    from packaging.pylock import is_valid_pylock_path

    return is_valid_pylock_path(Path(name))


def _cmd_install(args: argparse.Namespace) -> int:
    from ..api import Installer
    from ..errors import UsageError
    from ..reqfile import (
        RequirementSet,
        UserRequirement,
        parse_requirement,
        parse_requirements_file,
    )

    locks = [f for f in args.requirement if _is_lock_file(f)]
    if locks:
        from .lockcmd import install_from_lock

        return install_from_lock(args, locks)
    if args.sync or args.keep or args.extra:
        raise UsageError("--sync, --keep and --extra go with -r pylock.toml")
    reqs = RequirementSet()
    with url_reader(args) as fetch:
        for f in args.requirement:
            parse_requirements_file(f, env=os.environ, into=reqs, fetch=fetch)
        for spec in args.group:
            from ..reqfile import group_requirements

            reqs.requirements.extend(group_requirements(spec, base_dir=Path.cwd()))
        for f in args.constraint:
            parse_requirements_file(f, env=os.environ, constraint=True, into=reqs,
                                    fetch=fetch)
    for text in args.requirements:
        reqs.requirements.append(UserRequirement(parse_requirement(text, base_dir=Path.cwd())))
    for text in args.editable:
        reqs.requirements.append(UserRequirement(parse_requirement(text, base_dir=Path.cwd()),
                                                 editable=True))
    if not reqs.requirements:
        raise UsageError("nothing to install: give requirements or -r FILE")
    if args.json:
        args.report, args.quiet = "-", True
    config = _build_config(args, reqs)
    target = _build_target(args)
    out = sys.stdout
    from .progress import progress_sink

    with output_file(args.report, "the report") as report_out:
        with progress_sink(args) as sink, Installer(config, on_event=sink) as inst:
            result = inst.install(reqs.requirements, target, constraints=reqs.constraints,
                                  upgrade=args.upgrade, force_reinstall=args.force_reinstall,
                                  no_deps=args.no_deps, dry_run=args.dry_run,
                                  require_hashes=args.require_hashes or reqs.require_hashes)
        if args.report:
            from ..report import installation_report

            assert result.plan is not None
            data = json.dumps(installation_report(result.plan, target.markers), indent=2)
            if report_out is None:
                _echo(out, data)
            else:
                report_out.truncate(0)
                report_out.write(data + "\n")
    if not args.quiet and args.report != "-":
        n = len(result.resolution) if result.resolution is not None else 0
        _print_result(result, out, n)
    return 0


@contextlib.contextmanager
def output_file(path: str | None, what: str) -> Iterator[TextIO | None]:
    """A file the command writes at the end (``--report``, ``lock -o``), opened before
    any work: a path that cannot be written is a usage error then, not a traceback
    after the install or resolution. A file this made is removed again if the command
    fails; one that was there is left as it was until the writer replaces its content
    (``truncate(0)``, then write). ``None`` for no file (or ``-``)."""
    from ..errors import UsageError

    if path is None or path == "-":
        yield None
        return
    existed = os.path.lexists(path)
    try:
        fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 - held across the command
    except OSError as exc:
        raise UsageError(f"cannot write {what} to {path}: {exc.strerror or exc}"
                         ) from None
    done = False
    try:
        with fh:
            yield fh
        done = True
    finally:
        if not done and not existed:
            with contextlib.suppress(OSError):
                os.unlink(path)


def _few_malloc_arenas() -> None:
    """glibc gives each thread that allocates an arena of its own (up to eight per core)
    and keeps what is freed in each one: with the download and unpack threads, a cold
    install of the benchmark's set held about 10 MB more (20 MB with threads only) than
    with two arenas, at the same speed (measured). The command line owns its process,
    so it sets the limit as ``MALLOC_ARENA_MAX=2`` would, unless that variable is set;
    an application that embeds pyinst makes its own choice."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):  # glibc only (musl, macOS: as they are)
            return
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (ValueError, OSError, AttributeError, ImportError):
        return
    mallopt(_M_ARENA_MAX, 2)


#: glibc's mallopt parameter for the number of arenas (malloc.h)
_M_ARENA_MAX = -8


def _fewer_collections() -> None:
    """Python's cyclic collector runs every 700 net allocations of containers; the
    resolver's objects and the parsed pages live to the end of the call, so most runs
    only walk objects that survive them. The command line raises the young generation
    to 10,000 (measured on the benchmark's set: the collector's time in a cold install
    70 -> 30 ms, its CPU 3.71 -> 3.56 s and wall 2.48 -> 2.42 s, medians of six; a warm
    one the same within noise; peak RSS the same). An application that embeds pyinst
    keeps its own setting."""
    import gc

    young, *older = gc.get_threshold()
    if 0 < young < _YOUNG_GENERATION:  # 0: collection switched off by whoever runs us
        gc.set_threshold(_YOUNG_GENERATION, *older)


_YOUNG_GENERATION = 10_000


def run() -> NoReturn:
    """The ``pyinst`` command (console script and ``python -m pyinst``): `main`, then
    out of the process at once. Tearing the interpreter down (freeing every object,
    unloading every module) took 35-80 ms after the work was done (measured: over a
    tenth of a warm install); the command has nothing left to finish by then: the
    installer closed its pools, files and workers before `main` returned. Output is
    flushed first; an exception out of `main` (a bug) still ends the usual way."""
    code = main()
    _flush_output()
    os._exit(code)  # state-ok: the command line's own process, its work done


def _flush_output() -> None:
    if "logging" in sys.modules:  # -v: its handlers write to stderr
        import logging

        logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        # a pipe closed by its reader, a stream closed already: nothing more to say
        with contextlib.suppress(OSError, ValueError):
            stream.flush()


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv[0] if argv and argv[0] in _PARTS else None)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    from .settings import SettingError, gather, merge

    try:
        found = gather(os.environ, Path.cwd())
        args.from_config = merge(parser, args, found)
    except SettingError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    if args.command == "config":
        from .settings import describe

        sys.stdout.write("".join(line + "\n" for line in describe(found)))
        return 0
    if getattr(args, "verbose", 0):
        import logging

        logging.basicConfig(level=logging.DEBUG if args.verbose > 1 else logging.INFO,
                            format="%(name)s: %(message)s")
        for handler in logging.getLogger().handlers:
            handler.addFilter(_RedactingFilter())
    from ..errors import PyinstError

    _few_malloc_arenas()
    _fewer_collections()
    try:
        if args.command == "provision":
            from .provision import cmd_provision

            return cmd_provision(args)
        if args.command in ("list", "freeze", "show", "check", "tree"):
            from .envcmds import cmd_inspect

            return cmd_inspect(args)
        if args.command == "cache":
            from .envcmds import cmd_cache

            return cmd_cache(args)
        if args.command == "uninstall":
            from .envcmds import cmd_uninstall

            return cmd_uninstall(args)
        if args.command in ("lock", "run", "download"):
            from .lockcmd import cmd_download, cmd_lock, cmd_run

            return {"lock": cmd_lock, "run": cmd_run, "download": cmd_download}[
                args.command](args)
        if args.command in ("bootstrap", "venv"):
            from .envs import cmd_bootstrap, cmd_venv

            return cmd_bootstrap(args) if args.command == "bootstrap" else cmd_venv(args)
        return _cmd_install(args)
    except PyinstError as exc:
        sys.stderr.write(f"error: {exc}\n{_proxy_hint(args, exc)}")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted; the target was left as it was\n")
        return 130
    except BrokenPipeError:
        # Output piped into e.g. `head`: the work is done; say nothing more.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
