"""Trace receipts: an item's whole journey in one file, verifiable offline from the genesis.

A receipt (format :data:`VERSION`, documented in docs/ARCHITECTURE.md) is the canonical
encoding (chain/encoding.py) of::

    ["agora/trace-receipt", 1, genesis bytes, item key, height,
     [light block, ...],                     # height order, each verifiable from the one before
     [[tx, receipt, height, tx proof, result proof], ...],   # every event's transaction
     [[item key, head value, head proof, [event index, ...]], ...]]   # the item first

``genesis bytes`` is ``encode(genesis.to_wire())`` (its hash is the genesis hash); a Merkle
proof is ``[index, size, [sibling, ...]]``; a head proof is the encoded state proof of
``mkt/pv/head/<key>`` at ``height``. :func:`verify_receipt` checks, with no network:

1. the genesis is the one the verifier trusts;
2. every light block, in order, from the genesis (chain/light_client.py: certificates,
   validator sets, hash links or 1/3-trust skips), the last one at ``height``;
3. every event's transaction and receipt against its block's ``tx_root`` and ``results_root``,
   and that the receipt is a success recording a provenance event;
4. every item's head under the state root at ``height``, and that the hash chain over the
   events listed for it is that head's: no event of any item was left out or reordered;
5. that each listed event's receipt records it as that item's next event.

Every byte of a receipt is checked by one of these steps, so any change fails with a
:class:`ReceiptError` naming the step, the event or item, and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import msgpack

from chain.block import Header
from chain.encoding import DecodeError, Primitive, as_bytes, as_int, as_list, as_str, decode, encode, sha256
from chain.execution import Receipt
from chain.genesis import GENESIS_DOMAIN, Genesis
from chain.light_client import (
    LightBlock,
    LightClientError,
    TrustedState,
    TxEvidence,
    verify_state,
    verify_step,
    verify_tx,
)
from chain.merkle import MerkleProof
from chain.tx import MAX_TX_BYTES
from market.provenance.journey import MAX_TIMELINE, MAX_TREE
from market.provenance.keys import head_key
from market.provenance.records import Head

MAGIC: Final = "agora/trace-receipt"
VERSION: Final = 1
MAX_RECEIPT_BYTES: Final = 64 * 1024 * 1024
MAX_LIGHT_BLOCKS: Final = 8_192
MAX_RECEIPT_EVENTS: Final = MAX_TIMELINE
MAX_RECEIPT_ITEMS: Final = MAX_TREE
MAX_RECEIPT_RAW: Final = 1024 * 1024
"""Bytes of one receipt (a recall's receipt lists every item it marked)."""
MAX_GENESIS_BYTES: Final = 8 * 1024 * 1024
ZERO: Final = bytes(32)


class ReceiptError(Exception):
    """The receipt does not verify. ``where`` names the part (``event 3``, ``light block 2``,
    ``item 01/...``), ``reason`` is a stable code and the message says exactly what failed."""

    def __init__(self, where: str, reason: str, message: str) -> None:
        super().__init__(message)
        self.where = where
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}: {self.args[0]}"


@dataclass(frozen=True, slots=True)
class ReceiptEvent:
    """One event's transaction with its receipt and their Merkle proofs."""

    tx_raw: bytes
    receipt_raw: bytes
    height: int
    tx_proof: MerkleProof
    result_proof: MerkleProof

    @property
    def tx_hash(self) -> bytes:
        """The transaction hash: the event id."""
        return sha256(self.tx_raw)

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [self.tx_raw, self.receipt_raw, self.height, _proof_wire(self.tx_proof), _proof_wire(self.result_proof)]


@dataclass(frozen=True, slots=True)
class ReceiptItem:
    """One item of the journey: its head at the receipt's height, the proof, and its events in log order."""

    key: str
    head_value: bytes | None
    head_proof: bytes
    events: tuple[int, ...]
    """Indices into the receipt's events."""

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [self.key, self.head_value, self.head_proof, list(self.events)]


@dataclass(frozen=True, slots=True)
class TraceReceipt:
    """A parsed receipt (nothing in it verified yet: see :func:`verify_receipt`)."""

    genesis_bytes: bytes
    item: str
    height: int
    light_blocks: tuple[LightBlock, ...]
    events: tuple[ReceiptEvent, ...]
    items: tuple[ReceiptItem, ...]

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [
            MAGIC,
            VERSION,
            self.genesis_bytes,
            self.item,
            self.height,
            [b.to_wire() for b in self.light_blocks],
            [e.to_wire() for e in self.events],
            [i.to_wire() for i in self.items],
        ]

    def encode(self) -> bytes:
        """The receipt file's bytes."""
        return encode(self.to_wire())


