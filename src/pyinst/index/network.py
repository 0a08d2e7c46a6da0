"""How the `Installer`'s HTTP client connects: each host's addresses looked up once
rather than once per connection.

httpcore asks the system resolver (``getaddrinfo``) again for every connection it opens,
and a parallel resolve opens dozens. Many systems answer a burst of simultaneous
look-ups badly: glibc sends the A and AAAA queries of each look-up
together, and where a resolver or a container's connection tracking drops one of them,
that look-up waits out the resolver's timeout (5 s by default) before asking again.
Measured on the development machine: 16 simultaneous look-ups of pypi.org, and some of
them take 5.0 s, every time; one at a time, never. Resolving jupyterlab against the
public index took 6 to 16 s instead of about 1.5 s.

So the client connects through `SharedLookups`: the first connection to a host looks it
up while any other connection to that host waits for the answer, and every connection
for the next `ttl` seconds reuses it. The addresses are tried in order, like
``socket.create_connection`` does; one that refuses is moved to the back, and a host
none of whose addresses answers is looked up afresh next time. A failed look-up is not
kept. TLS is unaffected: httpcore names the host (SNI, certificate check) from the URL,
not from the address it connects to.

Like everything else, this belongs to one `Installer`: nothing is shared by the process,
and httpcore's own classes are left as they are.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import httpcore

#: ``socket.getaddrinfo``'s shape, for a test to count or stand in for the look-ups
Lookup = Callable[..., Sequence[tuple[Any, ...]]]


class SharedLookups(httpcore.SyncBackend):
    """An httpcore network backend that remembers each host's addresses for ``ttl``
    seconds. Connections to a numeric address or a Unix socket are made as usual."""

    def __init__(self, ttl: float = 60.0, lookup: Lookup | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        #: ``None``: ``socket.getaddrinfo`` (as it is at the time of each look-up)
        self._lookup = lookup
        self._clock = clock
        self._lock = threading.Lock()
        #: (host, port) -> (when it was looked up, addresses to try in order)
        self._known: dict[tuple[str, int], tuple[float, list[str]]] = {}
        #: (host, port) -> the lock its look-up is made under
        self._looking: dict[tuple[str, int], threading.Lock] = {}

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
                    ) -> httpcore.NetworkStream:
        if _numeric(host):
            return super().connect_tcp(host, port, timeout, local_address, socket_options)
        addresses = self.addresses(host, port)
        error: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                stream = super().connect_tcp(address, port, timeout, local_address,
                                             socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
                self._demote(host, port, address)
                continue
            return stream
        self.forget(host, port)  # none answered: ask afresh next time
        assert error is not None  # `addresses` returns at least one
        raise error

    def addresses(self, host: str, port: int) -> list[str]:
        """The addresses of ``host``, looked up at most once per ``ttl`` however many
        threads ask at the same time; a failed look-up raises ``httpcore.ConnectError``."""
        key = (host, port)
        with self._lock:
            known = self._fresh(key)
            if known is not None:
                return known
            looking = self._looking.setdefault(key, threading.Lock())
        with looking:  # one look-up per host; the others wait for its answer
            with self._lock:
                known = self._fresh(key)
                if known is not None:
                    return known
            try:
                infos = (self._lookup or socket.getaddrinfo)(host, port, 0,
                                                             socket.SOCK_STREAM)
            except OSError as exc:  # socket.gaierror: no such host, no resolver
                raise httpcore.ConnectError(str(exc)) from exc
            found = list(dict.fromkeys(str(info[4][0]) for info in infos))
            if not found:
                raise httpcore.ConnectError(f"no address for {host}")
            with self._lock:
                self._known[key] = (self._clock(), found)
            return list(found)

    def forget(self, host: str, port: int) -> None:
        with self._lock:
            self._known.pop((host, port), None)

    def _fresh(self, key: tuple[str, int]) -> list[str] | None:
        entry = self._known.get(key)
        if entry is None or self._clock() - entry[0] >= self._ttl:
            return None
        return list(entry[1])

    def _demote(self, host: str, port: int, address: str) -> None:
        with self._lock:
            entry = self._known.get((host, port))
            if entry is not None and address in entry[1]:
                rest = [a for a in entry[1] if a != address]
                self._known[(host, port)] = (entry[0], [*rest, address])


def _numeric(host: str) -> bool:
    """Whether ``host`` is an IPv4 or IPv6 address already (nothing to look up)."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host.partition("%")[0])
        except (OSError, ValueError):
            continue
        return True
    return False


def share_lookups(client: object, backend: SharedLookups) -> None:
    """Make every connection pool of an ``httpx.Client`` (its transport, and the proxy
    transports it made from the settings) connect through ``backend``. httpx offers no
    argument for httpcore's ``network_backend``, so this sets the pools' attribute; a
    test checks it still takes effect."""
    transports = [getattr(client, "_transport", None),
                  *dict(getattr(client, "_mounts", None) or {}).values()]
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        if pool is not None and hasattr(pool, "_network_backend"):
            pool._network_backend = backend
