"""What every client-API handler shares: the services it may use and problem answers.

Kept apart from the route modules (node/api.py, node/market_api.py) so that each of them
can import it without importing the other.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Final

from aiohttp import hdrs, web
from aiohttp.http_exceptions import PayloadEncodingError

from chain.encoding import MEDIA_TYPE as MSGPACK
from chain.encoding import DecodeError, decode
from chain.genesis import Genesis
from chain.keys import PrivateKey
from chain.tx import KindRegistry
from node.events import EventBus
from node.executor import BlockExecutor
from node.market_index import MarketIndex
from node.mempool import Mempool
from node.metrics import NodeMetrics
from storage.store import ChainStore

if TYPE_CHECKING:
    from node.admission import AdmissionGate
    from node.blocksync import BlockSync
    from node.consensus_driver import ConsensusDriver
    from p2p import Switch

PROBLEM_CONTENT_TYPE: Final = "application/problem+json"


@dataclass(slots=True)
class NodeServices:
    """What the API handlers may use."""

    genesis: Genesis
    registry: KindRegistry
    store: ChainStore
    mempool: Mempool
    executor: BlockExecutor
    events: EventBus
    metrics: NodeMetrics
    validator_key: PrivateKey | None
    is_validator: bool = False
    """True if the node's key is in the validator set (it proposes and votes)."""
    ready: bool = False
    node_id: str = ""
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    market: MarketIndex | None = None
    """The market query indexes (None on a node that does not run the market)."""
    consensus: ConsensusDriver | None = None
    """The consensus driver (height, round, step for the status API)."""
    switch: Switch | None = None
    """The p2p switch (None when the node talks to no peers)."""
    blocksync: BlockSync | None = None
    """Block sync (None without p2p)."""
    admission: AdmissionGate | None = None
    """The submit handlers' overload gate (None: only the mempool's own bounds apply)."""
    digital_link_base: str = ""
    """The configured GS1 Digital Link base (empty: the URL the client used)."""


SERVICES: Final = web.AppKey("services", NodeServices)


class Problem(Exception):
    """An error answer: HTTP status, stable reason code and a human-readable detail."""

    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.reason = reason
        self.detail = detail


def problem_response(status: int, reason: str, detail: str) -> web.Response:
    """An RFC 9457 problem document with Agora's ``reason`` member."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body = {"type": f"urn:agora:problem:{reason}", "title": title, "status": status, "detail": detail, "reason": reason}
    return web.Response(text=json.dumps(body), status=status, content_type=PROBLEM_CONTENT_TYPE)


# --- input helpers --------------------------------------------------------------------


async def _read_body(request: web.Request) -> bytes:
    """The raw body; Problem for a compressed or oversized one (refused before it is read)."""
    encoding = request.headers.get(hdrs.CONTENT_ENCODING, "").strip().lower()
    if encoding not in ("", "identity"):
        raise Problem(415, "unsupported_content_encoding", "send the body uncompressed (no Content-Encoding)")
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise Problem(413, "body_too_large", "request body is larger than the node accepts") from None
    except PayloadEncodingError:  # only reachable if the server inflates bodies itself
        raise Problem(400, "malformed_body", "request body is not validly encoded") from None


async def read_json(request: web.Request) -> Any:
    """The request's JSON body; Problem for a wrong content type or encoding, oversized or malformed body.

    Compressed bodies are refused (415) before any byte is read: the node's server runs with
    ``auto_decompress=False``, so nothing a client sends is ever inflated.
    """
    if request.content_type != "application/json":
        raise Problem(415, "unsupported_media_type", "send the body as application/json")
    data = await _read_body(request)
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise Problem(400, "malformed_body", "request body is not valid JSON") from None
    except RecursionError:  # deeper nesting than the decoder's stack allows, e.g. 30,000 '['
        raise Problem(400, "malformed_body", "request body nests JSON too deeply") from None


async def read_msgpack_blobs(request: web.Request, max_items: int) -> list[bytes]:
    """A MSGPACK body holding one canonical list of byte strings (the binary batch form).

    Problem 415 for another content type, 400 ``malformed_body`` for anything but such a
    list (decoded by chain.encoding's strict canonical decoder: no alternative encoding, no
    trailing bytes), 413 ``batch_too_large`` beyond ``max_items`` items. Item lengths are
    the caller's to check, item by item.
    """
    if request.content_type != MSGPACK:
        raise Problem(415, "unsupported_media_type", f"send the body as {MSGPACK}")
    data = await _read_body(request)
    try:
        value = decode(data, len(data))
    except DecodeError as exc:
        raise Problem(400, "malformed_body", f"request body is not canonical msgpack: {exc}") from None
    if type(value) is not list or any(type(item) is not bytes for item in value):
        raise Problem(400, "malformed_body", "body must be a msgpack list of byte strings")
    if len(value) > max_items:
        raise Problem(413, "batch_too_large", f"at most {max_items} items per batch")
    return value


def parse_height(text: str) -> int:
    """A block height written as ASCII decimal digits (at most 20), else Problem 400 ``bad_height``."""
    # isascii: str.isdigit() also accepts '²' or '٣', which int() refuses or reads as a height
    if not text.isascii() or not text.isdigit() or len(text) > 20:
        raise Problem(400, "bad_height", "height must be a non-negative integer")
    return int(text)


def parse_hex(text: object, what: str, max_bytes: int, size: int | None = None) -> bytes:
    """Lowercase or uppercase hex of at most ``max_bytes`` (exactly ``size``) bytes, else Problem."""
    if not isinstance(text, str):
        raise Problem(400, "malformed_body", f"{what} must be a hex string")
    if len(text) > 2 * max_bytes:
        raise Problem(413, "tx_too_large", f"{what} exceeds {max_bytes} bytes")
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise Problem(400, "bad_hex", f"{what} is not valid hex") from None
    if size is not None and len(raw) != size:
        raise Problem(400, "bad_hex", f"{what} must be {size} bytes of hex")
    return raw
