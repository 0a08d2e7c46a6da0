from __future__ import annotations

import argparse

import pytest

from pyinst.cli.progress import _rich_sink, plain_line, progress_sink
from pyinst.events import (
    DownloadFinished,
    DownloadProgress,
    InstallProgress,
    ResolveFinished,
    TargetFinished,
)


def test_rich_bars_take_download_events(capsys: pytest.CaptureFixture[str]) -> None:
    with _rich_sink() as sink:
        for done in (10, 50, 100):
            sink(DownloadProgress("pkg", "https://i/pkg.whl", done, 100))
        sink(DownloadProgress("other", "https://i/other.whl", 5, None))
        sink(DownloadFinished("pkg", "https://i/pkg.whl", 100))
        sink(InstallProgress("/site", "pkg", "1.0", 1, 1))


def test_plain_lines() -> None:
    assert plain_line(ResolveFinished("/t", 3, 0.5)) == "resolved 3 packages for /t in 0.50s"
    assert plain_line(TargetFinished("/t", False, "boom")) == "failed: /t: boom"
    assert plain_line(DownloadProgress("p", "u", 1, 2)) is None


def test_quiet_and_non_terminal_sinks_drop_events(capsys: pytest.CaptureFixture[str]) -> None:
    for ns in (argparse.Namespace(quiet=True, verbose=0),
               argparse.Namespace(quiet=False, verbose=0)):
        with progress_sink(ns) as sink:
            sink(ResolveFinished("/t", 1, 0.1))
    assert capsys.readouterr().err == ""
    with progress_sink(argparse.Namespace(quiet=False, verbose=1)) as sink:
        sink(ResolveFinished("/t", 1, 0.1))
    assert capsys.readouterr().err == "resolved 1 packages for /t in 0.10s\n"
