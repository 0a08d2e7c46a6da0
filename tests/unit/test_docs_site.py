"""The generated parts of the docs site: the CLI reference walks the real parser, and the
benchmark chart is drawn from the numbers in ``benchmarks/results/``. (``nox -s docs``
builds the whole site with warnings as errors, and runs this file too.)"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from pyinst.cli import build_parser
from pyinst.cli.settings import SETTINGS

ROOT = Path(__file__).resolve().parents[2]


def _ext() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pyinst_docs", ROOT / "docs" / "_ext" /
                                                  "pyinst_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_cli_reference_has_every_command_option_and_setting() -> None:
    text = _ext().cli_reference()
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, command in sub.choices.items():  # type: ignore[attr-defined]
        assert f"## `pyinst {name}`" in text
        for action in command._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help"):
                    assert f"`{flag}" in text, (name, flag)
    for setting in SETTINGS:
        assert f"`{setting.env}` / `{setting.key}`" in text


def test_the_benchmark_tables_are_read_from_the_results() -> None:
    tables = _ext()._tables((ROOT / "benchmarks" / "results" / "latest.md").read_text())
    header = tables[0][0]
    assert header[:4] == ["case", "pyinst", "uv", "pip"]
    assert all(len(row) == len(header) for row in tables[0])


def test_the_chart_is_drawn_from_the_numbers(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")  # in the docs session; the tests session skips
    results = tmp_path / "latest.md"
    results.write_text("# title\n\n| case | pyinst | uv | pip | pyinst/uv |\n"
                       "| --- | ---: | ---: | ---: | ---: |\n"
                       "| first case | 1.00 | 0.50 | 10.00 | 2.00 |\n"
                       "| second case | 2.00 | 4.00 | 20.00 | 0.50 |\n")
    ext = _ext()
    import matplotlib

    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "t"}):
        cases = ext.bench_chart(results, tmp_path / "chart.svg")
    svg = (tmp_path / "chart.svg").read_text()
    assert cases == ["first case", "second case"]
    assert "first case" in svg and "second case" in svg and "pyinst" in svg
    # six bars, and their lengths keep the ratios of the numbers (log scale: equal
    # ratios give equal differences)
    # (a bar on a log axis starts far left of the plot: that is how it is told apart)
    bars = re.findall(r'<path d="M -[\d.]+ [\d.]+ \nL ([\d.]+) [\d.]+ ', svg)
    assert len(bars) == 6
    pyinst1, pyinst2, uv1, uv2, pip1, pip2 = map(float, bars)
    assert pip1 > pyinst1 > uv1 and uv2 > pyinst2
    assert abs((pyinst2 - pyinst1) - (pip2 - pip1)) < 0.5  # both doubled


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__]))