def _proof_wire(proof: MerkleProof) -> Primitive:
    return [proof.index, proof.size, list(proof.path)]


def _proof(value: Primitive, what: str) -> MerkleProof:
    f = as_list(value, what, length=3)
    index, size = as_int(f[0], f"{what} index", 0, 2**32), as_int(f[1], f"{what} size", 1, 2**32)
    path = tuple(as_bytes(p, f"{what} sibling", size=32) for p in as_list(f[2], f"{what} path", max_len=64))
    return MerkleProof(index, size, path)


def _part(where: str, parse: Any, value: Primitive) -> Any:
    try:
        return parse(value)
    except (DecodeError, ValueError, LightClientError) as exc:
        detail = exc.args[0] if isinstance(exc, LightClientError) else str(exc)
        raise ReceiptError(where, "malformed", f"not well-formed: {detail}") from None


def _event_from_wire(value: Primitive) -> ReceiptEvent:
    f = as_list(value, "event", length=5)
    return ReceiptEvent(
        as_bytes(f[0], "transaction", max_len=MAX_TX_BYTES),
        as_bytes(f[1], "receipt", max_len=MAX_RECEIPT_RAW),
        as_int(f[2], "height", 1),
        _proof(f[3], "tx proof"),
        _proof(f[4], "result proof"),
    )


def _item_from_wire(value: Primitive) -> ReceiptItem:
    f = as_list(value, "item", length=4)
    head = None if f[1] is None else as_bytes(f[1], "head value", max_len=256)
    indices = as_list(f[3], "event indices", max_len=MAX_RECEIPT_EVENTS * 4)
    return ReceiptItem(
        as_str(f[0], "item key", min_len=1, max_len=256),
        head,
        as_bytes(f[2], "head proof", max_len=64 * 1024),
        tuple(as_int(i, "event index", 0, MAX_RECEIPT_EVENTS - 1) for i in indices),
    )


# --- framing diagnosis ----------------------------------------------------------------------

_FIELDS: Final = ("magic", "version", "genesis", "item key", "height", "light blocks", "events", "items")
_EVENT_FIELDS: Final = ("transaction", "receipt", "height", "tx proof", "result proof")
_ITEM_FIELDS: Final = ("item key", "head value", "head proof", "event indices")


class _Fault(Exception):
    def __init__(self, where: str, message: str) -> None:
        super().__init__(message)
        self.where = where


def _marker(byte: int) -> str:
    """What a msgpack type byte announces, in words."""
    names = (
        (0x00, 0x7F, "a small integer"),
        (0x80, 0x8F, "a map"),
        (0x90, 0x9F, "an array"),
        (0xA0, 0xBF, "a string"),
        (0xC0, 0xC0, "nil"),
        (0xC1, 0xC1, "the unused byte 0xc1"),
        (0xC2, 0xC3, "a boolean"),
        (0xC4, 0xC6, "bytes"),
        (0xC7, 0xC9, "an extension"),
        (0xCA, 0xCB, "a float"),
        (0xCC, 0xD3, "an integer"),
        (0xD4, 0xD8, "an extension"),
        (0xD9, 0xDB, "a string"),
        (0xDC, 0xDD, "an array"),
        (0xDE, 0xDF, "a map"),
        (0xE0, 0xFF, "a small negative integer"),
    )
    kind = next(name for lo, hi, name in names if lo <= byte <= hi)
    return f"{kind} (type byte 0x{byte:02x})"


def _array_header(n: int) -> bytes:
    if n < 16:
        return bytes((0x90 | n,))
    if n < 0x10000:
        return b"\xdc" + n.to_bytes(2, "big")
    return b"\xdd" + n.to_bytes(4, "big")


def _reject_extension(code: int, data: bytes) -> object:
    raise DecodeError(f"msgpack extension type {code} is not allowed")


