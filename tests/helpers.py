"""Test helpers: a wheel factory and a loopback simple-index server (PEP 503/691/658)."""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import os
import socket
import subprocess
import sys
import tarfile
import threading
import time
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from packaging.utils import canonicalize_name

PYENV = Path("/root/.pyenv/versions")


def find_python(minor: str) -> Path:
    """The pyenv interpreter for ``3.X``."""
    for d in sorted(PYENV.glob(f"{minor}.*")):
        exe = d / "bin" / "python"
        if exe.exists():
            return exe
    raise LookupError(f"no pyenv interpreter for {minor}")


def make_venv(path: Path, minor: str) -> Path:
    subprocess.run([str(find_python(minor)), "-m", "venv", "--without-pip", str(path)],
                   check=True, capture_output=True)
    return path / "bin" / "python"


def run_in(python: Path, code: str) -> str:
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def pip(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run pip (from the base interpreter of the same version) against a venv."""
    version = run_in(python, "import sys; print('%d.%d' % sys.version_info[:2])")
    return subprocess.run([str(find_python(version)), "-m", "pip", "--python", str(python),
                           "--disable-pip-version-check", "--no-input", *args],
                          capture_output=True, text=True, check=False)


def tree_snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` with its content hash (for 'unchanged' checks)."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode().rstrip("=")


@dataclass
class WheelSpec:
    name: str
    version: str
    requires: tuple[str, ...] = ()
    requires_python: str | None = None
    tag: str = "py3-none-any"
    files: Mapping[str, str] = field(default_factory=dict)
    console_scripts: Mapping[str, str] = field(default_factory=dict)
    extras: tuple[str, ...] = ()
    metadata_name: str | None = None  # to make a lying wheel
    break_record: bool = False


def build_wheel(spec: WheelSpec, out_dir: Path) -> Path:
    dist = spec.name.replace("-", "_")
    filename = f"{dist}-{spec.version}-{spec.tag}.whl"
    dist_info = f"{dist}-{spec.version}.dist-info"
    meta = [
        "Metadata-Version: 2.1",
        f"Name: {spec.metadata_name or spec.name}",
        f"Version: {spec.version}",
    ]
    if spec.requires_python:
        meta.append(f"Requires-Python: {spec.requires_python}")
    meta += [f"Provides-Extra: {e}" for e in spec.extras]
    meta += [f"Requires-Dist: {r}" for r in spec.requires]
    files: dict[str, bytes] = {}
    module = dist.lower()
    default = {f"{module}/__init__.py": f"VERSION = {spec.version!r}\nTAG = {spec.tag!r}\n"}
    for path, text in {**default, **spec.files}.items():
        files[path] = text.encode()
    files[f"{dist_info}/METADATA"] = ("\n".join(meta) + "\n").encode()
    files[f"{dist_info}/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: pyinst-tests\nRoot-Is-Purelib: "
        f"{'true' if spec.tag.endswith('none-any') else 'false'}\nTag: {spec.tag}\n").encode()
    if spec.console_scripts:
        eps = "[console_scripts]\n" + "".join(f"{k} = {v}\n" for k, v in
                                              spec.console_scripts.items())
        files[f"{dist_info}/entry_points.txt"] = eps.encode()
    record = "".join(f"{p},{_record_hash(d)},{len(d)}\n" for p, d in files.items())
    if spec.break_record:
        first = next(iter(files))
        files[first] = files[first] + b"# tampered\n"
    record += f"{dist_info}/RECORD,,\n"
    files[f"{dist_info}/RECORD"] = record.encode()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / filename
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for p, d in files.items():
            zf.writestr(p, d)
    return path


def build_sdist(name: str, version: str, out_dir: Path) -> Path:
    base = f"{name.replace('-', '_')}-{version}"
    path = out_dir / f"{base}.tar.gz"
    out_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tf:
        data = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
        info = tarfile.TarInfo(f"{base}/PKG-INFO")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    return path


def wheel_metadata(path: Path) -> bytes:
    with zipfile.ZipFile(path) as zf:
        # the wheel's own .dist-info is at the top (flit-core vendors another one deeper)
        name = next(n for n in zf.namelist()
                    if n.count("/") == 1 and n.endswith(".dist-info/METADATA"))
        return zf.read(name)


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class IndexFile:
    path: Path
    requires_python: str | None = None
    yanked: str | None = None
    #: override the hash the index states (to simulate a corrupted file)
    stated_sha256: str | None = None
    #: serve this as the PEP 658 sidecar instead of the wheel's own METADATA
    sidecar: bytes | None = None

    def metadata(self) -> bytes:
        return self.sidecar if self.sidecar is not None else wheel_metadata(self.path)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class _Server(ThreadingHTTPServer):
    #: room for every connection a client opens at once (the default backlog of 5
    #: drops some, and each dropped one waits a second for its retransmit)
    request_queue_size = 128
    daemon_threads = True


class IndexServer:
    """Serves projects as a simple index on 127.0.0.1, in a background thread.

    ``json``: answer PEP 691 JSON when the client accepts it; ``sidecars``: announce and
    serve PEP 658 ``.metadata`` files; ``fail``: project name -> HTTP status to answer.
    """

    def __init__(self, projects: Mapping[str, Iterable[IndexFile]], *, json_api: bool = True,
                 sidecars: bool = True) -> None:
        self.projects = {canonicalize_name(k): list(v) for k, v in projects.items()}
        self.json_api = json_api
        self.sidecars = sidecars
        self.fail: dict[str, int] = {}
        #: seconds to sleep after each 16 KiB chunk of a file body (a slow stream)
        self.chunk_delay = 0.0
        #: extra headers on project pages (e.g. Cache-Control); pages always carry an
        #: ETag and answer If-None-Match with 304
        self.page_headers: dict[str, str] = {}
        #: send ``page_headers`` on 304 answers too (``False``: a bare 304, as Python's
        #: http.server and some CDNs answer)
        self.headers_on_304 = True
        #: (path, status) of every project-page answer
        self.page_statuses: list[tuple[str, int]] = []
        #: answer Range requests for files with 206 (as real indexes' CDNs do)
        self.ranges = True
        #: (path, Range header) of every ranged file request
        self.range_requests: list[tuple[str, str]] = []
        #: file name -> how many more answers to spoil: "truncate" sends half the body
        #: under a full Content-Length, "reset" closes the connection without an answer,
        #: "lie" sends the whole body but announces a longer one, "stall" sends the
        #: headers and then nothing for 3 seconds; a number answers that HTTP status
        self.faults: dict[str, list[str]] = {}
        #: send every file request there instead (a redirect to another origin)
        self.redirect_files_to: str | None = None
        #: file names (sidecars too) whose answers each wait until every one of them
        #: has been asked for (or `gate_timeout` passes: then `gate_timed_out` is set):
        #: shows that a client asks for them side by side, without timing anything
        self.gate: set[str] = set()
        self.gate_timeout = 10.0
        self.gate_timed_out = False
        self._gate_seen: set[str] = set()
        self._gate_open = threading.Event()
        #: (path, headers) of every request
        self.headers_seen: list[tuple[str, dict[str, str]]] = []
        self.requests: list[str] = []
        #: (user, password) every request must carry as HTTP basic credentials
        self.auth: tuple[str, str] | None = None
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                with server._lock:
                    server.requests.append(self.path)
                    server.headers_seen.append((self.path, dict(self.headers.items())))
                if server.auth is not None and self.headers.get(
                        "Authorization") != _basic(*server.auth):
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="test index"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                server._handle(self)

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/simple/"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _files(self) -> dict[str, IndexFile]:
        return {f.path.name: f for files in self.projects.values() for f in files}

    def _send(self, h: BaseHTTPRequestHandler, code: int, body: bytes, ctype: str) -> None:
        h.send_response(code)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    @staticmethod
    def _spoil(h: BaseHTTPRequestHandler, body: bytes, fault: str) -> None:
        if fault.isdigit():  # an HTTP error status
            h.send_response(int(fault))
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        if fault == "reset":
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return
        h.send_response(200)
        h.send_header("Content-Type", "application/octet-stream")
        h.send_header("Content-Length", str(len(body) + (100 if fault == "lie" else 0)))
        h.end_headers()
        if fault == "stall":
            h.wfile.flush()
            time.sleep(3)
        h.wfile.write(body[: len(body) // 2] if fault == "truncate" else body)
        h.wfile.flush()
        h.close_connection = True
        h.connection.shutdown(socket.SHUT_RDWR)

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        path = h.path.split("?", 1)[0]
        if path.startswith("/redirect/"):
            h.send_response(301)
            h.send_header("Location", path[len("/redirect"):])
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        parts = [p for p in path.split("/") if p]
        if len(parts) == 2 and parts[0] == "simple":
            name = canonicalize_name(parts[1])
            if name in self.fail:
                self._send(h, self.fail[name], b"failure", "text/plain")
                return
            files = self.projects.get(name)
            if files is None:
                self._send(h, 404, b"not found", "text/plain")
                return
            accept = h.headers.get("Accept", "")
            if self.json_api and "application/vnd.pypi.simple.v1+json" in accept:
                body, ctype = self._json_page(name, files), "application/vnd.pypi.simple.v1+json"
            else:
                body, ctype = self._html_page(name, files), "text/html"
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            status = 304 if h.headers.get("If-None-Match") == etag else 200
            with self._lock:
                self.page_statuses.append((path, status))
            h.send_response(status)
            h.send_header("ETag", etag)
            for k, v in self.page_headers.items():
                if status == 200 or self.headers_on_304:
                    h.send_header(k, v)
            if status == 304:
                h.send_header("Content-Length", "0")
                h.end_headers()
                return
            h.send_header("Content-Type", ctype)
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
            return
        if len(parts) == 2 and parts[0] == "files" and self.redirect_files_to:
            h.send_response(302)
            h.send_header("Location", self.redirect_files_to + parts[1])
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        if len(parts) == 2 and parts[0] == "files":
            files = self._files()
            fname = parts[1]
            if fname in self.gate:
                with self._lock:
                    self._gate_seen.add(fname)
                    if self._gate_seen >= self.gate:
                        self._gate_open.set()
                if not self._gate_open.wait(self.gate_timeout):
                    self.gate_timed_out = True
            if fname.endswith(".metadata") and self.sidecars and fname[:-9] in files:
                self._send(h, 200, files[fname[:-9]].metadata(),
                           "application/octet-stream")
                return
            if fname in files:
                body = files[fname].path.read_bytes()
                with self._lock:
                    pending = self.faults.get(fname)
                    fault = pending.pop(0) if pending else None
                if fault is not None:
                    self._spoil(h, body, fault)
                    return
                rng = h.headers.get("Range")
                if rng and self.ranges:
                    with self._lock:
                        self.range_requests.append((path, rng))
                    spec = rng.split("=", 1)[1]
                    first, _, last = spec.partition("-")
                    if not first:
                        start, end = max(0, len(body) - int(last)), len(body) - 1
                    else:
                        start = int(first)
                        end = min(len(body) - 1, int(last)) if last else len(body) - 1
                    part = body[start:end + 1]
                    h.send_response(206)
                    h.send_header("Content-Range", f"bytes {start}-{end}/{len(body)}")
                    h.send_header("Content-Length", str(len(part)))
                    h.end_headers()
                    h.wfile.write(part)
                    return
                if not self.chunk_delay:
                    self._send(h, 200, body, "application/octet-stream")
                    return
                h.send_response(200)
                h.send_header("Content-Type", "application/octet-stream")
                h.send_header("Content-Length", str(len(body)))
                h.end_headers()
                for i in range(0, len(body), 16384):
                    h.wfile.write(body[i:i + 16384])
                    h.wfile.flush()
                    time.sleep(self.chunk_delay)
                return
        self._send(h, 404, b"not found", "text/plain")

    def _stated_hash(self, f: IndexFile) -> str:
        return f.stated_sha256 or sha256_file(f.path)

    def _html_page(self, name: str, files: list[IndexFile]) -> bytes:
        rows = []
        for f in files:
            attrs = [f'href="../../files/{f.path.name}#sha256={self._stated_hash(f)}"']
            if f.requires_python:
                attrs.append(f'data-requires-python="{html.escape(f.requires_python)}"')
            if f.yanked is not None:
                attrs.append(f'data-yanked="{html.escape(f.yanked)}"')
            if self.sidecars and f.path.name.endswith(".whl"):
                md = hashlib.sha256(f.metadata()).hexdigest()
                attrs.append(f'data-core-metadata="sha256={md}"')
            rows.append(f"<a {' '.join(attrs)}>{f.path.name}</a><br/>")
        return ("<!DOCTYPE html><html><body><h1>Links for " + name + "</h1>\n"
                + "\n".join(rows) + "</body></html>").encode()

    def _json_page(self, name: str, files: list[IndexFile]) -> bytes:
        entries = []
        for f in files:
            e: dict[str, object] = {"filename": f.path.name, "url": f"../../files/{f.path.name}",
                                    "hashes": {"sha256": self._stated_hash(f)},
                                    "size": f.path.stat().st_size}  # PEP 700
            if f.requires_python:
                e["requires-python"] = f.requires_python
            if f.yanked is not None:
                e["yanked"] = f.yanked or True
            if self.sidecars and f.path.name.endswith(".whl"):
                e["core-metadata"] = {"sha256": hashlib.sha256(f.metadata()).hexdigest()}
            entries.append(e)
        return json.dumps({"meta": {"api-version": "1.1"}, "name": name, "files": entries}).encode()


def run_cli(*args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None,
            launcher: Sequence[str] = ("-m", "pyinst")) -> subprocess.CompletedProcess[str]:
    """Run ``python -m pyinst`` as a user would (``launcher``: what ``python`` is given
    before the arguments instead)."""
    # the developer's own settings (PYINST_*, a user pyinst.toml) must not leak in
    full_env = {k: v for k, v in os.environ.items()
                if k != "VIRTUAL_ENV" and not k.startswith("PYINST_")}
    full_env["PYINST_CONFIG_FILE"] = os.devnull + ".pyinst-tests-have-no-config.toml"
    full_env.update(env or {})
    return subprocess.run([sys.executable, *launcher, *args], capture_output=True,
                          text=True, env=full_env, cwd=cwd, check=False)


@contextmanager
def https_server(tmp_path: Path, handler: type[BaseHTTPRequestHandler]
                 ) -> Iterator[tuple[str, Path]]:
    """A loopback https server answering with ``handler``, under a fresh self-signed
    certificate for 127.0.0.1: yields its base URL and the certificate (to trust it)."""
    import shutil
    import ssl

    import pytest

    if shutil.which("openssl") is None:  # pragma: no cover - every CI machine has it
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_side.load_cert_chain(cert, key)
    httpd.socket = server_side.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}/", cert
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
