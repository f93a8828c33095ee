"""Chain state as a key-value map, with copy-on-write overlays for atomic execution.

A block executes in an :class:`Overlay` over the committed state; each transaction
executes in a child overlay that is merged only if it succeeds, so a failed rule
changes nothing. The block's write set is what storage/ persists in one batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final, Protocol

from chain.encoding import U64_MAX, Primitive, decode, decode_uint, encode, encode_uint
from chain.state_tree import NodeRef, apply_writes, root_hash

_DELETED: Final = None
_MISSING: Final = object()


class StateReader(Protocol):
    """Read access to committed state. storage/ implements it over LevelDB."""

    def get(self, key: bytes) -> bytes | None:
        """Return the value stored at ``key``, or None."""
        ...


class CommittedState(StateReader, Protocol):
    """Committed state with its authenticated tree: what a block executes on."""

    def get_node(self, node_key: bytes) -> bytes | None:
        """The stored state-tree node under ``node_key``, or None."""
        ...

    @property
    def tree_root(self) -> NodeRef | None:
        """The root node of the state tree at this state's version (None: empty)."""
        ...


class MemoryState:
    """A plain in-memory state with its state tree: for genesis, tests and simulations."""

    def __init__(self, items: Mapping[bytes, bytes] | None = None) -> None:
        self._items: dict[bytes, bytes] = {}
        self._nodes: dict[bytes, bytes] = {}
        self._root: NodeRef | None = None
        self.version = 0
        """The tree version of the newest nodes: 0 for the initial items, then one per write set."""
        if items:
            self._write(dict(items), 0)

    def get(self, key: bytes) -> bytes | None:
        """Return the value at ``key``, or None."""
        return self._items.get(key)

    def get_node(self, node_key: bytes) -> bytes | None:
        """Return the tree node under ``node_key``, or None."""
        return self._nodes.get(node_key)

    @property
    def tree_root(self) -> NodeRef | None:
        """The state tree's root node."""
        return self._root

    @property
    def root(self) -> bytes:
        """The state root."""
        return root_hash(self._root)

    @property
    def nodes(self) -> Mapping[bytes, bytes]:
        """Every tree node ever written (old versions are never pruned in memory)."""
        return self._nodes

    def apply(self, writes: Mapping[bytes, bytes | None]) -> None:
        """Apply a write set (None deletes) and update the state tree to a new version."""
        self._write(writes, self.version + 1)

    def _write(self, writes: Mapping[bytes, bytes | None], version: int) -> None:
        update = apply_writes(self, self._root, version, writes)
        self._nodes.update(update.new_nodes)
        self._root = update.root
        self.version = version
        for key, value in writes.items():
            if value is None:
                self._items.pop(key, None)
            else:
                self._items[key] = value

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """Iterate over every stored pair in key order."""
        return iter(sorted(self._items.items()))


class Overlay:
    """Buffered writes over a parent reader; nothing reaches the parent until merged."""

    __slots__ = ("_parent", "_writes")

    def __init__(self, parent: StateReader) -> None:
        self._parent = parent
        self._writes: dict[bytes, bytes | None] = {}

    def get(self, key: bytes) -> bytes | None:
        """Return the newest value at ``key`` as seen through this overlay."""
        value = self._writes.get(key, _MISSING)
        if value is _MISSING:
            return self._parent.get(key)
        return value  # type: ignore[return-value]

    def put(self, key: bytes, value: bytes) -> None:
        """Set ``key`` to ``value`` in this overlay."""
        self._writes[key] = value

    def delete(self, key: bytes) -> None:
        """Delete ``key`` in this overlay."""
        self._writes[key] = _DELETED

    def child(self) -> Overlay:
        """Return a new overlay on top of this one (for one transaction)."""
        return Overlay(self)

    def merge_into(self, parent: Overlay) -> None:
        """Apply this overlay's writes to ``parent`` (which must be its parent)."""
        parent._writes.update(self._writes)

    @property
    def writes(self) -> Mapping[bytes, bytes | None]:
        """The buffered write set (None means deleted)."""
        return self._writes

    # typed helpers --------------------------------------------------------------

    def get_value(self, key: bytes) -> Primitive | None:
        """Return the decoded canonical value at ``key``, or None."""
        raw = self.get(key)
        return None if raw is None else decode(raw)

    def put_value(self, key: bytes, value: Primitive) -> None:
        """Store the canonical encoding of ``value`` at ``key``."""
        self.put(key, encode(value))

    def get_int(self, key: bytes) -> int:
        """Return the integer at ``key`` (0 when absent)."""
        raw = self.get(key)
        if raw is None:
            return 0
        value = decode_uint(raw)
        if value is None:
            value = decode(raw)
            if type(value) is not int:
                raise ValueError(f"state key {key!r} does not hold an integer")
        return value

    def put_int(self, key: bytes, value: int) -> None:
        """Store a non-negative u64 at ``key``; zero deletes the key so state stays minimal."""
        if not 0 <= value <= U64_MAX:
            raise OverflowError(f"value {value} out of the u64 range")
        if value == 0:
            self._writes[key] = _DELETED
        else:
            self._writes[key] = encode_uint(value)


class BlockOverlay(Overlay):
    """The block-level overlay: an :class:`Overlay` that also remembers what it read below.

    The committed state under a block does not change while the block executes, so each
    key is read from storage at most once per block (a transfer reads its sender's balance
    and nonce several times over its checks and rules). Reads only: the write set is the
    plain overlay's.
    """

    __slots__ = ("_reads",)

    def __init__(self, parent: StateReader) -> None:
        super().__init__(parent)
        self._reads: dict[bytes, bytes | None] = {}

    def get(self, key: bytes) -> bytes | None:
        """Return the newest value at ``key``: the block's own write, else the committed one (cached)."""
        value = self._writes.get(key, _MISSING)
        if value is not _MISSING:
            return value  # type: ignore[return-value]
        value = self._reads.get(key, _MISSING)
        if value is _MISSING:
            value = self._reads[key] = self._parent.get(key)
        return value  # type: ignore[return-value]
