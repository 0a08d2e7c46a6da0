"""Trust and credentials for HTTP: the TLS context, and an httpx ``Auth`` that one
`Installer` owns.

Certificates: a CA bundle named by `Config.ca_bundle`, else the system's trust store:
on macOS and Windows (and on a system whose OpenSSL knows no roots) through truststore
(its ``SSLContext`` is an ordinary per-client object; pyinst never calls
``truststore.inject_into_ssl()``, which would change every SSL context in the process);
elsewhere OpenSSL's own default locations, which is what truststore uses there too.

Where a request's credentials come from, first match wins:

1. the request URL's own ``user:password@``;
2. credentials already used for the same origin (scheme, host and port) in this
   `Installer` — so an index URL's credentials also cover the absolute file links its
   pages carry to the same host, as in pip and uv, but never another origin;
3. the netrc file named by `Config.netrc_file`, by host;
4. after a 401 only: the ``keyring`` command named by `Config.keyring_command`
   (``keyring --mode creds --output json get SERVICE [USER]``, asked for the index URL
   the request lies under and then for the host), the way pip's and uv's "subprocess"
   keyring provider works. The command runs in a child process, so no keyring backend
   is ever loaded into the caller's process.

Nothing here reads the process environment; the caller passes the file and command.
"""

from __future__ import annotations

import base64
import json
import netrc
import os
import re
import ssl
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Generator, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import httpx  # this module is imported with the HTTP client, never before

from .errors import UsageError
from .redact import without_credentials

Origin = tuple[str, str, int]
Pair = tuple[str, str]
_DEFAULT_PORTS: Mapping[str, int] = MappingProxyType({"http": 80, "https": 443})
#: how OpenSSL names the certificates of a CA directory (``c_rehash``)
_HASHED_CERT = re.compile(r"^[0-9a-fA-F]{8}\.[0-9]$")


def ssl_context(ca_bundle: Path | None) -> ssl.SSLContext:
    """The TLS context for one `Installer`'s HTTP client."""
    if ca_bundle is not None:
        try:
            return ssl.create_default_context(cafile=os.fspath(ca_bundle))
        except (OSError, ssl.SSLError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise UsageError(f"cannot use the CA bundle {ca_bundle}: {reason}") from None
    if sys.platform not in ("darwin", "win32") and _openssl_has_system_roots():
        # the same trust truststore gives on these systems (it points OpenSSL at the
        # system's roots), loaded once: truststore reloads the CA bundle for every
        # connection, one at a time (~30 ms each, measured: 1.1 s of a cold resolve)
        return _SystemRoots()
    if sys.version_info >= (3, 10):
        import truststore

        context: ssl.SSLContext = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    else:  # pragma: no cover - truststore needs 3.10
        context = ssl.create_default_context()
    return context


class _SystemRoots(ssl.SSLContext):
    """``ssl.create_default_context()``, whose CA certificates are loaded when the first
    TLS connection is made rather than when the client is: loading them takes about
    30 ms of CPU, which an index over plain http (a mirror on the local network, the
    benchmark's) never needs. Thread-safe: every handshake waits for the one load."""

    def __new__(cls) -> _SystemRoots:
        return super().__new__(cls, ssl.PROTOCOL_TLS_CLIENT)

    def __init__(self) -> None:
        # what create_default_context sets besides the roots: PROTOCOL_TLS_CLIENT
        # already verifies certificates and host names, and 3.13 made its default
        # verification stricter (a test compares the two)
        if sys.version_info >= (3, 13):
            self.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN | ssl.VERIFY_X509_STRICT
        self._roots_lock = threading.Lock()
        self._roots_loaded = False

    def _load_roots(self) -> None:
        if not self._roots_loaded:
            with self._roots_lock:
                if not self._roots_loaded:
                    self.load_default_certs(ssl.Purpose.SERVER_AUTH)
                    self._roots_loaded = True

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        self._load_roots()
        return super().wrap_socket(*args, **kwargs)

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:  # TLS in TLS
        self._load_roots()
        return super().wrap_bio(*args, **kwargs)


def _openssl_has_system_roots() -> bool:
    """Whether OpenSSL's default locations hold the system's CA certificates (a bundle
    file, or a directory of hashed certificates); a Python built against another
    OpenSSL may point at none, and then truststore searches the usual places."""
    paths = ssl.get_default_verify_paths()
    if paths.cafile:
        return True
    if not paths.capath:
        return False
    try:
        return any(_HASHED_CERT.match(name) for name in os.listdir(paths.capath))
    except OSError:
        return False


def _origin(url: str) -> Origin:
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme, 0)


def _userinfo(url: str) -> tuple[str | None, str | None]:
    parts = urllib.parse.urlsplit(url)
    user = urllib.parse.unquote(parts.username) if parts.username else None
    password = urllib.parse.unquote(parts.password) if parts.password is not None else None
    return user, password


