"""The p2p wire messages and their bounded decoders (pure; no I/O).

Every decoder takes bytes and either returns a typed value or raises
:class:`chain.encoding.DecodeError`; nothing else escapes for any input.

- Handshake: ``encode([hello_fields, signature])`` where the signature is the node key's
  Ed25519 signature of ``signing_message(HANDSHAKE_DOMAIN, chain_id, hello_fields)``.
- Message batch (body of POST /p2p/msg): ``encode([[channel, payload], ...])``.
- Peer exchange (payloads on the built-in ``p2p.pex`` channel): ``[0]`` (request) and
  ``[1, [[node_id, url], ...]]`` (response).
- Error answers: ``encode([reason, detail])``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import msgpack

from chain.encoding import DecodeError, as_bytes, as_int, as_list, as_str, decode, encode, sha256
from chain.keys import PUBLIC_KEY_SIZE, SIGNATURE_SIZE, PrivateKey, signing_message, verify

PROTOCOL_VERSION: Final = 2
"""Peers of another version refuse the handshake (``incompatible_version``). 2: a gossiped
transaction batch names the peers that hold it (node/mempool_reactor.py)."""
HANDSHAKE_DOMAIN: Final = "agora/p2p-handshake/v1"
MAX_HANDSHAKE_BYTES: Final = 2048
MAX_URL_LENGTH: Final = 200
MAX_CHAIN_ID: Final = 64
MAX_CHANNEL_NAME: Final = 32
MAX_ERROR_BYTES: Final = 1024
MAX_PEX_BYTES: Final = 64 * 1024
MAX_PEX_ADDRESSES: Final = 64
PEX_CHANNEL: Final = "p2p.pex"
ENVELOPE_OVERHEAD: Final = 48
"""Upper bound of the msgpack framing bytes one envelope adds to a batch."""

_CHANNEL_RE: Final = re.compile(r"^[a-z0-9][a-z0-9._/-]*$")
_URL_RE: Final = re.compile(
    r"^https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$|^https?://\[[0-9a-fA-F:]+\](:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$"
)


def check_channel_name(name: object, what: str = "channel") -> str:
    """Return ``name`` if it is a valid channel name (1-32 chars of a-z 0-9 . _ / -); else DecodeError."""
    text = as_str(name, what, max_len=MAX_CHANNEL_NAME, min_len=1)
    if not _CHANNEL_RE.match(text):
        raise DecodeError(f"{what}: {text!r} is not a valid channel name")
    return text


def check_url(url: object, what: str = "url") -> str:
    """Return ``url`` if it is a plain http(s) base URL of at most 200 bytes; else DecodeError."""
    text = as_str(url, what, max_len=MAX_URL_LENGTH, min_len=8)
    if not _URL_RE.match(text):
        raise DecodeError(f"{what}: {text!r} is not an http(s) base URL")
    return text.rstrip("/")


# --- handshake ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hello:
    """One side's introduction in the handshake (signed by its node key)."""

    version: int
    """Protocol version; peers must speak the same one."""
    chain_id: str
    """The chain this node follows."""
    genesis_hash: bytes
    """Hash of the genesis document (32 bytes): same chain id, different genesis = different chain."""
    node_id: bytes
    """The node's Ed25519 public key (32 bytes): its identity on the network."""
    listen_url: str
    """Base URL where this node serves /p2p/ (peers post messages there)."""
    height: int
    """The sender's committed height at handshake time."""
    timestamp_ms: int
    """Wall-clock time of the hello; must be fresh and increase per node (anti-replay)."""
    ephemeral_key: bytes
    """X25519 public key for this session only (32 bytes)."""
    reply_to: bytes
    """Empty in a dialer's hello; sha256 of the dialer's signed hello in an answer."""

    def to_wire(self) -> list[object]:
        """Return the positional record that is signed and sent."""
        return [
            self.version,
            self.chain_id,
            self.genesis_hash,
            self.node_id,
            self.listen_url,
            self.height,
            self.timestamp_ms,
            self.ephemeral_key,
            self.reply_to,
        ]

    @classmethod
    def from_wire(cls, value: object) -> Hello:
        """Read a hello record; raise DecodeError on any malformed or out-of-range field."""
        f = as_list(value, "hello", length=9)
        reply_to = as_bytes(f[8], "hello.reply_to", max_len=32)
        if len(reply_to) not in (0, 32):
            raise DecodeError("hello.reply_to: expected 0 or 32 bytes")
        return cls(
            version=as_int(f[0], "hello.version", 0, 2**16),
            chain_id=as_str(f[1], "hello.chain_id", max_len=MAX_CHAIN_ID, min_len=1),
            genesis_hash=as_bytes(f[2], "hello.genesis_hash", size=32),
            node_id=as_bytes(f[3], "hello.node_id", size=PUBLIC_KEY_SIZE),
            listen_url=check_url(f[4], "hello.listen_url"),
            height=as_int(f[5], "hello.height", 0, 2**63 - 1),
            timestamp_ms=as_int(f[6], "hello.timestamp_ms", 0, 2**63 - 1),
            ephemeral_key=as_bytes(f[7], "hello.ephemeral_key", size=32),
            reply_to=reply_to,
        )


