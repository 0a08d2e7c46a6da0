"""Credentials for a private index: from the URL, a netrc file, and the real ``keyring``
command (with a file-backed backend); certificates from a CA bundle or the system store.
Each against a loopback index that answers 401 without the right basic credentials."""

from __future__ import annotations

import json
import os
import ssl
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from buildsupport import public_wheels
from pyinst import Config, Installer, Target
from pyinst.errors import IndexFetchError, UsageError

from helpers import (
    IndexFile,
    IndexServer,
    WheelSpec,
    build_wheel,
    https_server,
    run_cli,
    run_in,
)

SECRET = "s3cr3t-pa55"
#: keyring's command and what it needs on 3.12 (no SecretStorage: the test backend is
#: a file)
KEYRING = ["keyring", "jaraco.classes", "jaraco.functools", "jaraco.context",
           "more-itertools"]


@pytest.fixture
def private(make_index: Callable[..., IndexServer], tmp_path: Path) -> IndexServer:
    wheel = build_wheel(WheelSpec("internal", "1.0", files={
        "internal/__init__.py": "SECRET_SAUCE = 42\n"}), tmp_path / "w")
    server = make_index({"internal": [IndexFile(wheel)]})
    server.auth = ("alice", SECRET)
    return server


def _installed(python: Path) -> bool:
    return run_in(python, "import importlib.util as u; print(u.find_spec('internal') "
                          "is not None)") == "True"


def test_without_credentials_the_error_says_what_is_wanted_and_nothing_is_installed(
        private: IndexServer, tmp_path: Path, venv_factory: Callable[[str], Path]) -> None:
    python = venv_factory("3.12")
    proc = run_cli("install", "-p", str(python), "-i", private.url, "--no-cache",
                   "--no-netrc", "internal")
    assert proc.returncode == 1
    assert "HTTP 401" in proc.stderr and "'internal'" in proc.stderr
    assert "credentials" in proc.stderr and "Traceback" not in proc.stderr
    assert not _installed(python)


def test_credentials_in_the_index_url_cover_its_files(
        private: IndexServer, tmp_path: Path, venv_factory: Callable[[str], Path]) -> None:
    python = venv_factory("3.12")
    url = private.url.replace("http://", f"http://alice:{SECRET}@")
    proc = run_cli("install", "-p", str(python), "-i", url, "--no-cache", "internal")
    assert proc.returncode == 0, proc.stderr
    assert _installed(python)
    files = [h for p, h in private.headers_seen if p.startswith("/files/")]
    assert files and all("Authorization" in h for h in files)
    assert SECRET not in proc.stdout + proc.stderr


def test_wrong_credentials_are_one_clear_error_without_the_password(
        private: IndexServer, tmp_path: Path, venv_factory: Callable[[str], Path]) -> None:
    python = venv_factory("3.12")
    url = private.url.replace("http://", "http://alice:not-it@")
    proc = run_cli("install", "-p", str(python), "-i", url, "--no-cache", "internal")
    assert proc.returncode == 1
    assert "HTTP 401" in proc.stderr and "refused" in proc.stderr
    assert "not-it" not in proc.stderr and "Traceback" not in proc.stderr


def test_netrc_credentials_by_host(private: IndexServer, tmp_path: Path,
                                   venv_factory: Callable[[str], Path]) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine elsewhere.invalid login bob password nope\n"
                     f"machine 127.0.0.1 login alice password {SECRET}\n")
    netrc.chmod(0o600)
    python = venv_factory("3.12")
    proc = run_cli("install", "-p", str(python), "-i", private.url, "--no-cache",
                   "internal", env={"NETRC": str(netrc)})
    assert proc.returncode == 0, proc.stderr
    assert _installed(python)
    # the library takes the file from its Config, never from $NETRC
    with Installer(Config(index_urls=(private.url,), netrc_file=netrc,
                          cache_dir=tmp_path / "c")) as inst:
        assert [p.name for p in inst.resolve(["internal"], Target.from_python(python),
                                             upgrade=True)] == ["internal"]
    with Installer(Config(index_urls=(private.url,), cache_dir=tmp_path / "c2",
                          retries=0)) as inst, pytest.raises(IndexFetchError) as err:
        inst.resolve(["internal"], Target.from_python(python))
    assert err.value.status_code == 401


def test_a_malformed_netrc_is_a_usage_error_naming_the_file(
        private: IndexServer, tmp_path: Path, venv_factory: Callable[[str], Path]) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login alice pasword typo\n")
    netrc.chmod(0o600)
    with Installer(Config(index_urls=(private.url,), netrc_file=netrc,
                          cache_dir=tmp_path / "c")) as inst, pytest.raises(UsageError) as err:
        inst.resolve(["internal"], Target.from_python(venv_factory("3.12")))
    assert str(netrc) in str(err.value)


