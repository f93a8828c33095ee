"""The consensus write-ahead log: what this validator signed, synced before it is sent.

The log is an append-only sequence of frames ``[u32 length][u32 crc32][payload]`` (big
endian), each payload the canonical encoding of one record:

- ``["proposal", <proposal>]`` and ``["vote", <vote>]``: a message this validator signed;
  appended and fsync'd before the signature is returned, so before it can be broadcast;
- ``["lock", <lock state>]``: the lock and valid value; appended without its own fsync
  (the next signature syncs it, and the lock only changes together with a precommit).

On open, frames are read until the first that is short, fails its checksum or does not
decode: that is a write torn by a crash, and the file is truncated to the last good
frame. The storage is pluggable: :class:`FileWalStorage` on disk, :class:`MemoryWalStorage`
with the same durability semantics for simulations.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from chain.encoding import DecodeError, as_list, as_str, decode, encode
from chain.votes import Vote
from consensus.messages import MAX_MESSAGE_BYTES, LockState, Message, Proposal, Recovered

_HEADER: Final = struct.Struct(">II")
MAX_RECORD_BYTES: Final = MAX_MESSAGE_BYTES + 64
COMPACT_AFTER_RECORDS: Final = 4096
COMPACT_AFTER_BYTES: Final = 16 * 1024 * 1024
"""Proposals carry whole blocks, so the log is also compacted by size: it never holds much
more than this plus the current height, on disk or in memory after a restart."""
"""Rewrite the log at a checkpoint once it holds more records than this."""


class WalStorage(Protocol):
    """Durable bytes behind a WAL."""

    def read_all(self) -> bytes:
        """Everything durably stored."""
        ...

    def append(self, data: bytes, sync: bool) -> None:
        """Append ``data``; if ``sync``, return only once it (and all before it) is durable."""
        ...

    def truncate(self, size: int) -> None:
        """Durably cut the log to its first ``size`` bytes."""
        ...

    def replace(self, data: bytes) -> None:
        """Atomically and durably replace the whole log with ``data``."""
        ...

    def close(self) -> None:
        """Release what the storage holds open."""
        ...


class FileWalStorage:
    """A WAL file on disk; fsyncs the file (and its directory on replace)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)

    def read_all(self) -> bytes:
        """Read the whole file."""
        return self.path.read_bytes()

    def append(self, data: bytes, sync: bool) -> None:
        """Append with one write; fsync if asked."""
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        if sync:
            os.fsync(self._fd)

    def truncate(self, size: int) -> None:
        """Cut the file and fsync it."""
        os.ftruncate(self._fd, size)
        os.fsync(self._fd)

    def replace(self, data: bytes) -> None:
        """Write a temporary file, fsync, rename over the log, fsync the directory."""
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        os.close(self._fd)
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND)

    def close(self) -> None:
        """Close the file descriptor."""
        os.close(self._fd)


class MemoryWalStorage:
    """An in-memory WAL with disk semantics: only synced bytes survive :meth:`crash`."""

    def __init__(self) -> None:
        self._durable = bytearray()
        self._pending = bytearray()

    def read_all(self) -> bytes:
        """Everything written (a live process sees its unsynced writes too)."""
        return bytes(self._durable + self._pending)

    def append(self, data: bytes, sync: bool) -> None:
        """Buffer ``data``; make everything durable if ``sync``."""
        self._pending += data
        if sync:
            self._durable += self._pending
            self._pending.clear()

    def truncate(self, size: int) -> None:
        """Cut to ``size`` bytes, durably."""
        data = (self._durable + self._pending)[:size]
        self._durable, self._pending = bytearray(data), bytearray()

    def replace(self, data: bytes) -> None:
        """Replace everything, durably."""
        self._durable, self._pending = bytearray(data), bytearray()

    def close(self) -> None:
        """Nothing to release."""

    def crash(self, torn_bytes: int = 0) -> None:
        """Lose unsynced writes, keeping the first ``torn_bytes`` of them (a torn write)."""
        self._durable += self._pending[:torn_bytes]
        self._pending.clear()


