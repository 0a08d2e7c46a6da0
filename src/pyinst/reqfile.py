"""Requirement strings and requirements files in pip's syntax. Pure except for reading files."""

from __future__ import annotations

import codecs
import os
import posixpath
import re
import shlex
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from packaging.requirements import InvalidRequirement as _PkgInvalid
from packaging.requirements import Requirement

from .errors import InvalidRequirement

_MAX_NESTING = 32
#: the algorithms ``--hash`` accepts (as pip: md5 and sha1 are too weak)
ALLOWED_HASHES = ("sha256", "sha384", "sha512")
_COMMENT = re.compile(r"(^|\s+)#.*$")
_ENV_VAR = re.compile(r"\$\{([A-Z0-9_]+)\}")
_REMOTE = re.compile(r"(?i)https?://")
_ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar")
#: byte-order marks a text file may start with, and the codec each means (Windows tools
#: write UTF-16 with a mark: PowerShell's ``pip freeze > requirements.txt``); UTF-32's
#: marks first, as its little-endian one begins with UTF-16's
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))


def decode_text(data: bytes) -> str:
    """A requirements file's (or script's) text: UTF-8, or what a byte-order mark at its
    start says, as pip reads them. Not text: `UnicodeDecodeError`."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return data.decode(codec)
    return data.decode("utf-8")


def read_text(path: Path) -> str:
    """`decode_text` of a file."""
    return decode_text(path.read_bytes())


def is_url(name: str) -> bool:
    """Whether a file argument is an http(s) URL (which a `Path` would mangle)."""
    return _REMOTE.match(name) is not None


def not_from_url(url: str, what: str = "requirements files are read") -> str:
    """The message refusing a file argument given as a URL where only files on disk do."""
    return f"{url}: {what} from disk only here, not from URLs; download it, then give its path"


def _not_text(exc: UnicodeDecodeError) -> str:
    return (f"it is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
            f"{exc.start}); save it as UTF-8")


@dataclass
class UserRequirement:
    """A requirement with where it came from and any ``--hash`` options."""

    requirement: Requirement
    hashes: dict[str, list[str]] = field(default_factory=dict)
    source: str | None = None
    line: int | None = None
    #: ``-e DIR``: install the local project in editable mode (PEP 660)
    editable: bool = False


@dataclass
class RequirementSet:
    """What a requirements file (and the files it includes) asks for: requirements,
    constraints, and the options given in it."""

    requirements: list[UserRequirement] = field(default_factory=list)
    constraints: list[UserRequirement] = field(default_factory=list)
    index_url: str | None = None
    extra_index_urls: list[str] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)
    no_index: bool = False
    pre: bool = False
    only_binary: set[str] = field(default_factory=set)
    no_binary: set[str] = field(default_factory=set)
    #: ``--require-hashes`` in the file
    require_hashes: bool = False


def _looks_like_path_or_url(text: str) -> bool:
    if "://" in text.split("@", 1)[0] or text.startswith("file:"):
        return True
    if text.startswith((".", "/", "~")) or os.sep in text:
        return not re.match(r"^[A-Za-z0-9_.\-\[\], ]+\s*@", text)
    return text.endswith(_ARCHIVE_SUFFIXES)


#: the name a local project gets until its metadata (built before resolution) names it
_UNNAMED_PREFIX = "pyinst-unnamed-project-"


def unnamed_placeholder(url: str) -> str:
    import hashlib

    return _UNNAMED_PREFIX + hashlib.sha256(url.encode()).hexdigest()[:16]


def is_unnamed(requirement: Requirement) -> bool:
    """Whether ``requirement`` is a local project whose name only its metadata knows."""
    return requirement.name.startswith(_UNNAMED_PREFIX) and requirement.url is not None


def _project_name(directory: Path) -> str | None:
    """A local project's name, as its pyproject.toml (or a legacy setup.cfg) states it."""
    pyproject = directory / "pyproject.toml"
    if pyproject.is_file():
        from . import toml
        try:
            data = toml.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        stated = data.get("project", {}).get("name")
        if isinstance(stated, str) and stated:
            return stated
    setup_cfg = directory / "setup.cfg"
    if setup_cfg.is_file():
        import configparser

        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(setup_cfg, encoding="utf-8")
            legacy = parser.get("metadata", "name", fallback=None)
        except (configparser.Error, OSError):
            legacy = None
        if legacy:
            return str(legacy)
    return None