def basic_header(creds: Pair) -> str:
    token = base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode("ascii")
    return f"Basic {token}"


def read_netrc(path: Path) -> netrc.netrc:
    """Parse a netrc file; a malformed one is a `UsageError` naming the file and line."""
    try:
        return netrc.netrc(str(path))
    except netrc.NetrcParseError as exc:
        raise UsageError(f"cannot read the netrc file {path}: {exc.msg} "
                          f"(line {exc.lineno})") from None
    except OSError as exc:
        raise UsageError(f"cannot read the netrc file {path}: {exc.strerror}") from None


def keyring_lookup(command: Sequence[str], service: str, username: str | None, *,
                   timeout: float = 60.0) -> Pair | None:
    """Ask the ``keyring`` command for the credentials stored under ``service``.

    ``None`` when it knows none (it exits non-zero) or answers something that is not its
    JSON; a command that cannot be started is a `UsageError`."""
    argv = [*command, "--mode", "creds", "--output", "json", "get", service]
    if username:
        argv.append(username)
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, check=False)
    except OSError as exc:
        raise UsageError(f"cannot run the keyring command {command[0]!r}: "
                          f"{exc.strerror}") from None
    except subprocess.TimeoutExpired:
        return None
    if proc.returncode != 0:
        return None
    try:
        answer = json.loads(proc.stdout)
        user, password = answer.get("username") or username, answer["password"]
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if not isinstance(user, str) or not isinstance(password, str):
        return None
    return user, password


class IndexAuth(httpx.Auth):
    """Adds HTTP basic credentials to requests (see the module docstring for where they
    come from). Thread-safe: one per `Installer`, shared by its threads."""

    requires_request_body = False
    requires_response_body = False

    def __init__(self, *, index_urls: Sequence[str] = (), netrc_file: Path | None = None,
                 keyring_command: Sequence[str] | None = None) -> None:
        self._index_urls = tuple(index_urls)
        self._netrc_file = netrc_file
        self._netrc: netrc.netrc | None = None
        self._keyring = tuple(keyring_command) if keyring_command else None
        self._known: dict[Origin, Pair] = {}
        #: origins the keyring was already asked about (and what it said)
        self._asked: dict[Origin, Pair | None] = {}
        self._lock = threading.Lock()
        for url in self._index_urls:
            user, password = _userinfo(url)
            if user is not None and password is not None:
                self._known.setdefault(_origin(url), (user, password))

    def _from_netrc(self, host: str) -> Pair | None:
        if self._netrc_file is None:
            return None
        with self._lock:
            if self._netrc is None:
                self._netrc = read_netrc(self._netrc_file)
            entry = self._netrc.authenticators(host)
        if entry is None or not entry[2]:
            return None
        return entry[0] or "", entry[2]

    def credentials(self, url: str) -> Pair | None:
        """What would be sent to ``url`` before any 401."""
        user, password = _userinfo(url)
        if user is not None and password is not None:
            return user, password
        origin = _origin(url)
        with self._lock:
            known = self._known.get(origin)
        if known is not None and (user is None or known[0] == user):
            return known
        return self._from_netrc(origin[1])

    def _ask_keyring(self, url: str) -> Pair | None:
        if self._keyring is None:
            return None
        origin = _origin(url)
        with self._lock:
            if origin in self._asked:
                return self._asked[origin]
        user, _ = _userinfo(url)
        bare = without_credentials(url)
        services = [without_credentials(i) for i in self._index_urls
                    if bare.startswith(without_credentials(i))]
        services.append(origin[1] if origin[2] == _DEFAULT_PORTS.get(origin[0])
                        else f"{origin[1]}:{origin[2]}")
        found = None
        for service in dict.fromkeys(services):
            found = keyring_lookup(self._keyring, service, user)
            if found is not None:
                break
        with self._lock:
            self._asked[origin] = found
            if found is not None:
                self._known[origin] = found
        return found

    def remember(self, url: str, creds: Pair) -> None:
        with self._lock:
            self._known.setdefault(_origin(url), creds)

    def auth_flow(self, request: httpx.Request
                  ) -> Generator[httpx.Request, httpx.Response, None]:
        """The httpx auth flow: a generator httpx drives, sending each response back."""
        url = str(request.url)
        creds = self.credentials(url)
        if creds is not None:
            request.headers["Authorization"] = basic_header(creds)
            response = yield request
            if response.status_code < 400:
                self.remember(url, creds)
            return
        response = yield request
        if response.status_code != 401:
            return
        creds = self._ask_keyring(url)
        if creds is None:
            return
        response.close()
        request.headers["Authorization"] = basic_header(creds)
        yield request
