"""Hostile or broken indexes: what they say is checked against what they serve."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

import pyinst
from pyinst import Config, Installer, Target

from helpers import IndexFile, IndexServer, WheelSpec, build_wheel, https_server, tree_snapshot


def test_a_sidecar_that_is_not_the_wheels_metadata_is_refused(
        make_index: Callable[..., IndexServer], tmp_path: Path,
        venv_factory: Callable[[str], Path]) -> None:
    # the sidecar hides a dependency the wheel really has (or claims one it has not)
    wheel = build_wheel(WheelSpec("twofaced", "1.0", requires=("helper",)), tmp_path / "w")
    helper = build_wheel(WheelSpec("helper", "1.0"), tmp_path / "w")
    lie = b"Metadata-Version: 2.1\nName: twofaced\nVersion: 1.0\n"
    index = make_index({"twofaced": [IndexFile(wheel, sidecar=lie)],
                        "helper": [IndexFile(helper)]})
    python = venv_factory("3.12")
    before = tree_snapshot(python.parent.parent)
    with Installer(Config(index_urls=(index.url,), cache_dir=tmp_path / "c", retries=0)) \
            as inst, pytest.raises(pyinst.InvalidWheel) as info:
        inst.install(["twofaced"], Target.from_python(python))
    assert "the metadata the index gave for 'twofaced' 1.0 is not the metadata inside" \
        in str(info.value)
    assert tree_snapshot(python.parent.parent) == before


def test_credentials_never_show_in_messages_locks_reports_or_direct_url(
        index: IndexServer, tmp_path: Path, venv_factory: Callable[[str], Path]) -> None:
    import json

    from helpers import run_cli

    secret = "s3cret-T0ken"
    with_creds = index.url.replace("http://", f"http://alice:{secret}@")
    python = venv_factory("3.12")

    missing = run_cli("install", "-p", str(python), "-i", with_creds, "--no-cache",
                      "nosuchproject")
    assert missing.returncode == 1
    assert secret not in missing.stderr and "alice:****@" in missing.stderr
    logged = run_cli("install", "-vv", "-p", str(python), "-i", with_creds, "--no-cache",
                     "--dry-run", "app")  # httpx logs every request's URL
    assert logged.returncode == 0, logged.stderr
    assert "HTTP Request" in logged.stderr and secret not in logged.stderr

    lock = tmp_path / "pylock.toml"
    proc = run_cli("lock", "-p", str(python), "-i", with_creds, "--no-cache", "-o", str(lock),
                   "app")
    assert proc.returncode == 0, proc.stderr
    assert secret not in lock.read_text() and "alice" not in lock.read_text()

    wheel_url = f"{with_creds.rsplit('/simple/', 1)[0]}/files/helper-1.0-py3-none-any.whl"
    report = tmp_path / "report.json"
    proc = run_cli("install", "-p", str(python), "--no-index", "--no-cache", "--report",
                   str(report), f"helper @ {wheel_url}")
    assert proc.returncode == 0, proc.stderr
    assert secret not in report.read_text()
    direct = json.loads(run_in_python(python, "helper"))
    assert secret not in json.dumps(direct) and "alice" not in direct["url"]
    assert secret not in proc.stdout + proc.stderr


def run_in_python(python: Path, dist: str) -> str:
    from helpers import run_in

    return run_in(python, "import importlib.metadata as m, sys; "
                          f"sys.stdout.write(m.distribution({dist!r}).read_text("
                          "'direct_url.json'))")


def test_credentials_do_not_follow_a_redirect_to_another_origin(
        make_index: Callable[..., IndexServer], tmp_path: Path,
        venv_factory: Callable[[str], Path]) -> None:
    wheel = build_wheel(WheelSpec("moved", "1.0"), tmp_path / "w")
    origin = make_index({"moved": [IndexFile(wheel)]}, sidecars=False)
    elsewhere = make_index({"moved": [IndexFile(wheel)]})
    origin.redirect_files_to = f"http://localhost:{elsewhere.port}/files/"
    index_url = origin.url.replace("http://", "http://alice:pw@")
    python = venv_factory("3.12")
    with Installer(Config(index_urls=(index_url,), cache_dir=tmp_path / "c", retries=0)) \
            as inst:
        inst.install(["moved"], Target.from_python(python))
    sent_to_origin = [h for p, h in origin.headers_seen if p.startswith("/files/")]
    sent_elsewhere = [h for p, h in elsewhere.headers_seen if p.startswith("/files/")]
    assert sent_to_origin and all("Authorization" in h for h in sent_to_origin)
    assert sent_elsewhere and not any(
        k.lower() in ("authorization", "cookie", "proxy-authorization")
        for h in sent_elsewhere for k in h)


def test_a_redirect_from_https_to_http_is_refused(
        index: IndexServer, tmp_path: Path, venv_factory: Callable[[str], Path]) -> None:
    import http.server

    plain = index.url  # the same pages over plain http

    class Redirect(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(301)
            self.send_header("Location", plain + self.path.split("/simple/", 1)[-1])
            self.send_header("Content-Length", "0")
            self.end_headers()

    with https_server(tmp_path, Redirect) as (url, cert):
        secure = url + "simple/"
        python = venv_factory("3.12")
        with Installer(Config(index_urls=(secure,), ca_bundle=cert, retries=0,
                              cache_dir=tmp_path / "c")) as inst, \
                pytest.raises(pyinst.IndexFetchError) as info:
            inst.install(["simple"], Target.from_python(python))
        assert "it leaves https" in str(info.value)
        assert not [p for p in index.requests if p.startswith("/simple/simple")]