class _Frames:
    """Walks a receipt file's msgpack frames in the order of its format, one value at a time."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.unpacker = msgpack.Unpacker(
            raw=False, strict_map_key=True, ext_hook=_reject_extension, max_buffer_size=len(data) or 1
        )
        self.unpacker.feed(data)

    def _found(self, start: int) -> str:
        return "the end of the file (truncated?)" if start >= len(self.data) else _marker(self.data[start])

    def _cut(self, start: int) -> str:
        if start >= len(self.data):
            return self._found(start)
        end = len(self.data)
        return f"{self._found(start)} that runs past the end of the file at byte {end} (truncated, or a damaged length)"

    def array(self, where: str, what: str, length: int | None = None) -> int:
        """Read an array header; _Fault unless it is one (of ``length`` entries), canonically framed."""
        start = self.unpacker.tell()
        try:
            n = int(self.unpacker.read_array_header())
        except msgpack.OutOfData:
            raise _Fault(where, f"{what} at byte {start}: expected an array, found {self._cut(start)}") from None
        except ValueError:
            raise _Fault(where, f"{what} at byte {start}: expected an array, found {self._found(start)}") from None
        if length is not None and n != length:
            raise _Fault(where, f"{what} at byte {start}: expected an array of {length} fields, found an array of {n}")
        if self.data[start : self.unpacker.tell()] != _array_header(n):
            raise _Fault(where, f"{what} at byte {start}: the array header of {n} entries is not canonically encoded")
        return n

    def value(self, where: str, what: str, expected: str) -> None:
        """Read one whole value; _Fault unless it decodes canonically (chain/encoding.py rules)."""
        start = self.unpacker.tell()
        try:
            self.unpacker.skip()
        except msgpack.OutOfData:
            raise _Fault(where, f"{what} at byte {start}: expected {expected}, found {self._cut(start)}") from None
        except (ValueError, TypeError, DecodeError, msgpack.UnpackException) as exc:
            raise _Fault(
                where,
                f"{what} at byte {start}: expected {expected}, found {self._found(start)} that does not decode: {exc}",
            ) from None
        end = self.unpacker.tell()
        try:
            decode(self.data[start:end], MAX_RECEIPT_BYTES)
        except DecodeError as exc:
            raise _Fault(
                where,
                f"{what} at bytes {start}..{end}: expected {expected}, found {self._found(start)} that is not "
                f"well-formed: {exc}",
            ) from None

    def end(self) -> None:
        """_Fault if bytes follow the receipt."""
        at = self.unpacker.tell()
        if at != len(self.data):
            raise _Fault("file", f"{len(self.data) - at} bytes follow the end of the receipt at byte {at}")


def locate_framing_fault(data: bytes) -> tuple[str, str] | None:
    """Where the framing of a receipt file breaks: (part, message naming the field, its byte
    offset, what was expected and what was found), or None if every frame decodes.

    Pure; it reads at most the file once, so it is as bounded as decoding it.
    """
    frames = _Frames(data)
    expected = ("a string", "an integer", "bytes", "a string", "an integer")
    try:
        frames.array("file", "the receipt", len(_FIELDS))
        for name, kind in zip(_FIELDS, expected, strict=False):
            frames.value("genesis" if name == "genesis" else "file", name, kind)
        for i in range(frames.array("file", "light blocks")):
            frames.value(f"light block {i}", f"light block {i}", "a light block")
        for i in range(frames.array("file", "events")):
            frames.array(f"event {i}", f"event {i}", len(_EVENT_FIELDS))
            for j, (name, kind) in enumerate(
                zip(_EVENT_FIELDS, ("bytes", "bytes", "an integer", "a proof", "a proof"), strict=True)
            ):
                frames.value(f"event {i}", f"field {j} ({name})", kind)
        for i in range(frames.array("file", "items")):
            frames.array(f"item {i}", f"item {i}", len(_ITEM_FIELDS))
            for j, (name, kind) in enumerate(
                zip(_ITEM_FIELDS, ("a string", "bytes or nil", "bytes", "a list of event indices"), strict=True)
            ):
                frames.value(f"item {i}", f"field {j} ({name})", kind)
        frames.end()
    except _Fault as fault:
        return fault.where, fault.args[0]
    return None


def parse_receipt(data: bytes) -> TraceReceipt:
    """Parse a receipt file; ReceiptError("file", ...) naming the part that is not well-formed.

    When the file does not decode, the error names the frame that breaks (the part, the field
    and its byte offset, what was expected and what was found: :func:`locate_framing_fault`).
    """
    if len(data) > MAX_RECEIPT_BYTES:
        raise ReceiptError("file", "too_large", f"{len(data)} bytes exceeds the limit of {MAX_RECEIPT_BYTES}")
    try:
        value = decode(data, MAX_RECEIPT_BYTES)
    except DecodeError as exc:
        located = locate_framing_fault(bytes(data))
        if located is not None:
            raise ReceiptError(located[0], "malformed", located[1]) from None
        raise ReceiptError("file", "malformed", f"the file is not a well-formed receipt (damaged?): {exc}") from None
    top = _part("file", lambda v: as_list(v, "receipt", length=8), value)
    if top[0] != MAGIC:
        raise ReceiptError("file", "not_a_receipt", f"the file does not start with {MAGIC!r}")
    if top[1] != VERSION:
        raise ReceiptError("file", "unsupported_version", f"receipt version {top[1]!r}; this verifier reads {VERSION}")
    genesis_bytes = _part("genesis", lambda v: as_bytes(v, "genesis", max_len=MAX_GENESIS_BYTES), top[2])
    item = _part("file", lambda v: as_str(v, "item key", min_len=1, max_len=256), top[3])
    height = _part("file", lambda v: as_int(v, "height", 1), top[4])
    blocks = _part("file", lambda v: as_list(v, "light blocks", max_len=MAX_LIGHT_BLOCKS), top[5])
    events = _part("file", lambda v: as_list(v, "events", max_len=MAX_RECEIPT_EVENTS), top[6])
    items = _part("file", lambda v: as_list(v, "items", max_len=MAX_RECEIPT_ITEMS), top[7])
    return TraceReceipt(
        genesis_bytes,
        item,
        height,
        tuple(_part(f"light block {i}", LightBlock.from_wire, b) for i, b in enumerate(blocks)),
        tuple(_part(f"event {i}", _event_from_wire, e) for i, e in enumerate(events)),
        tuple(_part(f"item {i}", _item_from_wire, it) for i, it in enumerate(items)),
    )


# --- verification ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VerifiedEvent:
    """An event as verified: where it was committed and what its receipt recorded."""

    index: int
    tx_hash: bytes
    height: int
    block_time_ms: int
    kind: str
    records: tuple[dict[str, Any], ...]
    """The receipt's ``provenance`` events (item, action, biz_step, ...)."""