def parse_requirement(text: str, *, base_dir: Path | None = None,
                      source: str | None = None, line: int | None = None) -> Requirement:
    """A requirement string, or a path or URL of a wheel, a source archive or a local
    project directory (``./dist/x-1.0-py3-none-any.whl``, ``./proj``, ``./proj[extra]``)."""
    text = text.strip()
    if _looks_like_path_or_url(text):
        from .index.client import path_to_url, project_from_filename

        url_part, _, marker = text.partition(";")
        url_part = url_part.strip()
        extras = ""
        m = re.match(r"^(.*?)(\[[^\]]*\])$", url_part)
        if m and not Path(os.path.expanduser(url_part)).exists():
            url_part, extras = m.group(1), m.group(2)
        if "://" in url_part or url_part.startswith("file:"):
            url = url_part
            last = url.split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
            name: str | None = project_from_filename(last)
        else:
            p = Path(os.path.expanduser(url_part))
            if not p.is_absolute() and base_dir is not None:
                p = base_dir / p
            url = path_to_url(p)
            if not p.exists():
                raise InvalidRequirement(f"'{url_part}' looks like a path, and there is no "
                                         f"such file or directory ({p})", source=source,
                                         line=line)
            if p.is_dir():
                if not ((p / "pyproject.toml").exists() or (p / "setup.py").exists()):
                    raise InvalidRequirement(f"'{url_part}' is a directory without "
                                             "pyproject.toml or setup.py", source=source,
                                             line=line)
                # a project that does not state its name statically: its metadata will
                name = _project_name(p) or unnamed_placeholder(url)
            else:
                name = project_from_filename(p.name)
        if name is None:
            raise InvalidRequirement(f"cannot tell the project name of '{url_part}'; write it "
                                     "as 'name @ URL'", source=source, line=line)
        text = f"{name}{extras} @ {url}" + (f" ; {marker.strip()}" if marker.strip() else "")
    try:
        return Requirement(text)
    except _PkgInvalid as exc:
        msg = str(exc).splitlines()[0] if str(exc) else "invalid requirement"
        raise InvalidRequirement(f"invalid requirement '{text}': {msg}", source=source,
                                 line=line) from None


