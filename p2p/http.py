"""The HTTP edge: aiohttp handlers for /p2p/handshake and /p2p/msg, and ways to serve them.

Two ways to mount, so a node can serve p2p and its client API on one port or on two:

- ``add_p2p_routes(app, switch)`` adds ``POST /p2p/handshake`` and ``POST /p2p/msg`` to an
  existing application (the client API's);
- ``create_p2p_subapp(switch)`` returns a sub-application to mount at ``/p2p``;
- ``create_p2p_app(switch)`` returns an application whose routes are ``/p2p/...``, to run on
  its own (``serve_p2p`` does that on a TCP port).

Bodies are read with our own bound (independent of the host app's ``client_max_size``);
every refusal is a 4xx (or 503) with body ``encode([reason, detail])``. Peers never compress
their bodies, so a body with a ``Content-Encoding`` other than ``identity`` is refused (415)
before a byte of it is read, and ``serve_p2p`` runs aiohttp with ``auto_decompress=False``:
no gzip bomb is ever inflated, and a corrupt one is a 415, not a 500.

``serve_p2p`` also applies the limits of ``p2p.edge`` from the switch's config: a budget of
body bytes in flight, a body read timeout and a cap on connections with room reserved for
reserved peers (``P2PConfig.reserved_peers`` and the seeds). A message request whose
``X-Agora-Node`` holds no session is refused before its body is read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from aiohttp import hdrs, web

from p2p.edge import RESERVED_ROOM, BodyBudget, ConnectionCap, Middleware, body_limits_middleware, start_site
from p2p.errors import Rejection
from p2p.switch import (
    CONTENT_TYPE,
    HEADER_MAC,
    HEADER_NODE,
    HEADER_SEQ,
    Switch,
    read_limited,
)
from p2p.wire import MAX_HANDSHAKE_BYTES, encode_error

log = logging.getLogger("agora.p2p")

HANDSHAKE_SUFFIX = "/handshake"
MSG_SUFFIX = "/msg"


def _refuse(switch: Switch, rejection: Rejection) -> web.Response:
    switch.metrics.rejected.labels(rejection.reason[:32]).inc()
    return web.Response(
        status=rejection.status,
        body=encode_error(rejection.reason, rejection.detail),
        content_type=CONTENT_TYPE,
    )


def refusal(status: int, reason: str, detail: str) -> web.Response:
    """A p2p refusal: ``status`` with body ``encode([reason, detail])``."""
    return web.Response(status=status, body=encode_error(reason, detail), content_type=CONTENT_TYPE)


def is_compressed(request: web.Request) -> bool:
    """Return True iff the request declares a body encoding other than ``identity``."""
    encoding = request.headers.get(hdrs.CONTENT_ENCODING, "").strip().lower()
    return encoding not in ("", "identity")


async def _read_body(
    switch: Switch, request: web.Request, limit: int, before_read: Callable[[], None] | None = None
) -> bytes:
    if is_compressed(request):
        raise Rejection(415, "compressed_body", "p2p bodies must not have a Content-Encoding")
    declared = request.content_length
    if declared is not None and declared > limit:
        body = None
    else:
        if before_read is not None:
            before_read()
        body = await read_limited(request.content, limit)
    if body is None:
        switch.penalize_host(request.remote, 25, "oversized body")
        raise Rejection(413, "body_too_large", f"the limit is {limit} bytes")
    return body


def p2p_routes(switch: Switch, prefix: str = "/p2p") -> list[web.RouteDef]:
    """Return the route definitions of the p2p endpoints, bound to ``switch``, under ``prefix``.

    The paths are ``{prefix}/handshake`` and ``{prefix}/msg``; peers always reach them at
    ``/p2p/...`` of the listen URL, so use ``prefix=""`` only for a sub-app mounted at /p2p.
    """

    async def handshake(request: web.Request) -> web.StreamResponse:
        try:
            # A banned host is refused after the (2 KiB) hello is checked: a known or reserved
            # node behind the same IP still gets in (accept_handshake).
            body = await _read_body(switch, request, MAX_HANDSHAKE_BYTES)
            claimed = request.headers.get(HEADER_NODE, "") if request.get(RESERVED_ROOM) else None
            answer = switch.accept_handshake(request.remote, body, claimed=claimed)
        except Rejection as rejection:
            return _refuse(switch, rejection)
        return web.Response(status=200, body=answer, content_type=CONTENT_TYPE)

    async def messages(request: web.Request) -> web.StreamResponse:
        try:
            sender = request.headers.get(HEADER_NODE, "")
            switch.check_host(request.remote, sender)
            body = await _read_body(
                switch,
                request,
                switch.config.max_request_bytes,
                lambda: switch.check_sender(request.remote, sender),
            )
            await switch.accept_messages(
                request.remote,
                request.headers.get(HEADER_NODE, ""),
                request.headers.get(HEADER_SEQ, ""),
                request.headers.get(HEADER_MAC, ""),
                body,
            )
        except Rejection as rejection:
            return _refuse(switch, rejection)
        return web.Response(status=204)

    return [web.post(prefix + HANDSHAKE_SUFFIX, handshake), web.post(prefix + MSG_SUFFIX, messages)]


def add_p2p_routes(app: web.Application, switch: Switch) -> None:
    """Add ``POST /p2p/handshake`` and ``POST /p2p/msg`` to ``app`` (e.g. the client API app)."""
    app.add_routes(p2p_routes(switch))


def route_limit(switch: Switch) -> Callable[[web.Request], int]:
    """The largest body each p2p route reads (what a chunked body reserves from the budget)."""

    def limit(request: web.Request) -> int:
        return MAX_HANDSHAKE_BYTES if request.path.endswith(HANDSHAKE_SUFFIX) else switch.config.max_request_bytes

    return limit


def is_reserved_request(switch: Switch) -> Callable[[web.Request], bool]:
    """Whether a request claims to come from a reserved peer (``X-Agora-Node``; the handler checks the claim)."""

    def reserved(request: web.Request) -> bool:
        return switch.is_reserved_request(request.headers.get(HEADER_NODE, ""))

    return reserved


def create_p2p_app(switch: Switch, middlewares: Sequence[Middleware] = ()) -> web.Application:
    """Return an application serving only the p2p endpoints (at /p2p/...), to run on its own port."""
    app = web.Application(client_max_size=switch.config.max_request_bytes, middlewares=list(middlewares))
    add_p2p_routes(app, switch)
    return app


def create_p2p_subapp(switch: Switch) -> web.Application:
    """Return a sub-application to mount with ``host_app.add_subapp("/p2p", sub)``."""
    app = web.Application(client_max_size=switch.config.max_request_bytes)
    app.add_routes(p2p_routes(switch, prefix=""))
    return app


@dataclass(slots=True)
class P2PServer:
    """A running standalone p2p HTTP server."""

    runner: web.AppRunner
    host: str
    port: int
    """The bound TCP port (useful after binding port 0)."""
    connections: ConnectionCap | None = None
    """The cap on its connections (counts of open, refused and evicted ones)."""
    bodies: BodyBudget | None = None
    """The budget of request bodies in flight."""

    @property
    def url(self) -> str:
        """The base URL to announce (``http://host:port``)."""
        return f"http://{self.host}:{self.port}"

    async def close(self) -> None:
        """Stop accepting connections and close the server."""
        await self.runner.cleanup()


IDLE_TIMEOUT: Final = 15.0
"""Default seconds a connection may stay open without a complete request (idle, or slow headers)."""


async def serve_p2p(
    switch: Switch, host: str = "127.0.0.1", port: int = 0, idle_timeout: float | None = None
) -> P2PServer:
    """Serve ``create_p2p_app(switch)`` on ``host:port`` (0 = any free port) and return the server.

    A connection that sends no complete request for ``idle_timeout`` seconds (default: the
    switch config's; a fresh one, one idle between keep-alive requests, or one dribbling its
    headers) is closed. Bodies in flight, body read time and connections are bounded by the
    switch config (``p2p.edge``); the last ``reserved_connections`` places are for reserved peers.
    """
    cfg = switch.config
    cap = ConnectionCap(
        cfg.max_connections,
        cfg.reserved_connections,
        is_reserved_request(switch),
        per_host=min(cfg.max_connections_per_host, cfg.max_connections),
    )
    budget = BodyBudget(cfg.body_budget_bytes)
    middlewares = [
        cap.middleware(refusal),
        body_limits_middleware(budget, cfg.body_read_timeout, refusal, route_limit(switch)),
    ]
    runner = web.AppRunner(
        create_p2p_app(switch, middlewares),
        access_log=None,
        handle_signals=False,
        auto_decompress=False,
        keepalive_timeout=cfg.idle_timeout if idle_timeout is None else idle_timeout,
    )
    await runner.setup()
    try:
        await start_site(runner, host, port, cap)
    except BaseException:
        await runner.cleanup()
        raise
    bound = runner.addresses[0][1]
    return P2PServer(runner, host, int(bound), cap, budget)
