"""Embedding: plugins installed at runtime into an app's own directory, then imported;
and the library ignores the process environment unless told to read it."""

from __future__ import annotations

import importlib
import json
import socket
import sys
from pathlib import Path
from typing import Callable

import pytest

import pyinst
from pyinst import Config, Installer, Target

from helpers import IndexServer, run_cli


def test_install_plugins_into_app_directory_and_import_them(
    index: IndexServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugins = tmp_path / "plugins"
    with Installer(Config(index_urls=(index.url,), retries=0)) as inst:
        result = inst.install(["app[extra]"], Target.directory(plugins))
    assert {n for n, _ in result.installed} == {"app", "lib", "helper"}
    # What the embedding guide shows: put the directory on sys.path and import.
    monkeypatch.syspath_prepend(str(plugins))
    for name in ("app", "lib", "helper"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    importlib.invalidate_caches()
    lib = importlib.import_module("lib")
    assert lib.VERSION == "1.1" and str(plugins) in str(lib.__file__)
    import importlib.metadata as md

    dist = md.distribution("app")
    assert dist.version == "1.0" and dist.read_text("INSTALLER") == "pyinst\n"
    for name in ("app", "lib", "helper"):
        sys.modules.pop(name, None)


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


def test_proxy_environment_is_ignored_unless_trust_env(
    index: IndexServer, venv_factory: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = f"http://127.0.0.1:{_closed_port()}"
    for var in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(var, proxy)
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    target = Target.from_python(venv_factory("3.13"))
    with Installer(Config(index_urls=(index.url,), retries=0)) as inst:
        assert inst.resolve(["simple<3"], target).pins["simple"].version.public == "2.0"
    with Installer(Config(index_urls=(index.url,), retries=0, trust_env=True)) as inst, \
            pytest.raises(pyinst.IndexFetchError):
        inst.resolve(["simple<3"], target)


def test_provision_cli_with_a_manifest(index: IndexServer, venv_factory: Callable[[str], Path],
                                       tmp_path: Path) -> None:
    a, b = venv_factory("3.9"), venv_factory("3.13")
    manifest = tmp_path / "envs.toml"
    manifest.write_text(
        f'[[target]]\npython = "{a}"\nrequirements = ["app"]\n\n'
        f'[[target]]\npython = "{b}"\nrequirements = ["app[extra]", "simple<3"]\n\n'
        '[[target]]\ndirectory = "plugins"\nrequirements = ["nosuchproject"]\n')
    proc = run_cli("provision", str(manifest), "-i", index.url, "--no-cache", "-v")
    assert proc.returncode == 1
    assert "Provisioned 2 of 3 targets" in proc.stdout
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "nosuchproject" in errors[0] and "plugins" in errors[0]
    assert "resolved 2 packages for" in proc.stderr  # -v prints plain progress lines
    json_manifest = tmp_path / "envs.json"
    json_manifest.write_text(json.dumps({"targets": [{"python": str(a),
                                                      "requirements": ["lib==1.0"]}]}))
    proc = run_cli("provision", str(json_manifest), "-i", index.url, "--no-cache")
    assert proc.returncode == 0, proc.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text("[[target]]\nrequirements = 3\n")
    proc = run_cli("provision", str(bad), "-i", index.url)
    assert proc.returncode == 2 and "needs a list of 'requirements'" in proc.stderr