def _logical_lines(text: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    buf: list[str] = []
    start = 0
    for n, raw in enumerate(text.splitlines(), start=1):
        if not buf:
            start = n
        line = _COMMENT.sub("", raw) if not raw.rstrip().endswith("\\") else raw
        if line.endswith("\\"):
            buf.append(line[:-1])
            continue
        buf.append(line)
        joined = _COMMENT.sub("", "".join(buf)).strip()
        buf = []
        if joined:
            out.append((start, joined))
    if buf:
        joined = _COMMENT.sub("", "".join(buf)).strip()
        if joined:
            out.append((start, joined))
    return out


_OPTS_WITH_VALUE = {"-r": "requirement", "--requirement": "requirement",
                    "-c": "constraint", "--constraint": "constraint",
                    "-i": "index_url", "--index-url": "index_url",
                    "--extra-index-url": "extra_index_url", "-f": "find_links",
                    "--find-links": "find_links", "--only-binary": "only_binary",
                    "--no-binary": "no_binary", "-e": "editable", "--editable": "editable"}


def parse_requirements_file(
    path: str | os.PathLike[str],
    *,
    env: Mapping[str, str] = {},
    constraint: bool = False,
    into: RequirementSet | None = None,
    read: Callable[[Path], str] = read_text,
    fetch: Callable[[str], bytes] | None = None,
    _seen: set[Path | str] | None = None,
) -> RequirementSet:
    """Parse a requirements (or constraints) file, following nested ``-r``/``-c``.
    A ``.py`` file gives its PEP 723 inline script dependencies.

    ``fetch`` reads an http(s) URL (for a file given as one, and what it includes by a
    relative name, which is relative to its URL); without it, a URL is refused. The
    relative paths of projects and links in a file from a URL are relative to the
    current directory."""
    result = into if into is not None else RequirementSet()
    name = os.fspath(path)
    remote = is_url(name)
    if remote and fetch is None:  # as a Path it would be mangled ("http:/h/r.txt")
        raise InvalidRequirement(not_from_url(name))
    file = Path(path) if not remote else None
    is_script = (file.suffix if file is not None else
                 posixpath.splitext(urllib.parse.urlsplit(name).path)[1]) == ".py"
    seen = _seen if _seen is not None else set()
    key: Path | str = file.resolve() if file is not None else name
    if key in seen:
        raise InvalidRequirement("requirements files include each other in a loop",
                                 source=name)
    seen = seen | {key}
    if len(seen) > _MAX_NESTING:  # e.g. "-r sub/r.txt" through a symlink loop
        raise InvalidRequirement(f"requirements files nested more than {_MAX_NESTING} "
                                 "deep", source=name)
    what = "script" if is_script else "requirements file"
    try:
        if file is not None:
            text = read(file)
        else:
            assert fetch is not None
            text = decode_text(fetch(name))
    except OSError as exc:
        raise InvalidRequirement(f"cannot read {what}: {exc.strerror}", source=name) \
            from None
    except UnicodeDecodeError as exc:
        raise InvalidRequirement(f"cannot read {what}: {_not_text(exc)}", source=name) \
            from None
    base = file.parent if file is not None else Path.cwd()
    if is_script:
        deps, _ = _script_metadata_text(text, name)
        (result.constraints if constraint else result.requirements).extend(
            UserRequirement(parse_requirement(d, base_dir=base, source=name), source=name)
            for d in deps)
        return result
    src = name
    for n, (lineno, line) in enumerate(_logical_lines(text)):
        if n == 0 and line.startswith("lock-version"):
            raise InvalidRequirement("this looks like a PEP 751 lock; lock files must be "
                                     "named pylock.toml or pylock.NAME.toml", source=src)
        line = _ENV_VAR.sub(lambda m: env.get(m.group(1), m.group(0)), line)
        if line.startswith("-"):
            _parse_option_line(line, result, base=base, base_url=name if remote else None,
                               env=env, src=src, lineno=lineno, read=read, fetch=fetch,
                               seen=seen)
            continue
        req_text, hashes = _split_hashes(line, src=src, lineno=lineno)
        req = parse_requirement(req_text, base_dir=base, source=src, line=lineno)
        entry = UserRequirement(req, hashes, src, lineno)
        (result.constraints if constraint else result.requirements).append(entry)
    return result


def _split_hashes(line: str, *, src: str, lineno: int) -> tuple[str, dict[str, list[str]]]:
    hashes: dict[str, list[str]] = {}
    parts = re.split(r"\s+(?=--hash)", line)
    for opt in parts[1:]:
        m = re.fullmatch(r"--hash[=\s]\s*([a-z0-9]+):([0-9a-fA-F]+)\s*", opt)
        if not m:
            raise InvalidRequirement(f"bad option '{opt.strip()}': expected "
                                     "--hash=ALGORITHM:HEXDIGEST", source=src, line=lineno)
        if m.group(1) not in ALLOWED_HASHES:
            raise InvalidRequirement(f"--hash={m.group(1)}:... uses a weak or unknown "
                                     f"algorithm; use one of {', '.join(ALLOWED_HASHES)}",
                                     source=src, line=lineno)
        hashes.setdefault(m.group(1), []).append(m.group(2).lower())
    if len(parts) == 1 and " --" in line:
        raise InvalidRequirement(f"unsupported option in '{line}'", source=src, line=lineno)
    return parts[0].strip(), hashes


def _parse_option_line(line: str, result: RequirementSet, *, base: Path,
                       base_url: str | None, env: Mapping[str, str], src: str, lineno: int,
                       read: Callable[[Path], str], fetch: Callable[[str], bytes] | None,
                       seen: set[Path | str]) -> None:
    try:
        tokens = shlex.split(line)
    except ValueError as exc:
        raise InvalidRequirement(f"cannot parse '{line}': {exc}", source=src,
                                 line=lineno) from None
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        opt, eq, val = tok.partition("=")
        if opt in _OPTS_WITH_VALUE:
            if not eq:
                i += 1
                if i >= len(tokens):
                    raise InvalidRequirement(f"option {opt} needs a value", source=src,
                                             line=lineno)
                val = tokens[i]
            kind = _OPTS_WITH_VALUE[opt]
            if kind in ("requirement", "constraint"):
                nested: str | Path
                if is_url(val):
                    nested = val
                elif base_url is not None:
                    nested = urllib.parse.urljoin(base_url, val)
                else:
                    nested = base / val
                if isinstance(nested, str) and fetch is None:
                    raise InvalidRequirement(not_from_url(val), source=src, line=lineno)
                parse_requirements_file(nested, env=env, constraint=kind == "constraint",
                                        into=result, read=read, fetch=fetch, _seen=seen)
            elif kind == "index_url":
                result.index_url = val
            elif kind == "extra_index_url":
                result.extra_index_urls.append(val)
            elif kind == "find_links":
                local = base / val
                a_url = "://" in val or val.startswith("file:")
                result.find_links.append(val if a_url or not local.exists() else str(local))
            elif kind == "only_binary":
                result.only_binary.update(v.strip() for v in val.split(",") if v.strip())
            elif kind == "no_binary":
                result.no_binary.update(v.strip() for v in val.split(",") if v.strip())
            else:  # -e / --editable
                req = parse_requirement(val, base_dir=base, source=src, line=lineno)
                result.requirements.append(UserRequirement(req, source=src, line=lineno,
                                                           editable=True))
        elif tok == "--no-index":
            result.no_index = True
        elif tok == "--pre":
            result.pre = True
        elif tok == "--require-hashes":
            result.require_hashes = True
        else:
            raise InvalidRequirement(f"unsupported option '{tok}'", source=src, line=lineno)
        i += 1


# -- PEP 735 dependency groups and PEP 723 inline script metadata -------------------------


def _load_toml(path: Path, what: str) -> dict[str, object]:
    from . import toml
    try:
        data: dict[str, object] = toml.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidRequirement(f"cannot read {what}: {exc.strerror}", source=str(path)) \
            from None
    except ValueError as exc:
        raise InvalidRequirement(f"{what} is not valid TOML: {exc}", source=str(path)) \
            from None
    return data


def group_requirements(spec: str, *, base_dir: Path) -> list[UserRequirement]:
    """The requirements of ``--group [PATH:]NAME`` (PEP 735; PATH is a pyproject.toml,
    default the one in ``base_dir``)."""
    from packaging.dependency_groups import resolve_dependency_groups

    path_part, sep, name = spec.rpartition(":")
    pyproject = Path(path_part) if sep else base_dir / "pyproject.toml"
    if not pyproject.is_absolute():
        pyproject = base_dir / pyproject
    data = _load_toml(pyproject, "pyproject.toml")
    groups = data.get("dependency-groups")
    if not isinstance(groups, Mapping) or not groups:
        raise InvalidRequirement(f"no [dependency-groups] table, so no group '{name}'",
                                 source=str(pyproject))
    try:
        texts = resolve_dependency_groups(groups, name)
    except Exception as exc:  # packaging raises errors, or a group of them
        causes = getattr(exc, "exceptions", None) or [exc]
        known = ", ".join(sorted(str(g) for g in groups))
        why = "; ".join(str(c) for c in causes)
        raise InvalidRequirement(f"dependency group '{name}': {why} (groups: {known})",
                                 source=str(pyproject)) from None
    return [UserRequirement(parse_requirement(t, base_dir=pyproject.parent,
                                              source=str(pyproject)), source=str(pyproject))
            for t in texts]


_SCRIPT_BLOCK = re.compile(
    r"(?m)^# /// (?P<type>[a-zA-Z0-9-]+)$\s(?P<content>(^#(| .*)$\s)+)^# ///$")


def script_metadata(path: Path) -> tuple[list[str], str | None]:
    """A script's PEP 723 ``dependencies`` and ``requires-python``."""
    try:
        text = read_text(path)
    except OSError as exc:
        raise InvalidRequirement(f"cannot read script: {exc.strerror}", source=str(path)) \
            from None
    except UnicodeDecodeError as exc:
        raise InvalidRequirement(f"cannot read script: {_not_text(exc)}",
                                 source=str(path)) from None
    return _script_metadata_text(text, str(path))


def _script_metadata_text(text: str, source: str) -> tuple[list[str], str | None]:
    blocks = [m for m in _SCRIPT_BLOCK.finditer(text) if m.group("type") == "script"]
    if len(blocks) > 1:
        raise InvalidRequirement("more than one '# /// script' block", source=source)
    if not blocks:
        return [], None
    content = "".join(line[2:] if line.startswith("# ") else line[1:]
                      for line in blocks[0].group("content").splitlines(keepends=True))
    from . import toml
    try:
        data = toml.loads(content)
    except ValueError as exc:
        raise InvalidRequirement(f"the '# /// script' block is not valid TOML: {exc}",
                                 source=source) from None
    deps = data.get("dependencies", [])
    rp = data.get("requires-python")
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        raise InvalidRequirement("'dependencies' must be a list of strings", source=source)
    if rp is not None and not isinstance(rp, str):
        raise InvalidRequirement("'requires-python' must be a string", source=source)
    return list(deps), rp