@dataclass(frozen=True, slots=True)
class SignedHello:
    """A hello with its node-key signature and the exact bytes it travelled as."""

    hello: Hello
    signature: bytes
    raw: bytes
    """The encoded ``[hello_fields, signature]``; answers bind to ``sha256(raw)``."""

    def signature_valid(self) -> bool:
        """Return True iff ``signature`` is the hello's node key signing its fields."""
        msg = signing_message(HANDSHAKE_DOMAIN, self.hello.chain_id, self.hello.to_wire())
        return verify(self.hello.node_id, msg, self.signature)


def sign_hello(key: PrivateKey, hello: Hello) -> SignedHello:
    """Sign ``hello`` with the node key (whose public key must be ``hello.node_id``)."""
    if key.public_key != hello.node_id:
        raise ValueError("hello.node_id must be the signing key's public key")
    fields = hello.to_wire()
    signature = key.sign(signing_message(HANDSHAKE_DOMAIN, hello.chain_id, fields))
    return SignedHello(hello, signature, encode([fields, signature]))


def decode_signed_hello(data: bytes) -> SignedHello:
    """Decode a handshake body (at most 2 KiB); the signature is NOT checked here."""
    value = as_list(decode(data, MAX_HANDSHAKE_BYTES), "handshake", length=2)
    hello = Hello.from_wire(value[0])
    signature = as_bytes(value[1], "handshake.signature", size=SIGNATURE_SIZE)
    return SignedHello(hello, signature, bytes(data))


def hello_digest(signed: SignedHello) -> bytes:
    """Return the id an answer's ``reply_to`` must carry for this hello."""
    return sha256(signed.raw)


# --- envelopes ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Envelope:
    """One message on one channel; the payload is opaque to p2p."""

    channel: str
    """Channel name (which reactor gets it)."""
    payload: bytes
    """The reactor's message bytes."""


def encode_batch(envelopes: Sequence[Envelope]) -> bytes:
    """Return the body of a POST /p2p/msg carrying ``envelopes`` (possibly none: a ping)."""
    return encode([[e.channel, e.payload] for e in envelopes])


