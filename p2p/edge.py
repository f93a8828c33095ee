"""Limits at the HTTP edge of a port: bodies in flight, body read time, open connections.

aiohttp bounds one body (``client_max_size``) and the time without a request
(``keepalive_timeout``), but not the memory of many bodies at once, the time a body may
take to arrive, or the number of open connections. Both of a node's servers (p2p and the
client API) use these, as nginx's ``client_body_timeout`` and ``limit_conn`` would:

- :class:`BodyBudget` and :func:`body_limits_middleware`: before a handler may read a body,
  its size (the declared ``Content-Length``, or the route's limit for a chunked body) is
  reserved from the port's budget; with no room the answer is 503 (``Retry-After: 1``,
  connection closed) and nothing is read. A body not complete ``read_timeout`` seconds
  after its request began fails the read; the answer is 408 and the connection is closed.
  HTTP/1.1 connections carry one request at a time, so a connection holds at most one
  body: the per-connection bound is the per-request limit.
- :class:`ConnectionCap` and :func:`start_site`: at most ``limit`` open connections. A new
  connection beyond it first closes the oldest connection that has no request in progress
  and is not a reserved peer's; if there is none, it gets a 503 and is closed. The last
  ``reserved`` places are for reserved peers only: the first request on a connection
  opened there must be admitted by ``is_reserved`` (else 503, connection closed); such a
  request carries ``request[RESERVED_ROOM] = True`` so that its handler checks the claim
  (a refusal closes the connection). Eviction closes an idle connection outside the reserved
  room first, from the host holding the most connections first, so a port full of idle
  strangers still takes any newcomer. One host holds at most ``per_host`` connections: a new
  one beyond that closes the same host's oldest idle connection, or is refused.
  A handler whose response is a long-lived stream (server-sent events) calls
  :func:`mark_streaming`: its connection no longer counts as a request in progress. It is
  closed to make room like an idle one, but only when no idle connection is left (the
  oldest stream first), so streams can neither fill a port for good nor be the first to go.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

__all__ = [
    "RESERVED_ROOM",
    "BodyBudget",
    "BodyTimeout",
    "ConnectionCap",
    "Middleware",
    "body_limits_middleware",
    "mark_streaming",
    "start_site",
]

RESERVED_ROOM: Final = web.RequestKey("agora_reserved_room", bool)
"""Request key set on a request admitted to the reserved room (its handler must verify the claim)."""
_STREAMING: Final[web.RequestKey[Callable[[], None]]] = web.RequestKey("agora_mark_streaming")
"""Request key holding the cap's hook that turns the request into a stream (see mark_streaming)."""
Refuse = Callable[[int, str, str], web.StreamResponse]
"""Builds a port's refusal (status, stable reason, detail) in that port's format."""

_REFUSED_AT_CONNECT: Final = (
    b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n"
)


class BodyTimeout(Exception):
    """A request body did not arrive within the read timeout."""


class BodyBudget:
    """Bytes of request bodies a port may hold at once (reserved before reading, released after)."""

    __slots__ = ("_in_use", "total")

    def __init__(self, total: int) -> None:
        if total <= 0:
            raise ValueError("the body budget must be positive")
        self.total = total
        self._in_use = 0

    @property
    def in_use(self) -> int:
        """Bytes reserved now."""
        return self._in_use

    def reserve(self, size: int) -> bool:
        """Reserve ``size`` bytes and return True, or reserve nothing and return False if they do not fit."""
        if self._in_use + size > self.total:
            return False
        self._in_use += size
        return True

    def release(self, size: int) -> None:
        """Give back ``size`` bytes reserved earlier."""
        self._in_use = max(0, self._in_use - size)


