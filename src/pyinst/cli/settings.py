"""Where the CLI's settings come from, lowest first: built-in defaults, the user's
``pyinst.toml`` (in the platform's config directory), ``[tool.pyinst]`` of the project's
``pyproject.toml`` (in the current directory), ``PYINST_*`` environment variables, the
command line. One table declares every setting, its variable and its key."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Setting:
    #: the argparse destination (the long option with dashes as underscores)
    dest: str
    #: "str", "bool", "int", "float" or "list"
    kind: str

    @property
    def key(self) -> str:  # in pyinst.toml and [tool.pyinst]
        return self.dest.replace("_", "-")

    @property
    def env(self) -> str:
        return "PYINST_" + self.dest.upper()


SETTINGS = (
    Setting("index_url", "str"), Setting("extra_index_url", "list"),
    Setting("find_links", "list"), Setting("no_index", "bool"),
    Setting("index_strategy", "str"), Setting("pre", "bool"),
    Setting("only_binary", "list"), Setting("no_binary", "list"),
    Setting("cache_dir", "str"), Setting("no_cache", "bool"), Setting("refresh", "bool"),
    Setting("offline", "bool"), Setting("lock_timeout", "float"),
    Setting("link_mode", "str"), Setting("compile_bytecode", "bool"),
    Setting("unpack_processes", "int"),
    Setting("no_build_isolation", "bool"), Setting("break_system_packages", "bool"),
    Setting("python", "str"), Setting("cert", "str"), Setting("proxy", "str"),
    Setting("env_proxy", "bool"), Setting("keyring_provider", "str"),
    Setting("no_netrc", "bool"), Setting("timeout", "float"), Setting("retries", "int"),
)
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class SettingError(ValueError):
    pass


def user_config_file(environ: Mapping[str, str]) -> Path:
    explicit = environ.get("PYINST_CONFIG_FILE")
    if explicit:
        return Path(explicit)
    import platformdirs

    return Path(platformdirs.user_config_dir("pyinst", appauthor=False)) / "pyinst.toml"


def _toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}  # the usual case: no need to import a TOML parser at all
    except (OSError, ValueError) as exc:
        raise SettingError(f"cannot read {path}: {exc}") from None
    from .. import toml
    try:
        data: dict[str, Any] = toml.loads(text)
    except ValueError as exc:
        raise SettingError(f"cannot read {path}: {exc}") from None
    return data


def _coerce(setting: Setting, value: Any, where: str) -> Any:
    kind = setting.kind
    if kind == "list":
        items = value.split() if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
            raise SettingError(f"{where}: {setting.key} must be a list of strings")
        return list(items)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise SettingError(f"{where}: {setting.key} must be true or false")
    if kind in ("float", "int"):
        try:
            return int(value) if kind == "int" else float(value)
        except (TypeError, ValueError):
            raise SettingError(f"{where}: {setting.key} must be a number") from None
    if not isinstance(value, str):
        raise SettingError(f"{where}: {setting.key} must be a string")
    return value


def gather(environ: Mapping[str, str], cwd: Path) -> dict[str, tuple[Any, str]]:
    """dest -> (value, where it came from), for every setting given anywhere but the
    command line."""
    found: dict[str, tuple[Any, str]] = {}
    by_key = {s.key: s for s in SETTINGS}
    user = user_config_file(environ)
    project = cwd / "pyproject.toml"
    layers = [(str(user), _toml(user)),
              (f"{project} [tool.pyinst]", _toml(project).get("tool", {}).get("pyinst", {}))]
    for where, table in layers:
        if not isinstance(table, dict):
            raise SettingError(f"{where}: expected a table")
        for key, value in table.items():
            setting = by_key.get(key)
            if setting is None:
                raise SettingError(f"{where}: unknown setting '{key}' (known: "
                                   f"{', '.join(sorted(by_key))})")
            found[setting.dest] = (_coerce(setting, value, where), where)
    for setting in SETTINGS:
        if setting.env in environ:
            found[setting.dest] = (_coerce(setting, environ[setting.env], setting.env),
                                   setting.env)
    return found


def merge(parser: argparse.ArgumentParser, args: argparse.Namespace,
          found: Mapping[str, tuple[Any, str]]) -> dict[str, str]:
    """Fill in what the command line left at its default; returns those dests, each
    with where its value came from."""
    sub = parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and args.command in action.choices:
            sub = action.choices[args.command]
    known = {a.dest: a for a in sub._actions}
    filled = {}
    for dest, (value, where) in found.items():
        choices = known[dest].choices if dest in known else None
        if choices is not None and value not in choices:
            raise SettingError(f"{where}: {dest.replace('_', '-')} must be one of "
                               f"{', '.join(map(str, choices))}, not {value!r}")
        if dest in known and getattr(args, dest, None) == sub.get_default(dest):
            setattr(args, dest, value)
            filled[dest] = where
    return filled


def describe(found: Mapping[str, tuple[Any, str]]) -> list[str]:
    """Every setting with its effective value (before any command line) and source."""
    lines = []
    for s in SETTINGS:
        value, source = found.get(s.dest, (None, "default"))
        shown = "(default)" if source == "default" else repr(value)
        lines.append(f"{s.key} = {shown}  [{source}] (env: {s.env})")
    return lines


__all__ = ["SETTINGS", "Setting", "SettingError", "describe", "gather", "merge",
           "user_config_file"]