def decode_batch(data: bytes, max_size: int, max_envelopes: int, max_payload: int) -> list[Envelope]:
    """Decode a message batch, enforcing total size, envelope count and per-payload size.

    The bounds are checked on the msgpack headers as the bytes are read, before any value is
    built: a batch declaring more than ``max_envelopes`` envelopes, an envelope that is not a
    pair, or a payload longer than ``max_payload`` is refused at its header, so the work done
    on any input is linear in the bytes accepted. The result re-encodes to ``data`` exactly
    (canonical form), as with :func:`chain.encoding.decode`.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise DecodeError("expected bytes")
    if len(data) > max_size:
        raise DecodeError(f"batch of {len(data)} bytes exceeds the limit of {max_size}")
    unpacker = msgpack.Unpacker(
        raw=False,
        max_buffer_size=max(len(data), 1),
        max_str_len=MAX_CHANNEL_NAME,
        max_bin_len=max_payload,
        max_array_len=0,
        max_map_len=0,
        max_ext_len=0,
    )
    unpacker.feed(data)
    out: list[Envelope] = []
    try:
        count = _array_header(unpacker, "batch")
        if count > max_envelopes:
            raise DecodeError(f"batch: header declares {count} envelopes, at most {max_envelopes} allowed")
        for _ in range(count):
            if (length := _array_header(unpacker, "envelope")) != 2:
                raise DecodeError(f"envelope: header declares {length} items, expected 2")
            channel = check_channel_name(unpacker.unpack())
            payload = as_bytes(unpacker.unpack(), "envelope.payload", max_len=max_payload)
            out.append(Envelope(channel, payload))
        if unpacker.tell() != len(data):
            raise DecodeError("batch: trailing bytes after the envelopes")
    except DecodeError:
        raise
    except (ValueError, TypeError, msgpack.OutOfData, msgpack.FormatError, msgpack.StackError) as exc:
        raise DecodeError(f"malformed batch: {exc or type(exc).__name__}") from None
    if encode_batch(out) != bytes(data):
        raise DecodeError("batch: non-canonical encoding")
    return out


def _array_header(unpacker: msgpack.Unpacker, what: str) -> int:
    """Read an array header (the element count only; no element is decoded)."""
    try:
        return int(unpacker.read_array_header())
    except msgpack.OutOfData:
        raise
    except (ValueError, msgpack.FormatError, msgpack.StackError):
        raise DecodeError(f"{what}: expected an array") from None


# --- peer exchange --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PexRequest:
    """Ask a peer for addresses of other peers."""


@dataclass(frozen=True, slots=True)
class PexAddress:
    """A peer a node knows: its node id and listen URL."""

    node_id: bytes
    url: str


@dataclass(frozen=True, slots=True)
class PexResponse:
    """Up to 64 known peers."""

    addresses: tuple[PexAddress, ...]


def encode_pex(message: PexRequest | PexResponse) -> bytes:
    """Return the payload of a PEX message."""
    if isinstance(message, PexRequest):
        return encode([0])
    return encode([1, [[a.node_id, a.url] for a in message.addresses[:MAX_PEX_ADDRESSES]]])


def decode_pex(data: bytes) -> PexRequest | PexResponse:
    """Decode a PEX payload; raise DecodeError on anything else."""
    value = as_list(decode(data, MAX_PEX_BYTES), "pex", max_len=2)
    if not value:
        raise DecodeError("pex: empty message")
    tag = as_int(value[0], "pex.tag", 0, 1)
    if tag == 0:
        as_list(value, "pex request", length=1)
        return PexRequest()
    as_list(value, "pex response", length=2)
    entries = as_list(value[1], "pex.addresses", max_len=MAX_PEX_ADDRESSES)
    addresses = []
    for entry in entries:
        pair = as_list(entry, "pex.address", length=2)
        addresses.append(PexAddress(as_bytes(pair[0], "pex.node_id", size=PUBLIC_KEY_SIZE), check_url(pair[1])))
    return PexResponse(tuple(addresses))


# --- error answers --------------------------------------------------------------------


def encode_error(reason: str, detail: str) -> bytes:
    """Return the body of a 4xx answer: ``[reason, detail]`` (detail truncated to fit)."""
    return encode([reason[:64], detail.encode()[:512].decode(errors="ignore")])


def decode_error(data: bytes) -> tuple[str, str]:
    """Decode a 4xx answer body into ``(reason, detail)``."""
    value = as_list(decode(data, MAX_ERROR_BYTES), "error", length=2)
    return as_str(value[0], "error.reason", max_len=64), as_str(value[1], "error.detail", max_len=512)