def body_limits_middleware(
    budget: BodyBudget,
    read_timeout: float,
    refuse: Refuse,
    limit_of: Callable[[web.Request], int] | None = None,
) -> Middleware:
    """Return an aiohttp middleware enforcing ``budget`` and ``read_timeout`` on request bodies.

    ``limit_of(request)`` is the largest body the route reads (default: the app's
    ``client_max_size``); that is what a chunked body reserves. A body declared larger than
    the limit reserves the limit (the handler refuses it after reading at most that much).
    Requests without a body pass untouched. The reservation lasts until the handler returns.
    """
    if read_timeout <= 0:
        raise ValueError("the body read timeout must be positive")

    @web.middleware
    async def limit_bodies(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.body_exists:
            return await handler(request)
        limit = limit_of(request) if limit_of is not None else request.client_max_size
        declared = request.content_length
        size = limit if declared is None else min(declared, limit)
        if not budget.reserve(size):
            busy = refuse(503, "busy", "too many request bodies in flight; retry shortly")
            busy.headers["Retry-After"] = "1"
            busy.force_close()
            return busy
        content = request.content
        expired = False

        def expire() -> None:
            nonlocal expired
            if not content.is_eof():
                expired = True
                content.set_exception(BodyTimeout())

        timer = asyncio.get_running_loop().call_later(read_timeout, expire)
        try:
            response = await handler(request)
        except BodyTimeout:
            response = refuse(408, "body_timeout", f"the body did not arrive within {read_timeout:g} s")
        finally:
            timer.cancel()
            budget.release(size)
        if expired:
            response.force_close()
        return response

    return limit_bodies


@dataclass(slots=True)
class _Conn:
    opened: int
    """Order of opening (the oldest is closed first)."""
    provisional: bool
    """Opened in the reserved room: its first request must be a reserved peer's."""
    busy: int = 0
    """Requests in progress."""
    reserved: bool = False
    """A request on it was admitted as a reserved peer's."""
    host: str = ""
    """The remote address (known once the connection is made)."""
    made: bool = False
    """True once asyncio called connection_made (before that there is no transport to close)."""
    streaming: bool = False
    """Its request in progress is a long-lived stream (not counted in ``busy``)."""


class _Counted(asyncio.Protocol):
    """Forwards every event to aiohttp's protocol and tells the cap when the connection ends."""

    __slots__ = ("_cap", "_refused", "inner")

    def __init__(self, cap: ConnectionCap, inner: asyncio.Protocol) -> None:
        self._cap = cap
        self._refused = False
        self.inner = inner

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        host = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        if not self._cap.admit_host(self.inner, host):
            self._refused = True
            _RefusedAtConnect().connection_made(transport)
            return
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if not self._refused:
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return None if self._refused else self.inner.eof_received()

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cap.forget(self.inner)
        if not self._refused:
            self.inner.connection_lost(exc)


class _RefusedAtConnect(asyncio.Protocol):
    """A connection beyond the cap: one 503 and close, nothing read."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if isinstance(transport, asyncio.WriteTransport):
            transport.write(_REFUSED_AT_CONNECT)
        transport.close()


class ConnectionCap:
    """At most ``limit`` open connections on a port, the last ``reserved`` of them for reserved peers."""

    def __init__(
        self,
        limit: int,
        reserved: int = 0,
        is_reserved: Callable[[web.Request], bool] | None = None,
        per_host: int | None = None,
    ) -> None:
        if limit <= 0 or not 0 <= reserved < limit:
            raise ValueError("the connection cap must be positive and the reserved room smaller than it")
        if per_host is not None and not 0 < per_host <= limit:
            raise ValueError("the per-host cap must be positive and at most the cap")
        self.limit = limit
        self.per_host = per_host if per_host is not None else limit
        self.reserved = reserved
        self.is_reserved = is_reserved if is_reserved is not None else (lambda request: False)
        self._open: dict[asyncio.BaseProtocol, _Conn] = {}
        self._order = itertools.count()
        self.refused = 0
        """Connections refused at connect (full of busy connections)."""
        self.evicted = 0
        self._doomed: set[asyncio.BaseProtocol] = set()
        """Evicted before their connection was made (same accept batch): refused when it is."""
        """Idle connections closed to make room."""

    @property
    def open(self) -> int:
        """Connections open now."""
        return len(self._open)

    @property
    def busy(self) -> int:
        """Connections with a request in progress now."""
        return sum(1 for c in self._open.values() if c.busy)

    def protocol_factory(self, factory: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        """Wrap aiohttp's protocol factory so every connection is counted against the cap."""

        def make() -> asyncio.Protocol:
            if len(self._open) >= self.limit and not self._evict_one():
                self.refused += 1
                return _RefusedAtConnect()
            inner = factory()
            outside = sum(1 for c in self._open.values() if not c.provisional)
            provisional = self.reserved > 0 and outside >= self.limit - self.reserved
            self._open[inner] = _Conn(next(self._order), provisional)
            return _Counted(self, inner)

        return make

    def forget(self, protocol: asyncio.BaseProtocol) -> None:
        """The connection of ``protocol`` ended."""
        self._open.pop(protocol, None)
        self._doomed.discard(protocol)

    def admit_host(self, protocol: asyncio.BaseProtocol, host: str) -> bool:
        """Record the remote host of a new connection; False (it is refused) if that host is at its cap
        and none of its other connections is idle (the oldest idle one is closed instead)."""
        if protocol in self._doomed:
            self._doomed.discard(protocol)
            return False
        conn = self._open.get(protocol)
        if conn is None:
            return True
        conn.made = True
        conn.host = host
        if sum(1 for c in self._open.values() if c.host == host) <= self.per_host:
            return True
        if self._evict_one(host, spare=protocol):
            return True
        self._open.pop(protocol, None)
        self.refused += 1
        return False

    def _evict_one(self, host: str | None = None, spare: asyncio.BaseProtocol | None = None) -> bool:
        """Close one idle connection (of ``host`` when given): a stream only when no other is idle;
        outside the reserved room first, then from the host holding the most connections, then the oldest."""
        per_host = Counter(c.host for c in self._open.values())
        idle = [
            (c.streaming, c.provisional, -per_host[c.host] if c.made else 0, c.opened, p)
            for p, c in self._open.items()
            if not c.busy and not c.reserved and p is not spare and (host is None or c.host == host)
        ]
        if not idle:
            return False
        *_, protocol = min(idle, key=lambda entry: entry[:4])
        conn = self._open.pop(protocol)
        self.evicted += 1
        if not conn.made:  # accepted in the same batch, not yet connected: refused once it is
            self._doomed.add(protocol)
            return True
        close = getattr(protocol, "force_close", None)
        if callable(close):
            close()
        return True

    def middleware(self, refuse: Refuse) -> Middleware:
        """The middleware that marks connections busy and admits only reserved peers to the reserved room."""

        @web.middleware
        async def cap_connections(request: web.Request, handler: Handler) -> web.StreamResponse:
            conn = self._open.get(request.protocol)
            if conn is None:  # not counted (served without the capped site)
                return await handler(request)
            if conn.provisional and not conn.reserved:
                if not self.is_reserved(request):
                    refusal = refuse(503, "too_many_connections", "this port is full; its last places are reserved")
                    refusal.force_close()
                    return refusal
                conn.reserved = True  # a forged claim is refused by the handler, which closes it below
                request[RESERVED_ROOM] = True
            conn.busy += 1
            counted = True

            def streaming() -> None:
                nonlocal counted
                if counted:
                    counted = False
                    conn.busy -= 1
                    conn.streaming = True

            request[_STREAMING] = streaming
            try:
                response = await handler(request)
            finally:
                if counted:
                    conn.busy -= 1
                else:
                    conn.streaming = False
            if conn.provisional and response.status >= 400:
                response.force_close()
                conn.reserved = False
            return response

        return cap_connections


def mark_streaming(request: web.Request) -> None:
    """Tell the port's cap that ``request``'s response is a long-lived stream.

    From then until its handler returns, the connection is not a request in progress: it may
    be closed to make room once no idle connection is left. Does nothing on a server without a
    cap. Idempotent.
    """
    hook = request.get(_STREAMING)
    if hook is not None:
        hook()


class CappedTCPSite(web.TCPSite):
    """A TCP site whose connections are counted against a :class:`ConnectionCap`."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int, cap: ConnectionCap) -> None:
        super().__init__(runner, host, port)
        self._cap = cap

    async def start(self) -> None:
        """Listen on the site's address; each accepted connection goes through the cap first."""
        await web.BaseSite.start(self)
        server = self._runner.server
        if server is None:
            raise RuntimeError("the runner is not set up")
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._cap.protocol_factory(server), self._host, self._port)


async def start_site(runner: web.BaseRunner, host: str, port: int, cap: ConnectionCap | None) -> web.TCPSite:
    """Start ``runner`` on ``host:port``, capped by ``cap`` when given; return the started site."""
    site = web.TCPSite(runner, host, port) if cap is None else CappedTCPSite(runner, host, port, cap)
    await site.start()
    return site
