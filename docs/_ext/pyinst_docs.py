"""Generated pages for the docs, written when the build starts so they cannot go stale:

- ``_generated/cli.md``: the CLI reference, walked from the real argparse parser, with
  each option's ``PYINST_*`` variable and config key from the one settings table;
- ``_generated/benchmarks.md`` and ``_generated/bench.svg``: the latest benchmark tables
  from ``benchmarks/results/`` and a chart drawn from them (matplotlib, no pyplot state).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parents[1]
ROOT = DOCS.parent
OUT = DOCS / "_generated"
RESULTS = ROOT / "benchmarks" / "results"


# -- CLI reference -----------------------------------------------------------------------

def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _subcommands(parser: argparse.ArgumentParser
                 ) -> list[tuple[str, str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            return [(name, helps.get(name, ""), sub) for name, sub in action.choices.items()]
    return []


def _option_rows(parser: argparse.ArgumentParser, settings: dict[str, Any]) -> list[str]:
    rows = []
    for group in parser._action_groups:
        actions = [a for a in group._group_actions if a.help != argparse.SUPPRESS]
        if not actions:
            continue
        rows.append(f"\n**{group.title}**\n")
        rows.append("| option | what it does | default | environment / config key |")
        rows.append("| --- | --- | --- | --- |")
        for a in actions:
            if a.option_strings:
                meta = ""
                if a.nargs != 0:
                    meta = " " + (a.metavar if isinstance(a.metavar, str)
                                  else a.dest.upper())
                flags = ", ".join(f"`{o}{meta}`" for o in a.option_strings)
            else:
                flags = f"`{a.metavar or a.dest}`"
            helptext = a.help or ""
            if a.choices is not None and not a.option_strings:
                helptext += f" (one of {', '.join(map(str, a.choices))})"
            elif a.choices is not None:
                helptext += f" (one of {', '.join(f'`{c}`' for c in a.choices)})"
            default = a.default
            shown = "" if default in (None, False, [], argparse.SUPPRESS, 0) or \
                a.nargs == 0 else f"`{default}`"
            setting = settings.get(a.dest)
            where = f"`{setting.env}` / `{setting.key}`" if setting is not None else ""
            rows.append(f"| {_cell(flags)} | {_cell(helptext)} | {_cell(shown)} | {where} |")
    return rows


def cli_reference() -> str:
    from pyinst.cli import build_parser
    from pyinst.cli.settings import SETTINGS

    settings = {s.dest: s for s in SETTINGS}
    parser = build_parser()
    lines = ["# Command-line reference", "",
             "Generated from pyinst's own argument parser when these docs are built.",
             "Every long option that is also a setting can come from a `PYINST_*`",
             "environment variable, `[tool.pyinst]` in `pyproject.toml` or the user's",
             "`pyinst.toml`; `pyinst config list` shows what is in effect.", "",
             "| command | what it does |", "| --- | --- |"]
    subs = _subcommands(parser)
    lines += [f"| [`pyinst {name}`](#pyinst-{name}) | {_cell(h)} |" for name, h, _ in subs]
    for name, helptext, sub in subs:
        usage = sub.format_usage().strip()
        usage = re.sub(r"^usage: ", "", usage).replace("\n" + " " * len("usage: "), "\n")
        lines += ["", f"(pyinst-{name})=", f"## `pyinst {name}`", "",
                  helptext[:1].upper() + helptext[1:] + ".", "",
                  "```text", usage, "```", *_option_rows(sub, settings)]
    return "\n".join(lines) + "\n"


# -- benchmarks --------------------------------------------------------------------------

def _tables(markdown: str) -> list[list[list[str]]]:
    """Every pipe table in a Markdown text, as rows of cells (the separator row dropped)."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*markdown.splitlines(), ""]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(re.fullmatch(r":?-+:?", c) for c in cells):
                current.append(cells)
        elif current:
            tables.append(current)
            current = []
    return tables


def bench_chart(results: Path, svg: Path) -> list[str]:
    """Draw pyinst, uv and pip wall times per case from the first table of ``results``;
    returns the cases drawn."""
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    table = _tables(results.read_text(encoding="utf-8"))[0]
    header, rows = table[0], table[1:]
    tools = ["pyinst", "uv", "pip"]
    cols = [header.index(t) for t in tools]
    cases = [r[0] for r in rows]
    fig = Figure(figsize=(8, 0.55 * len(cases) + 1.2))
    FigureCanvasSVG(fig)
    ax = fig.add_subplot()
    height = 0.26
    colours = {"pyinst": "#3b7dd8", "uv": "#d8a23b", "pip": "#8a8a8a"}
    for k, (tool, col) in enumerate(zip(tools, cols)):
        values = [float(r[col]) for r in rows]
        ys = [i + (k - 1) * height for i in range(len(cases))]
        ax.barh(ys, values, height=height, label=tool, color=colours[tool])
    ax.set_yticks(range(len(cases)), labels=cases, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("wall seconds (log scale, lower is better)")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    svg.parent.mkdir(parents=True, exist_ok=True)
    # no date and a fixed id salt: the same results draw the same file
    fig.savefig(svg, format="svg", metadata={"Date": None})
    return cases


def bench_page() -> str:
    results = RESULTS / "latest.md"
    text = results.read_text(encoding="utf-8")
    cases = bench_chart(results, OUT / "bench.svg")
    body = text.split("\n", 1)[1].lstrip()  # its own title gives way to the page's
    return ("## Latest results\n\n"
            f"From `benchmarks/results/{results.name}` ({len(cases)} cases), as "
            "`nox -s bench` wrote it:\n\n"
            "```{image} _generated/bench.svg\n:alt: pyinst, uv and pip wall times per case\n```\n\n"
            + body)


def generate(app: Any = None) -> None:
    OUT.mkdir(exist_ok=True)
    for name, text in (("cli.md", cli_reference()), ("benchmarks.md", bench_page())):
        path = OUT / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")


def setup(app: Any) -> dict[str, Any]:
    import matplotlib

    matplotlib.rcParams["svg.hashsalt"] = "pyinst-docs"  # stable ids in the chart
    matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: small, searchable
    app.connect("builder-inited", generate)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
