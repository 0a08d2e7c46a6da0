"""The examples in the README and docs cannot rot: every ``pyinst ...`` command line in
them (indented blocks and inline code, such as the pip and uv tables) is parsed by the
real command-line parser, and every Python block compiles."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from pyinst.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _command_lines() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for line in page.read_text(encoding="utf-8").splitlines():
            text = line.strip()
            if not line.startswith("    ") or not text.startswith("pyinst "):
                continue
            text = re.sub(r"\s+#\s.*$", "", text)  # a trailing comment
            if re.search(r"\s\[-|\s\[[A-Z]", text):
                continue  # a synopsis ([-p PY] ...), not a command
            found.append((page.name, text))
    return found


def _inline_commands() -> list[tuple[str, str]]:
    """``pyinst ...`` in inline code: the pip and uv tables, and prose."""
    found = []
    for page in PAGES:
        for m in re.finditer(r"(?<!`)`(pyinst [^`]+)`(?!`)", page.read_text(encoding="utf-8")):
            found.append((page.name, m.group(1)))
    return found


def _python_blocks() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for m in re.finditer(r"```python\n(.*?)```", page.read_text(encoding="utf-8"),
                             re.S):
            found.append((page.name, m.group(1)))
    return found


def test_there_are_examples() -> None:
    assert len(_command_lines()) > 30 and len(_python_blocks()) >= 3
    assert len([p for p, _ in _inline_commands() if p == "coming-from.md"]) > 50


@pytest.mark.parametrize(("page", "line"), _command_lines() + _inline_commands())
def test_every_documented_command_parses(page: str, line: str) -> None:
    parser = build_parser()
    try:
        args = parser.parse_args(shlex.split(line)[1:])
    except SystemExit as exc:  # argparse's way of saying no
        pytest.fail(f"{page}: '{line}' does not parse (exit {exc.code})")
    assert args.command is not None


@pytest.mark.parametrize(("page", "code"), _python_blocks())
def test_every_python_example_compiles(page: str, code: str) -> None:
    compile(code, page, "exec")
    # and what it imports from pyinst exists
    import pyinst

    for name in re.findall(r"\bpyinst\.([A-Za-z_]+)", code) + [
            n.strip() for m in re.finditer(r"from pyinst import ([\w, ]+)", code)
            for n in m.group(1).split(",")]:
        assert hasattr(pyinst, name), f"{page}: pyinst has no {name}"
