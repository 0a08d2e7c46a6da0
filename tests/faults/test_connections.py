"""Host names are looked up once per Installer, not once per connection: a burst of
simultaneous look-ups is what makes many resolvers drop one and wait out a 5 s timeout."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import httpcore
import pytest

from pyinst import Config, Installer, Target
from pyinst.index.network import SharedLookups

from helpers import IndexServer, run_cli, run_in, tree_snapshot

HOST = "index.pyinst.test"  # .test: reserved, never a real name (RFC 2606)


class Counting:
    """A stand-in resolver: ``HOST`` (and any name in ``names``) is ``127.0.0.1``,
    answered slowly enough that other connections arrive while it is asked."""

    def __init__(self, names: dict[str, list[str]] | None = None, delay: float = 0.05) -> None:
        self.names = names if names is not None else {HOST: ["127.0.0.1"]}
        self.delay = delay
        self.asked: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, host: str, port: int, *args: Any, **kw: Any) -> list[tuple[Any, ...]]:
        with self._lock:
            self.asked.append(host)
        time.sleep(self.delay)
        if host not in self.names:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in self.names[host]]


@pytest.fixture
def listener() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts connections (and nothing on 127.0.0.2)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    yield s.getsockname()[1]
    s.close()


def test_an_install_looks_its_index_host_up_once(
        index: IndexServer, tmp_path: Path, venv_factory: Callable[[str], Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo
    resolver = Counting()

    def getaddrinfo(host: str, port: int, *args: Any, **kw: Any) -> Any:
        return resolver(host, port) if host == HOST else real(host, port, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    venv = venv_factory("3.12")
    cfg = Config(index_urls=(index.url.replace("127.0.0.1", HOST),), retries=0,
                 cache_dir=tmp_path / "cache")
    with Installer(cfg) as inst:
        inst.install(["app"], Target.from_python(venv))
    run_in(venv, "import app, lib")
    # the test server speaks HTTP/1.0: every one of these requests had its own connection
    assert len(index.requests) >= 4, index.requests
    assert resolver.asked == [HOST]


def test_simultaneous_connections_share_one_lookup(listener: int) -> None:
    resolver = Counting(delay=0.2)
    backend = SharedLookups(lookup=resolver)
    streams: list[httpcore.NetworkStream] = []
    lock = threading.Lock()

    def connect() -> None:
        stream = backend.connect_tcp(HOST, listener, timeout=5)
        with lock:
            streams.append(stream)

    threads = [threading.Thread(target=connect) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in streams:
        s.close()
    assert len(streams) == 8
    assert resolver.asked == [HOST]


def test_addresses_are_looked_up_again_after_the_ttl() -> None:
    now = [0.0]
    resolver = Counting(delay=0)
    backend = SharedLookups(ttl=60, lookup=resolver, clock=lambda: now[0])
    assert backend.addresses(HOST, 443) == ["127.0.0.1"]
    now[0] = 59.0
    backend.addresses(HOST, 443)
    assert resolver.asked == [HOST]
    now[0] = 60.0
    backend.addresses(HOST, 443)
    assert resolver.asked == [HOST, HOST]


def test_a_failed_lookup_is_a_connect_error_and_is_not_kept(listener: int) -> None:
    resolver = Counting(names={}, delay=0)
    backend = SharedLookups(lookup=resolver)
    for _ in range(2):
        with pytest.raises(httpcore.ConnectError, match="not known"):
            backend.connect_tcp("nowhere.pyinst.test", listener, timeout=5)
    assert resolver.asked == ["nowhere.pyinst.test"] * 2


def test_an_address_that_refuses_is_tried_last_next_time(listener: int) -> None:
    # nothing listens on 127.0.0.2 (loopback too, on Linux): refused at once
    resolver = Counting(names={HOST: ["127.0.0.2", "127.0.0.1"]}, delay=0)
    backend = SharedLookups(lookup=resolver)
    backend.connect_tcp(HOST, listener, timeout=5).close()
    assert backend.addresses(HOST, listener) == ["127.0.0.1", "127.0.0.2"]
    backend.connect_tcp(HOST, listener, timeout=5).close()
    assert resolver.asked == [HOST]


def test_a_host_none_of_whose_addresses_answers_is_looked_up_afresh(listener: int) -> None:
    resolver = Counting(names={HOST: ["127.0.0.2"]}, delay=0)
    backend = SharedLookups(lookup=resolver)
    with pytest.raises(httpcore.ConnectError):
        backend.connect_tcp(HOST, listener, timeout=5)
    resolver.names[HOST] = ["127.0.0.1"]  # the host moved
    backend.connect_tcp(HOST, listener, timeout=5).close()
    assert resolver.asked == [HOST, HOST]


def test_numeric_addresses_are_not_looked_up(listener: int) -> None:
    resolver = Counting(delay=0)
    backend = SharedLookups(lookup=resolver)
    backend.connect_tcp("127.0.0.1", listener, timeout=5).close()
    assert resolver.asked == []



def test_a_host_that_cannot_be_looked_up_stops_with_one_line_and_changes_nothing(
        tmp_path: Path, venv_factory: Callable[[str], Path]) -> None:
    # .invalid never resolves (RFC 6761): a resolver answers "no such name", and a
    # machine without one fails the look-up too; either way the same one line
    venv = venv_factory("3.12")
    before = tree_snapshot(venv)
    proc = run_cli("install", "-p", str(venv), "-i", "http://index.pyinst.invalid/simple/",
                   "--retries", "0", "--cache-dir", str(tmp_path / "cache"), "app")
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("error: cannot reach http://index.pyinst.invalid for 'app'")
    assert tree_snapshot(venv) == before
