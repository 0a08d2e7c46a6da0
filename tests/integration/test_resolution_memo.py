"""Remembered resolutions: an identical request on an unchanged target, against index
pages that are unchanged and fresh in the cache, gets the earlier answer without running
the resolver; anything else resolves for real."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from pyinst import Config, Installer, Target
from pyinst.events import Event, ResolveFinished

from helpers import IndexFile, IndexServer, WheelSpec, build_wheel


def _index(make_index: Callable[..., IndexServer], tmp_path: Path,
           max_age: int = 600) -> IndexServer:
    def wheel(*args: Any, **kw: Any) -> IndexFile:
        return IndexFile(build_wheel(WheelSpec(*args, **kw), tmp_path / "w"))

    server = make_index({"app": [wheel("app", "1.0", requires=("lib>=1",))],
                         "lib": [wheel("lib", "1.0")]})
    server.page_headers = {"Cache-Control": f"max-age={max_age}"}
    return server


def _resolve(server: IndexServer, cache: Path, target: Target, reqs: list[str] | None = None,
             **kw: Any) -> tuple[dict[str, str], bool]:
    seen: list[Event] = []
    cfg = Config(index_urls=(server.url,), retries=0, cache_dir=cache, **kw)
    with Installer(cfg, on_event=seen.append) as inst:
        res = inst.resolve(reqs or ["app"], target)
    finished = [e for e in seen if isinstance(e, ResolveFinished)]
    return {p.name: str(p.version) for p in res}, finished[-1].remembered


def test_the_same_request_is_answered_from_memory_with_the_same_pins(
        make_index: Callable[..., IndexServer], tmp_path: Path,
        venv_factory: Callable[[str], Path]) -> None:
    server = _index(make_index, tmp_path)
    target = Target.from_python(venv_factory("3.12"))
    first, remembered = _resolve(server, tmp_path / "c", target)
    assert first == {"app": "1.0", "lib": "1.0"} and not remembered
    again, remembered = _resolve(server, tmp_path / "c", target)
    assert again == first and remembered
    # a fresh environment of the same interpreter elsewhere is the same question
    elsewhere = Target.from_python(venv_factory("3.12"))
    assert elsewhere.site_dirs != target.site_dirs
    assert _resolve(server, tmp_path / "c", elsewhere) == (first, True)
    # another interpreter is not
    assert not _resolve(server, tmp_path / "c", Target.from_python(venv_factory("3.13")))[1]
    # the remembered pins carry what an install needs: links, metadata, dependencies
    with Installer(Config(index_urls=(server.url,), cache_dir=tmp_path / "c")) as inst:
        result = inst.install(["app"], target)
    assert sorted(result.installed) == [("app", "1.0"), ("lib", "1.0")]
    # another request, or the same on a target that now holds something, is new
    assert not _resolve(server, tmp_path / "c", target, ["app", "lib"])[1]
    assert not _resolve(server, tmp_path / "c", target)[1]
    assert _resolve(server, tmp_path / "c", target)[1]


def test_a_changed_index_page_is_seen_not_the_memory(
        make_index: Callable[..., IndexServer], tmp_path: Path,
        venv_factory: Callable[[str], Path]) -> None:
    server = _index(make_index, tmp_path)
    target = Target.from_python(venv_factory("3.12"))
    _resolve(server, tmp_path / "c", target)
    server.projects["lib"].append(IndexFile(build_wheel(WheelSpec("lib", "2.0"),
                                                        tmp_path / "w2")))
    # fresh pages hide the upload (as any HTTP cache would) until --refresh...
    assert _resolve(server, tmp_path / "c", target)[0]["lib"] == "1.0"
    pins, remembered = _resolve(server, tmp_path / "c", target, refresh=True)
    assert pins["lib"] == "2.0" and not remembered
    # ...after which the rewritten pages make the old memory useless, and the new answer
    # is the one remembered
    assert _resolve(server, tmp_path / "c", target) == ({"app": "1.0", "lib": "2.0"}, True)


def test_a_stale_page_means_resolving_again(
        make_index: Callable[..., IndexServer], tmp_path: Path,
        venv_factory: Callable[[str], Path]) -> None:
    server = _index(make_index, tmp_path, max_age=1)
    target = Target.from_python(venv_factory("3.12"))
    _resolve(server, tmp_path / "c", target)
    time.sleep(1.1)
    requests = len(server.page_statuses)
    assert not _resolve(server, tmp_path / "c", target)[1]
    assert len(server.page_statuses) > requests  # the pages were revalidated
    assert _resolve(server, tmp_path / "c", target)[1]  # and are fresh again


def test_damaged_memory_is_ignored(make_index: Callable[..., IndexServer], tmp_path: Path,
                                   venv_factory: Callable[[str], Path]) -> None:
    server = _index(make_index, tmp_path)
    target = Target.from_python(venv_factory("3.12"))
    _resolve(server, tmp_path / "c", target)
    entries = list((tmp_path / "c" / "resolutions-v1").rglob("*.json"))
    assert len(entries) == 1
    for damage in ('{"pages": [], "pins": [{"name": "app"}]}', "not json", ""):
        entries[0].write_text(damage)
        assert _resolve(server, tmp_path / "c", target) == (
            {"app": "1.0", "lib": "1.0"}, False)


def test_urls_paths_and_find_links_are_never_remembered(
        make_index: Callable[..., IndexServer], tmp_path: Path,
        venv_factory: Callable[[str], Path]) -> None:
    server = _index(make_index, tmp_path)
    target = Target.from_python(venv_factory("3.12"))
    wheel = build_wheel(WheelSpec("local", "1.0"), tmp_path / "local")
    _resolve(server, tmp_path / "c", target, ["app", f"local @ {wheel.as_uri()}"])
    _resolve(server, tmp_path / "c", target, find_links=(str(tmp_path / "local"),))
    assert not list((tmp_path / "c" / "resolutions-v1").rglob("*.json"))
    assert not _resolve(server, tmp_path / "c", target,
                        find_links=(str(tmp_path / "local"),))[1]