@pytest.fixture
def keyring_bin(tmp_path_factory: pytest.TempPathFactory,
                make_index: Callable[..., IndexServer]) -> Path:
    """The real keyring command in its own venv, with a backend that reads a JSON file
    (registered through keyring's ``keyring.backends`` entry point)."""
    from pyinst.bootstrap import create_venv

    from helpers import find_python

    base = tmp_path_factory.mktemp("keyring")
    secrets = base / "secrets.json"
    backend = build_wheel(WheelSpec("filekeyring", "1.0", files={
        "filekeyring/__init__.py": _BACKEND.replace("SECRETS", repr(str(secrets))),
        "filekeyring-1.0.dist-info/entry_points.txt":
            "[keyring.backends]\nfile = filekeyring\n",
    }), base / "w")
    projects = public_wheels("keyring", KEYRING, ["3.12"], no_deps=True)
    projects["filekeyring"] = [IndexFile(backend)]
    server = make_index(projects)
    venv = create_venv(find_python("3.12"), base / "venv")
    with Installer(Config(index_urls=(server.url,), cache_dir=base / "c")) as inst:
        inst.install([*KEYRING, "filekeyring"], Target.from_python(venv), no_deps=True)
    return base


_BACKEND = '''
import json
from keyring.backend import KeyringBackend
from keyring.credentials import SimpleCredential


class FileKeyring(KeyringBackend):
    priority = 100

    def _load(self):
        with open(SECRETS) as f:
            return json.load(f)

    def get_password(self, service, username):
        found = self._load().get(service)
        return found[1] if found and found[0] == username else None

    def get_credential(self, service, username):
        found = self._load().get(service)
        if found and (username is None or found[0] == username):
            return SimpleCredential(*found)
        return None

    def set_password(self, service, username, password):
        raise NotImplementedError

    def delete_password(self, service, username):
        raise NotImplementedError
'''


def test_the_keyring_command_is_asked_after_a_401(
        private: IndexServer, keyring_bin: Path, tmp_path: Path,
        venv_factory: Callable[[str], Path]) -> None:
    bin_dir = keyring_bin / "venv" / "bin"
    (keyring_bin / "secrets.json").write_text(json.dumps({private.url: ["alice", SECRET]}))
    python = venv_factory("3.12")
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    proc = run_cli("install", "-p", str(python), "-i", private.url, "--no-cache",
                   "--no-netrc", "--keyring-provider", "subprocess", "internal", env=env)
    assert proc.returncode == 0, proc.stderr
    assert _installed(python)
    assert SECRET not in proc.stdout + proc.stderr
    # asked once: the files on the same origin reuse what the keyring said
    unauthorised = [p for p, h in private.headers_seen if "Authorization" not in h]
    assert len(unauthorised) == 1
    # by host, when nothing is stored under the index URL
    (keyring_bin / "secrets.json").write_text(json.dumps({
        f"127.0.0.1:{private.port}": ["alice", SECRET]}))
    with Installer(Config(index_urls=(private.url,), cache_dir=tmp_path / "c",
                          keyring_command=(str(bin_dir / "keyring"),))) as inst:
        assert len(inst.resolve(["internal"], Target.from_python(python),
                                force_reinstall=True)) == 1


def test_keyring_provider_without_the_command_is_a_usage_error(
        private: IndexServer, tmp_path: Path, venv_factory: Callable[[str], Path]) -> None:
    empty = tmp_path / "empty-path"
    empty.mkdir()
    proc = run_cli("install", "-p", str(venv_factory("3.12")), "-i", private.url,
                   "--keyring-provider", "subprocess", "internal", env={"PATH": str(empty)})
    assert proc.returncode == 2
    assert "keyring command" in proc.stderr and "Traceback" not in proc.stderr