@dataclass(frozen=True, slots=True)
class VerifiedReceipt:
    """What a receipt proves, and the steps that proved it."""

    chain_id: str
    item: str
    height: int
    time_ms: int
    events: tuple[VerifiedEvent, ...]
    items: tuple[tuple[str, int], ...]
    """(item key, event count) for every item of the journey."""
    steps: tuple[str, ...] = field(default=())


def _event_records(receipt: Receipt) -> tuple[dict[str, Any], ...]:
    return tuple(dict(e.attrs) for e in receipt.events if e.type == "provenance")


def _tx_kind(raw: bytes) -> str:
    fields = as_list(decode(raw, MAX_TX_BYTES), "transaction", length=7)
    return as_str(fields[4], "kind", min_len=1)


def _verify_chain(receipt: TraceReceipt, genesis: Genesis, steps: list[str]) -> dict[int, Header]:
    """Check the light blocks in order from the genesis; the verified headers by height."""
    trusted = TrustedState.from_genesis(genesis)
    headers: dict[int, Header] = {}
    for i, block in enumerate(receipt.light_blocks):
        where = f"light block {i} (height {block.height})"
        try:
            trusted = verify_step(trusted, block)
        except LightClientError as exc:
            raise ReceiptError(where, exc.reason, exc.args[0]) from None
        headers[block.height] = block.header
        signers = len(block.commit.signatures)
        steps.append(
            f"header {block.height} {block.header.hash.hex()[:16]}: certificate of {signers} of "
            f"{len(block.validators)} validators verified"
        )
    if trusted.height != receipt.height:
        raise ReceiptError(
            "light blocks",
            "missing_header",
            f"the last verified header is at height {trusted.height}, the receipt claims height {receipt.height}",
        )
    return headers


def _verify_event(i: int, event: ReceiptEvent, headers: dict[int, Header]) -> tuple[VerifiedEvent, Receipt]:
    tx_hash = event.tx_hash
    where = f"event {i} (tx {tx_hash.hex()[:16]}, block {event.height})"
    header = headers.get(event.height)
    if header is None:
        raise ReceiptError(where, "missing_header", f"the receipt holds no verified header at height {event.height}")
    evidence = TxEvidence(event.tx_raw, event.receipt_raw, event.tx_proof, event.result_proof)
    try:
        verify_tx(header, tx_hash, evidence)
    except LightClientError as exc:
        raise ReceiptError(where, exc.reason, exc.args[0]) from None
    try:  # both are committed to by the roots just checked; they are read, not trusted, here
        receipt = Receipt.from_wire(decode(event.receipt_raw, MAX_RECEIPT_RAW))
        kind = _tx_kind(event.tx_raw)
    except DecodeError as exc:
        raise ReceiptError(where, "malformed", f"the committed transaction or receipt does not parse: {exc}") from None
    if receipt.tx_hash != tx_hash or not receipt.ok:
        raise ReceiptError(where, "not_recorded", f"the transaction failed ({receipt.code}): it recorded no event")
    records = _event_records(receipt)
    if not records:
        raise ReceiptError(where, "not_recorded", f"the {kind} transaction recorded no provenance event")
    return VerifiedEvent(i, tx_hash, event.height, header.time_ms, kind, records), receipt


