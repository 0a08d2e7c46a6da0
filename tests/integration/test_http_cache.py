"""Index pages through the HTTP cache: freshness, revalidation, --refresh, --offline."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

import pyinst
from pyinst import Config, Installer, Target

from helpers import IndexServer, run_cli, run_in


def _resolve(index: IndexServer, cache: Path, target: Target, **kw: object) -> None:
    cfg = Config(index_urls=(index.url,), retries=0, cache_dir=cache, **kw)  # type: ignore[arg-type]
    with Installer(cfg) as inst:
        assert str(inst.resolve(["app"], target).pins["app"].version) == "1.0"


def test_fresh_pages_are_not_requested_again(index: IndexServer, tmp_path: Path,
                                             venv_factory: Callable[[str], Path]) -> None:
    index.page_headers = {"Cache-Control": "max-age=600"}
    target = Target.from_python(venv_factory("3.13"))
    _resolve(index, tmp_path / "cache", target)
    first = len(index.page_statuses)
    assert first == 2  # app and lib
    _resolve(index, tmp_path / "cache", target)
    assert len(index.page_statuses) == first
    _resolve(index, tmp_path / "cache", target, refresh=True)  # revalidates: 304s
    assert [s for _, s in index.page_statuses[first:]] == [304, 304]


def test_stale_pages_are_revalidated(index: IndexServer, tmp_path: Path,
                                     venv_factory: Callable[[str], Path]) -> None:
    index.page_headers = {"Cache-Control": "no-cache"}
    target = Target.from_python(venv_factory("3.13"))
    _resolve(index, tmp_path / "cache", target)
    _resolve(index, tmp_path / "cache", target)
    assert [s for _, s in index.page_statuses] == [200, 200, 304, 304]


def test_a_bare_304_keeps_the_stored_freshness_rules(
        index: IndexServer, tmp_path: Path, venv_factory: Callable[[str], Path]) -> None:
    """RFC 9111 4.3.4: a 304 without caching headers leaves the stored ones in force, so
    a page served with an old Last-Modified stays heuristically fresh after it; it is
    not revalidated on every later run (as it was when the bare 304 counted as 'no
    freshness')."""
    import email.utils
    import time

    index.page_headers = {"Last-Modified": email.utils.formatdate(time.time() - 86400,
                                                                  usegmt=True)}
    index.headers_on_304 = False
    target = Target.from_python(venv_factory("3.13"))
    _resolve(index, tmp_path / "cache", target)
    _resolve(index, tmp_path / "cache", target, refresh=True)  # bare 304s
    _resolve(index, tmp_path / "cache", target)  # fresh again: no request
    assert [s for _, s in index.page_statuses] == [200, 200, 304, 304]
    # and a stored max-age=0 stays in force across a bare 304
    index.page_headers["Cache-Control"] = "max-age=0"
    _resolve(index, tmp_path / "c2", target)
    _resolve(index, tmp_path / "c2", target)
    _resolve(index, tmp_path / "c2", target)
    assert [s for _, s in index.page_statuses[4:]] == [200, 200, 304, 304, 304, 304]


def test_no_store_pages_are_not_kept(index: IndexServer, tmp_path: Path,
                                     venv_factory: Callable[[str], Path]) -> None:
    index.page_headers = {"Cache-Control": "no-store"}
    target = Target.from_python(venv_factory("3.13"))
    _resolve(index, tmp_path / "cache", target)
    _resolve(index, tmp_path / "cache", target)
    assert [s for _, s in index.page_statuses] == [200, 200, 200, 200]


def test_offline_installs_from_the_cache_alone(index: IndexServer, tmp_path: Path,
                                               venv_factory: Callable[[str], Path]) -> None:
    cache = tmp_path / "cache"
    first = venv_factory("3.13")
    proc = run_cli("install", "-p", str(first), "-i", index.url, "--cache-dir", str(cache), "app")
    assert proc.returncode == 0, proc.stderr
    index.close()  # the index is gone
    second = venv_factory("3.13")
    proc = run_cli("install", "-p", str(second), "-i", index.url, "--cache-dir", str(cache),
                   "--offline", "app")
    assert proc.returncode == 0, proc.stderr
    assert run_in(second, "import app, lib; print(lib.VERSION)") == "1.1"
    proc = run_cli("install", "-p", str(second), "-i", index.url, "--cache-dir", str(cache),
                   "--offline", "simple")
    assert proc.returncode == 1
    assert "'simple'" in proc.stderr and "--offline" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_offline_never_reaches_the_network(index: IndexServer, tmp_path: Path,
                                           venv_factory: Callable[[str], Path]) -> None:
    target = Target.from_python(venv_factory("3.13"))
    with pytest.raises(pyinst.IndexFetchError, match="--offline"):
        _resolve(index, tmp_path / "empty", target, offline=True)
    assert index.requests == []