def frame(payload: bytes) -> bytes:
    """One length- and checksum-framed record."""
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def read_frames(data: bytes) -> tuple[list[bytes], int]:
    """Return the payloads of the leading intact frames and the byte length they span."""
    payloads: list[bytes] = []
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, offset)
        start = offset + _HEADER.size
        if length > MAX_RECORD_BYTES or start + length > len(data):
            break
        payload = data[start : start + length]
        if zlib.crc32(payload) != crc:
            break
        payloads.append(payload)
        offset = start + length
    return payloads, offset


WalRecord = Proposal | Vote | LockState


def encode_record(record: WalRecord) -> bytes:
    """The payload of one record."""
    if isinstance(record, Proposal):
        return encode(["proposal", record.to_wire()])
    if isinstance(record, Vote):
        return encode(["vote", record.to_wire()])
    return encode(["lock", record.to_wire()])


def decode_record(payload: bytes) -> WalRecord:
    """Parse one record; raise DecodeError if it is not a known, well-formed record."""
    f = as_list(decode(payload, MAX_RECORD_BYTES), "wal record", length=2)
    tag = as_str(f[0], "wal record tag", max_len=16)
    if tag == "proposal":
        return Proposal.from_wire(f[1])
    if tag == "vote":
        return Vote.from_wire(f[1])
    if tag == "lock":
        return LockState.from_wire(f[1])
    raise DecodeError(f"unknown wal record {tag!r}")


@dataclass(frozen=True, slots=True)
class OpenReport:
    """What opening the log found."""

    records: int
    truncated_bytes: int
    """Bytes of a torn tail that were cut off (0 if the log was intact)."""


class Wal:
    """The validator's write-ahead log of its own signed messages and lock state."""

    def __init__(self, storage: WalStorage) -> None:
        self._storage = storage
        self._records: list[WalRecord] = []
        data = storage.read_all()
        payloads, good = read_frames(data)
        for i, payload in enumerate(payloads):
            try:
                self._records.append(decode_record(payload))
            except DecodeError:
                good = sum(_HEADER.size + len(p) for p in payloads[:i])
                break
        if good < len(data):
            storage.truncate(good)
        self._bytes = good
        self.opened = OpenReport(len(self._records), len(data) - good)

    @classmethod
    def open_file(cls, path: Path) -> Wal:
        """Open (or create) the log at ``path``, truncating a torn tail."""
        return cls(FileWalStorage(path))

    def append_signed(self, message: Message) -> None:
        """Durably record a message this validator signed (fsync before returning)."""
        self._append(message, sync=True)

    def append_lock(self, lock: LockState) -> None:
        """Record the lock state; durable with the next signed message."""
        self._append(lock, sync=False)

    def _append(self, record: WalRecord, sync: bool) -> None:
        data = frame(encode_record(record))
        self._storage.append(data, sync)
        self._records.append(record)
        self._bytes += len(data)

    @property
    def size_bytes(self) -> int:
        """Bytes of the log as it is on its storage."""
        return self._bytes

    def last_signed(self) -> Message | None:
        """The last message this validator signed, or None."""
        for record in reversed(self._records):
            if not isinstance(record, LockState):
                return record
        return None

    def recover(self, height: int) -> Recovered:
        """What this validator signed at ``height``, and its last lock there."""
        proposals: list[Proposal] = []
        votes: list[Vote] = []
        lock: LockState | None = None
        for record in self._records:
            if record.height != height:
                continue
            if isinstance(record, Proposal):
                proposals.append(record)
            elif isinstance(record, Vote):
                votes.append(record)
            else:
                lock = record
        return Recovered(height, tuple(proposals), tuple(votes), lock)

    def checkpoint(self, height: int, force: bool = False) -> None:
        """Forget heights below ``height`` once the log is long in records or bytes.

        Always keeps the last signature and everything at ``height`` and above, so the
        double-sign guard and recovery see exactly what they saw before.
        """
        if not force and len(self._records) <= COMPACT_AFTER_RECORDS and self._bytes <= COMPACT_AFTER_BYTES:
            return
        last = self.last_signed()
        kept = [r for r in self._records if r.height >= height]
        if last is not None and last not in kept:
            kept.insert(0, last)
        data = b"".join(frame(encode_record(r)) for r in kept)
        self._storage.replace(data)
        self._records = kept
        self._bytes = len(data)

    def close(self) -> None:
        """Close the underlying storage."""
        self._storage.close()

    def __len__(self) -> int:
        return len(self._records)