def _verify_item(item: ReceiptItem, state_root: bytes, height: int, events: list[VerifiedEvent]) -> Head:
    where = f"item {item.key}"
    try:
        verify_state(state_root, head_key(item.key), item.head_value, item.head_proof)
    except LightClientError as exc:
        raise ReceiptError(where, exc.reason, f"head state proof at height {height}: {exc.args[0]}") from None
    try:
        head = Head() if item.head_value is None else Head.from_wire(decode(item.head_value))
    except DecodeError as exc:
        raise ReceiptError(where, "malformed", f"the proven head does not parse: {exc}") from None
    if head.count != len(item.events):
        missing = "left out" if head.count > len(item.events) else "added"
        raise ReceiptError(
            where,
            "event_count",
            f"the head proven at height {height} counts {head.count} events, the receipt lists "
            f"{len(item.events)}: an event was {missing}",
        )
    chain = ZERO
    for position, index in enumerate(item.events):
        if index >= len(events):
            raise ReceiptError(where, "malformed", f"event index {index} is beyond the {len(events)} events")
        event = events[index]
        chain = sha256(chain + event.tx_hash)
        if not any(r.get("item") == item.key and r.get("count") == position + 1 for r in event.records):
            raise ReceiptError(
                where,
                "wrong_event",
                f"event {index} (tx {event.tx_hash.hex()[:16]}) does not record event #{position + 1} of {item.key}",
            )
    if chain != head.chain:
        raise ReceiptError(
            where,
            "event_chain",
            f"the events listed do not hash to the head proven at height {height}: one was replaced",
        )
    return head


def verify_receipt(data: bytes, genesis: Genesis) -> VerifiedReceipt:
    """Verify a receipt file against the trusted ``genesis``; ReceiptError saying exactly what fails.

    Pure (no I/O): every header is checked from the genesis by its validators' signatures,
    every event against its header, every item's head against the state root at the
    receipt's height.
    """
    receipt = parse_receipt(data)
    steps: list[str] = []
    if sha256(GENESIS_DOMAIN + receipt.genesis_bytes) != genesis.hash:
        raise ReceiptError(
            "genesis",
            "wrong_genesis",
            f"the receipt's genesis hashes to {sha256(GENESIS_DOMAIN + receipt.genesis_bytes).hex()}, "
            f"the trusted genesis is {genesis.hash.hex()}",
        )
    steps.append(f"genesis {genesis.hash.hex()[:16]} of chain {genesis.chain_id} is the trusted one")
    headers = _verify_chain(receipt, genesis, steps)
    events: list[VerifiedEvent] = []
    seen: set[bytes] = set()
    for i, event in enumerate(receipt.events):
        verified, _ = _verify_event(i, event, headers)
        if verified.tx_hash in seen:
            raise ReceiptError(f"event {i}", "duplicate", "the same transaction is listed twice")
        seen.add(verified.tx_hash)
        events.append(verified)
        steps.append(
            f"event {i} ({verified.kind}, tx {verified.tx_hash.hex()[:16]}): in block {event.height}'s tx_root, "
            f"receipt in its results_root"
        )
    if not receipt.items or receipt.items[0].key != receipt.item:
        raise ReceiptError("items", "malformed", f"the first item must be the receipt's item {receipt.item}")
    state_root = headers[receipt.height].state_root
    used: set[int] = set()
    counts = []
    keys: set[str] = set()
    for item in receipt.items:
        if item.key in keys:
            raise ReceiptError(f"item {item.key}", "duplicate", "the item is listed twice")
        keys.add(item.key)
        head = _verify_item(item, state_root, receipt.height, events)
        used.update(item.events)
        counts.append((item.key, head.count))
        steps.append(f"item {item.key}: head at height {receipt.height} proven, {head.count} events, none left out")
    unused = sorted(set(range(len(events))) - used)
    if unused:
        raise ReceiptError(f"event {unused[0]}", "unused", "the event is in no item's log")
    return VerifiedReceipt(
        genesis.chain_id,
        receipt.item,
        receipt.height,
        headers[receipt.height].time_ms,
        tuple(events),
        tuple(counts),
        tuple(steps),
    )