def test_the_system_trust_store_is_used(tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """On Linux: OpenSSL's default roots, loaded once per client (what truststore points
    OpenSSL at there); truststore where OpenSSL knows none (and on macOS/Windows)."""
    import truststore

    from pyinst.auth import ssl_context

    system = ssl_context(None)
    assert system.verify_mode == ssl.CERT_REQUIRED and system.check_hostname
    if sys.platform.startswith("linux"):
        assert not isinstance(system, truststore.SSLContext)
        empty = tmp_path / "no-certs"
        empty.mkdir()
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
        monkeypatch.setenv("SSL_CERT_DIR", str(empty))
        assert isinstance(ssl_context(None), truststore.SSLContext)
    else:  # pragma: no cover - the suite runs on Linux
        assert isinstance(system, truststore.SSLContext)
    # an explicit bundle is a plain context verifying against that file only
    cafile = ssl.get_default_verify_paths().cafile or ssl.get_default_verify_paths().openssl_cafile
    if not cafile or not Path(cafile).exists():  # pragma: no cover
        pytest.skip("no system CA file to use as a bundle")
    explicit = ssl_context(Path(cafile))
    assert not isinstance(explicit, truststore.SSLContext)
    assert explicit.verify_mode == ssl.CERT_REQUIRED and explicit.check_hostname


class _Proxy:
    """A forward HTTP proxy on loopback that records what it carried."""

    def __init__(self) -> None:
        import http.client
        import http.server
        import threading
        import urllib.parse

        self.carried: list[str] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                proxy.carried.append(self.path)
                parts = urllib.parse.urlsplit(self.path)
                conn = http.client.HTTPConnection(parts.netloc, timeout=10)
                headers = {k: v for k, v in self.headers.items()
                           if not k.lower().startswith("proxy-")}
                conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""),
                             headers=headers)
                resp = conn.getresponse()
                body = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_proxies_from_the_environment_only_when_asked(
        private: IndexServer, tmp_path: Path, venv_factory: Callable[[str], Path]) -> None:
    python = venv_factory("3.12")
    url = private.url.replace("http://", f"http://alice:{SECRET}@")
    proxy = _Proxy()
    try:
        env = {"HTTP_PROXY": proxy.url, "http_proxy": proxy.url, "NO_PROXY": "",
               "no_proxy": ""}
        proc = run_cli("install", "-p", str(python), "-i", url, "--no-cache", "internal",
                       env=env)
        assert proc.returncode == 0, proc.stderr
        assert proxy.carried == []  # set in the environment, but not asked for
        proc = run_cli("install", "-p", str(python), "-i", url, "--no-cache",
                       "--force-reinstall", "--env-proxy", "internal", env=env)
        assert proc.returncode == 0, proc.stderr
        assert any("/simple/internal/" in p for p in proxy.carried)
        carried = len(proxy.carried)
        proc = run_cli("install", "-p", str(python), "-i", url, "--no-cache",
                       "--force-reinstall", "--proxy", proxy.url, "internal")
        assert proc.returncode == 0, proc.stderr
        assert len(proxy.carried) > carried
    finally:
        proxy.close()
    assert _installed(python)


def test_a_network_failure_with_an_ignored_proxy_variable_says_so(
        tmp_path: Path, venv_factory: Callable[[str], Path]) -> None:
    dead = "http://127.0.0.1:9/simple/"  # the discard port: nothing listens
    proc = run_cli("install", "-p", str(venv_factory("3.12")), "-i", dead, "--no-cache",
                   "--retries", "0", "internal",
                   env={"HTTPS_PROXY": "http://proxy.invalid:3128"})
    assert proc.returncode == 1
    assert "cannot reach" in proc.stderr and "Traceback" not in proc.stderr
    assert "HTTPS_PROXY is set" in proc.stderr and "--env-proxy" in proc.stderr


def test_unusable_network_settings_are_one_clear_error_and_change_nothing(
        private: IndexServer, tmp_path: Path, venv_factory: Callable[[str], Path]) -> None:
    from helpers import tree_snapshot

    python = venv_factory("3.12")
    before = tree_snapshot(python.parent.parent)
    netrc = tmp_path / "netrc"
    netrc.write_text("garbage\n")
    cases = [
        (["--cert", str(tmp_path / "missing.pem")], {}, "cannot use the CA bundle"),
        (["--proxy", "socks9://alice:hunter2@proxy.invalid:1"], {}, "cannot use the proxy"),
        ([], {"NETRC": str(netrc)}, f"cannot read the netrc file {netrc}"),
        ([], {"PYINST_KEYRING_PROVIDER": "sometimes"}, "keyring-provider must be one of"),
    ]
    for args, env, message in cases:
        proc = run_cli("install", "-p", str(python), "-i", private.url, "--no-cache",
                       *args, "internal", env=env)
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in proc.stderr and "Traceback" not in proc.stderr
        assert "hunter2" not in proc.stderr
    assert tree_snapshot(python.parent.parent) == before


def test_the_system_roots_load_at_the_first_tls_handshake_and_then_verify_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An index over plain http never pays for loading the roots (~30 ms); the first
    https connection loads them, and the context is the standard library's default one
    in every other respect."""
    import http.server

    import httpx

    from pyinst.auth import ssl_context

    if not sys.platform.startswith("linux"):  # pragma: no cover - the suite runs on Linux
        pytest.skip("OpenSSL's own roots are used on Linux only")
    reference = ssl.create_default_context()
    lazy = ssl_context(None)
    for setting in ("protocol", "options", "verify_mode", "check_hostname", "verify_flags",
                    "minimum_version", "maximum_version", "post_handshake_auth",
                    "hostname_checks_common_name", "security_level"):
        assert getattr(lazy, setting) == getattr(reference, setting), setting
    assert lazy.get_ciphers() == reference.get_ciphers()
    assert lazy.cert_store_stats()["x509_ca"] == 0  # nothing loaded yet

    # a loopback https server whose certificate only the "system" roots trust
    class Hello(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"hello")

    with https_server(tmp_path, Hello) as (url, cert):
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # OpenSSL's default roots: ours
        trusting = ssl_context(None)
        with httpx.Client(verify=trusting) as client:
            assert trusting.cert_store_stats()["x509_ca"] == 0
            assert client.get(url).text == "hello"
            assert trusting.cert_store_stats()["x509_ca"] == 1
        monkeypatch.delenv("SSL_CERT_FILE")
        with httpx.Client(verify=ssl_context(None)) as client, \
                pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            client.get(url)  # the machine's real roots do not trust it
