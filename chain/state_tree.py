"""The authenticated state tree: a versioned 16-ary sparse Merkle tree over every state key.

The shape is Diem/Aptos's Jellyfish Merkle tree. A key's path is the 64 hex nibbles of
``sha256(key)``; a leaf sits at the shallowest depth where no other key shares its prefix,
and an internal node has up to 16 children, one per nibble. The shape depends only on the
set of keys, so the root depends only on the state, never on the order of writes or on the
history that led to it.

Hashes (domain-separated, so a leaf can never pass for an internal node)::

    leaf     = sha256(0x00 || sha256(key) || sha256(value))
    internal = sha256(0x01 || bitmap (2 bytes, bit n = child n present) || child hashes in nibble order)
    empty    = 32 zero bytes

An internal node is hashed flat over its children rather than as a binary subtree: one
SHA-256 call per node instead of fifteen, which is what measures best in Python, at the cost
of proofs that carry up to 15 sibling hashes per level (a few KiB).

Versions: every block writes new nodes under ``(version = height, path)``; nodes are never
overwritten, so every retained version can be read and proven. The nodes a block replaces
are listed as stale at that version, so pruning deletes exactly what no retained version
still needs. This module is pure: nodes are read through :class:`NodeReader` and an update
returns the nodes to write, which storage/ persists in the block's atomic batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from hashlib import sha256 as _sha256
from itertools import pairwise
from typing import Final, Protocol

from chain.encoding import DecodeError, Primitive, as_bytes, as_int, as_list, sha256

EMPTY_ROOT: Final = bytes(32)
MAX_DEPTH: Final = 64
_LEAF: Final = b"L"
_INTERNAL: Final = b"I"
_HEX: Final = "0123456789abcdef"
_NIBBLE: Final = {c: i for i, c in enumerate(_HEX)}


class NodeReader(Protocol):
    """Read access to stored tree nodes (storage/ implements it over LevelDB)."""

    def get_node(self, node_key: bytes) -> bytes | None:
        """The encoded node stored under ``node_key``, or None."""
        ...


class TreeError(Exception):
    """The stored tree is inconsistent (a node is missing or corrupt)."""


class ProofError(Exception):
    """A state proof does not verify; the message says exactly why."""


@dataclass(frozen=True, slots=True)
class NodeRef:
    """A reference to a stored node: where it is and what it hashes to."""

    version: int
    hash: bytes
    leaf: bool


def leaf_hash(key_hash: bytes, value_hash: bytes) -> bytes:
    """The hash of a leaf holding a key and a value, given their SHA-256 hashes."""
    return _sha256(b"\x00" + key_hash + value_hash).digest()


def internal_hash(bitmap: int, child_hashes: Iterable[bytes]) -> bytes:
    """The hash of an internal node with the children named by ``bitmap``, in nibble order."""
    return _sha256(b"\x01" + bitmap.to_bytes(2, "big") + b"".join(child_hashes)).digest()


def node_key(version: int, path: str) -> bytes:
    """The storage key of the node at ``path`` (hex nibbles) written at ``version``.

    Version first, so the nodes of one block sit together and keys sort by version.
    """
    packed = bytes.fromhex(path + "0" if len(path) % 2 else path)
    return version.to_bytes(8, "big") + bytes((len(path),)) + packed


def node_key_version(key: bytes) -> int:
    """The version a node key was written at."""
    return int.from_bytes(key[:8], "big")


def root_hash(root: NodeRef | None) -> bytes:
    """The root hash of a tree whose root node is ``root`` (EMPTY_ROOT for an empty tree)."""
    return EMPTY_ROOT if root is None else root.hash


# --- node encoding ------------------------------------------------------------------------
#
# A child of an internal node is referred to by an entry: ``version (8) || hash (32)`` for an
# internal child, ``version (8) || hash (32) || sha256(key) (32)`` for a leaf child. Carrying
# the leaf's key hash in its parent lets an update decide from the parent alone whether a
# write replaces, deletes or leaves a leaf; only splitting a leaf (a new key lands on its
# slot) or moving one up (its last sibling was deleted) reads the leaf node itself.
#
# An internal node stores its children's entries split into three runs, each in nibble order:
#
#     I || bitmap (2) || leafmap (2) || child hashes (32 each) || child versions (8 each)
#       || key hashes of the leaf children (32 each)
#
# so that the node's own hash input (0x01 || bitmap || child hashes) is one slice of it, and
# an update that changes one child splices three slices instead of decoding the node.

_INTERNAL_ENTRY: Final = 40
_LEAF_ENTRY: Final = 72
_DEPTH_BYTE: Final = tuple(bytes((d,)) for d in range(MAX_DEPTH + 1))
_HIGH_NIBBLE: Final = tuple(bytes((b & 0xF0,)) for b in range(256))
_LOW_BITS: Final = tuple(tuple(n for n in range(8) if b >> n & 1) for b in range(256))
_HIGH_BITS: Final = tuple(tuple(n + 8 for n in range(8) if b >> n & 1) for b in range(256))


def encode_leaf(key: bytes, value: bytes) -> bytes:
    """A leaf's stored form: ``L || u32 key length || key || value``."""
    return _LEAF + len(key).to_bytes(4, "big") + key + value


def decode_leaf(raw: bytes) -> tuple[bytes, bytes]:
    """The key and value of a stored leaf."""
    if raw[:1] != _LEAF or len(raw) < 5:
        raise TreeError("stored node is not a leaf")
    n = int.from_bytes(raw[1:5], "big")
    if len(raw) < 5 + n:
        raise TreeError("stored leaf is truncated")
    return raw[5 : 5 + n], raw[5 + n :]


def _header(raw: bytes) -> tuple[int, int, int]:
    """(bitmap, leafmap, child count) of a stored internal node, its length checked."""
    if raw[:1] != _INTERNAL or len(raw) < 5:
        raise TreeError("stored node is not an internal node")
    bitmap = raw[1] << 8 | raw[2]
    leafmap = raw[3] << 8 | raw[4]
    if not bitmap or leafmap & ~bitmap:
        raise TreeError("stored internal node has a bad bitmap")
    n = bitmap.bit_count()
    if len(raw) != 5 + 40 * n + 32 * leafmap.bit_count():
        raise TreeError("stored internal node has the wrong length")
    return bitmap, leafmap, n


def _entries(raw: bytes) -> dict[int, bytes]:
    """The child entries of a stored internal node, by nibble, in nibble order."""
    bitmap, leafmap, n = _header(raw)
    versions = 5 + 32 * n
    key_hashes = versions + 8 * n
    children: dict[int, bytes] = {}
    for i, nibble in enumerate(_LOW_BITS[bitmap & 0xFF] + _HIGH_BITS[bitmap >> 8]):
        entry = raw[versions + 8 * i : versions + 8 * i + 8] + raw[5 + 32 * i : 37 + 32 * i]
        if leafmap >> nibble & 1:
            entry += raw[key_hashes : key_hashes + 32]
            key_hashes += 32
        children[nibble] = entry
    return children


def _encode_entries(children: Mapping[int, bytes]) -> tuple[bytes, bytes]:
    """The stored form and the hash of an internal node with these child entries."""
    bitmap = leafmap = 0
    order = sorted(children)
    entries = [children[n] for n in order]
    for nibble, entry in zip(order, entries, strict=True):
        bitmap |= 1 << nibble
        if len(entry) == _LEAF_ENTRY:
            leafmap |= 1 << nibble
    bits = bitmap.to_bytes(2, "big")
    hashes = b"".join([e[8:40] for e in entries])
    raw = b"".join(
        [_INTERNAL, bits, leafmap.to_bytes(2, "big"), hashes, *[e[:8] for e in entries], *[e[40:] for e in entries]]
    )
    return raw, _sha256(b"\x01" + bits + hashes).digest()


def _child(raw: bytes, bitmap: int, leafmap: int, n: int, bit: int) -> bytes | None:
    """The entry of the child at ``bit`` (1 << nibble) of a stored internal node, or None."""
    if not bitmap & bit:
        return None
    below = bit - 1
    r = (bitmap & below).bit_count()
    versions = 5 + 32 * n
    child = raw[versions + 8 * r : versions + 8 * r + 8] + raw[5 + 32 * r : 37 + 32 * r]
    if leafmap & bit:
        lr = versions + 8 * n + 32 * (leafmap & below).bit_count()
        child += raw[lr : lr + 32]
    return child


def _rebuild(
    raw: bytes, bitmap: int, leafmap: int, n: int, changes: list[tuple[int, bytes | None]]
) -> tuple[bytes, int, int, bytes]:
    """The stored internal node ``raw`` with some children changed, and its hash input.

    ``changes`` are ``(nibble, entry or None to remove)`` in ascending nibble order. The
    three runs of the stored form are copied in slices between the changed children, so the
    cost grows with the number of changes, not of children. Returns the new stored form,
    its bitmap and leafmap, and its run of child hashes.
    """
    versions = 5 + 32 * n
    key_hashes = versions + 8 * n
    hs: list[bytes] = []
    vs: list[bytes] = []
    ks: list[bytes] = []
    hp, vp, kp = 5, versions, key_hashes
    new_bitmap, new_leafmap = bitmap, leafmap
    for nibble, after in changes:
        bit = 1 << nibble
        below = bit - 1
        r = (bitmap & below).bit_count()
        h_at = 5 + 32 * r
        v_at = versions + 8 * r
        k_at = key_hashes + 32 * (leafmap & below).bit_count()
        hs.append(raw[hp:h_at])
        vs.append(raw[vp:v_at])
        ks.append(raw[kp:k_at])
        if bitmap & bit:  # skip the old entry
            hp, vp, kp = h_at + 32, v_at + 8, (k_at + 32 if leafmap & bit else k_at)
        else:
            hp, vp, kp = h_at, v_at, k_at
        if after is None:
            new_bitmap &= ~bit
            new_leafmap &= ~bit
            continue
        new_bitmap |= bit
        hs.append(after[8:40])
        vs.append(after[:8])
        if len(after) == _LEAF_ENTRY:
            ks.append(after[40:])
            new_leafmap |= bit
        else:
            new_leafmap &= ~bit
    hs.append(raw[hp:versions])
    vs.append(raw[vp:key_hashes])
    ks.append(raw[kp:])
    hashes = b"".join(hs)
    stored = b"".join([_INTERNAL, new_bitmap.to_bytes(2, "big"), new_leafmap.to_bytes(2, "big"), hashes, *vs, *ks])
    return stored, new_bitmap, new_leafmap, hashes


def decode_internal(raw: bytes) -> dict[int, NodeRef]:
    """The children of a stored internal node, by nibble (for tools that walk the tree)."""
    return {
        nibble: NodeRef(int.from_bytes(entry[:8], "big"), entry[8:40], len(entry) == _LEAF_ENTRY)
        for nibble, entry in _entries(raw).items()
    }


def _node_key(version: bytes, key_hash: bytes, depth: int) -> bytes:
    """:func:`node_key` of the node at ``depth`` on the path ``key_hash``, version as 8 bytes."""
    half = depth >> 1
    if depth & 1:
        return version + _DEPTH_BYTE[depth] + key_hash[:half] + _HIGH_NIBBLE[key_hash[half]]
    return version + _DEPTH_BYTE[depth] + key_hash[:half]


def _nibble(key_hash: bytes, depth: int) -> int:
    b = key_hash[depth >> 1]
    return b & 0x0F if depth & 1 else b >> 4


def _ref(entry: bytes) -> NodeRef:
    return NodeRef(int.from_bytes(entry[:8], "big"), entry[8:40], len(entry) == _LEAF_ENTRY)


# --- updates ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TreeUpdate:
    """What applying one block's write set to the tree produced."""

    root: NodeRef | None
    """The new root node (None: the state is empty)."""
    new_nodes: Mapping[bytes, bytes]
    """Node key -> encoded node, to write in the block's batch."""
    stale: tuple[bytes, ...]
    """Keys of nodes this version replaced: needed only by older versions."""

    @property
    def root_hash(self) -> bytes:
        """The state root after the update."""
        return root_hash(self.root)


_Write = tuple[bytes, bytes, bytes | None]
"""(sha256(key), key, value or None to delete), sorted by key hash."""
_Carried = tuple[bytes, bytes, bytes]
"""(key hash, stored leaf, leaf hash) of an existing leaf that moves to another depth unchanged."""


class _Updater:
    """One batch update over a tree version (a private helper of :func:`apply_writes`).

    Subtrees are referred to by their parent's raw child entry; ``writes[lo:hi]`` are the
    writes under the subtree being updated, sorted by key hash.
    """

    __slots__ = ("new_nodes", "nodes", "stale", "vb", "writes")

    def __init__(self, nodes: NodeReader, version: int, writes: list[_Write]) -> None:
        self.nodes = nodes
        self.vb = version.to_bytes(8, "big")
        self.writes = writes
        self.new_nodes: dict[bytes, bytes] = {}
        self.stale: list[bytes] = []

    def read(self, key: bytes) -> bytes:
        raw = self.new_nodes.get(key)
        if raw is None:
            raw = self.nodes.get_node(key)
        if raw is None:
            raise TreeError(f"tree node {key.hex()} is missing")
        return raw

    def retire(self, entry: bytes, key: bytes) -> None:
        if entry[:8] == self.vb:
            self.new_nodes.pop(key, None)  # written by this very update: never stored
        else:
            self.stale.append(key)

    def put_leaf(self, depth: int, write: _Write, carried: _Carried | None) -> bytes:
        key_hash, key, value = write
        if carried is not None and carried[0] == key_hash:
            raw, digest = carried[1], carried[2]
        else:
            if value is None:
                raise TreeError("a deleted key cannot become a leaf")
            raw = _LEAF + len(key).to_bytes(4, "big") + key + value
            digest = _sha256(b"\x00" + key_hash + _sha256(value).digest()).digest()
        self.new_nodes[_node_key(self.vb, key_hash, depth)] = raw
        return self.vb + digest + key_hash

    def build(self, depth: int, group: list[_Write], carried: _Carried | None = None) -> bytes | None:
        """A new subtree at ``depth`` holding exactly ``group`` (sorted, all with a value)."""
        if not group:
            return None
        if len(group) == 1:
            return self.put_leaf(depth, group[0], carried)
        if depth >= MAX_DEPTH:
            raise TreeError("two keys share a 256-bit hash")
        children: dict[int, bytes] = {}
        half = depth >> 1
        odd = depth & 1
        n = len(group)
        i = 0
        while i < n:
            b = group[i][0][half]
            nibble = b & 0x0F if odd else b >> 4
            j = i + 1
            if odd:
                while j < n and group[j][0][half] & 0x0F == nibble:
                    j += 1
            else:
                while j < n and group[j][0][half] >> 4 == nibble:
                    j += 1
            child = self.build(depth + 1, group[i:j], carried)
            if child is not None:
                children[nibble] = child
            i = j
        raw, digest = _encode_entries(children)
        self.new_nodes[_node_key(self.vb, group[0][0], depth)] = raw
        return self.vb + digest

    def update(self, entry: bytes | None, depth: int, lo: int, hi: int) -> bytes | None:
        """The entry of the subtree at ``depth`` after applying ``writes[lo:hi]`` to ``entry``.

        Returns ``entry`` itself (the same object) when nothing changed.
        """
        if entry is None:
            return self.build(depth, [w for w in self.writes[lo:hi] if w[2] is not None])
        if len(entry) == _LEAF_ENTRY:
            return self._update_leaf(entry, depth, lo, hi)
        if hi - lo == 1:
            return self._update_one(entry, depth, lo)
        return self._update_internal(entry, depth, lo, hi)

    def _update_leaf(self, entry: bytes, depth: int, lo: int, hi: int) -> bytes | None:
        old_kh = entry[40:]
        if hi - lo == 1:  # the common cases: the leaf's own key rewritten or deleted
            write = self.writes[lo]
            if write[0] == old_kh:
                value = write[2]
                if value is None:
                    self.retire(entry, _node_key(entry[:8], old_kh, depth))
                    return None
                digest = _sha256(b"\x00" + old_kh + _sha256(value).digest()).digest()
                if digest == entry[8:40]:
                    return entry  # rewritten with the same value
                path = _node_key(entry[:8], old_kh, depth)
                self.retire(entry, path)
                key = write[1]
                self.new_nodes[self.vb + path[8:]] = _LEAF + len(key).to_bytes(4, "big") + key + value
                return self.vb + digest + old_kh
            if write[2] is None:
                return entry  # a delete of an absent key
        group = self.writes[lo:hi]
        merged = [w for w in group if w[2] is not None]
        old_key = _node_key(entry[:8], old_kh, depth)
        carried: _Carried | None = None
        if not any(w[0] == old_kh for w in group):
            if not merged:
                return entry  # only deletes of absent keys
            raw = self.read(old_key)  # the old leaf stays but moves down: its bytes move with it
            leaf_key, leaf_value = decode_leaf(raw)
            merged.append((old_kh, leaf_key, leaf_value))
            merged.sort()
            carried = (old_kh, raw, entry[8:40])
        elif len(merged) == 1 and merged[0][0] == old_kh:
            value = merged[0][2]
            if value is not None and _sha256(b"\x00" + old_kh + _sha256(value).digest()).digest() == entry[8:40]:
                return entry  # rewritten with the same value, the rest deletes of absent keys
        self.retire(entry, old_key)
        return self.build(depth, merged, carried)

    def _update_internal(self, entry: bytes, depth: int, lo: int, hi: int) -> bytes | None:
        writes = self.writes
        key = _node_key(entry[:8], writes[lo][0], depth)
        raw = self.read(key)
        bitmap, leafmap, n = _header(raw)
        half = depth >> 1
        odd = depth & 1
        changes: list[tuple[int, bytes | None]] = []
        i = lo
        while i < hi:
            b = writes[i][0][half]
            nibble = b & 0x0F if odd else b >> 4
            j = i + 1
            if odd:
                while j < hi and writes[j][0][half] & 0x0F == nibble:
                    j += 1
            else:
                while j < hi and writes[j][0][half] >> 4 == nibble:
                    j += 1
            before = _child(raw, bitmap, leafmap, n, 1 << nibble)
            after = self.update(before, depth + 1, i, j)
            if after is not before:
                changes.append((nibble, after))
            i = j
        if not changes:
            return entry
        return self._replace(entry, key, depth, raw, bitmap, leafmap, n, changes)

    def _update_one(self, entry: bytes, depth: int, i: int) -> bytes | None:
        """:meth:`update` of an internal node under which only ``writes[i]`` falls.

        The common case below the top levels: walk down the one path, then rebuild each
        node on it from slices of its stored form around the one child that changed.
        """
        write = self.writes[i]
        key_hash = write[0]
        path: list[tuple[bytes, bytes, bytes, int, int, int, int]] = []
        after: bytes | None
        d = depth
        while True:
            key = _node_key(entry[:8], key_hash, d)
            raw = self.read(key)
            bitmap, leafmap, n = _header(raw)
            b = key_hash[d >> 1]
            nibble = b & 0x0F if d & 1 else b >> 4
            path.append((entry, key, raw, bitmap, leafmap, n, nibble))
            child = _child(raw, bitmap, leafmap, n, 1 << nibble)
            d += 1
            if child is None:
                if write[2] is None:
                    return path[0][0]  # a delete of an absent key
                after = self.put_leaf(d, write, None)
                break
            if len(child) == _LEAF_ENTRY:
                after = self._update_leaf(child, d, i, i + 1)
                if after is child:
                    return path[0][0]
                break
            entry = child
        while path:
            node, key, raw, bitmap, leafmap, n, nibble = path.pop()
            d -= 1
            after = self._replace(node, key, d, raw, bitmap, leafmap, n, [(nibble, after)])
        return after

    def _replace(
        self,
        entry: bytes,
        key: bytes,
        depth: int,
        raw: bytes,
        bitmap: int,
        leafmap: int,
        n: int,
        changes: list[tuple[int, bytes | None]],
    ) -> bytes | None:
        """Replace the internal node ``entry`` (stored as ``raw`` under ``key``) by one with ``changes``."""
        self.retire(entry, key)
        stored, bitmap, leafmap, hashes = _rebuild(raw, bitmap, leafmap, n, changes)
        if not bitmap:
            return None
        if bitmap == leafmap and not bitmap & (bitmap - 1):  # a lone leaf moves up to where it is alone
            only = stored[5:37]
            leaf_kh = stored[45:77]
            version = stored[37:45]
            child_key = _node_key(version, leaf_kh, depth + 1)
            leaf = self.read(child_key)
            self.retire(version, child_key)
            self.new_nodes[_node_key(self.vb, leaf_kh, depth)] = leaf
            return self.vb + only + leaf_kh
        self.new_nodes[self.vb + key[8:]] = stored
        return self.vb + _sha256(b"\x01" + stored[1:3] + hashes).digest()


def _root_entry(nodes: NodeReader, root: NodeRef) -> bytes:
    """The raw entry of ``root`` (a leaf root's entry needs its key hash: read the leaf)."""
    vb = root.version.to_bytes(8, "big")
    if not root.leaf:
        return vb + root.hash
    raw = nodes.get_node(vb + _DEPTH_BYTE[0])
    if raw is None:
        raise TreeError(f"the root leaf of version {root.version} is missing")
    return vb + root.hash + _sha256(decode_leaf(raw)[0]).digest()


def apply_writes(
    nodes: NodeReader, root: NodeRef | None, version: int, writes: Mapping[bytes, bytes | None]
) -> TreeUpdate:
    """Apply one block's write set (None deletes) to the tree whose root is ``root``.

    Reads only the internal nodes on the paths of the written keys (and a leaf only where
    a new key splits it or a delete moves it up), never the whole state. New nodes are
    written at ``version``, which must be above every version in the tree. Deleting an
    absent key or rewriting a value unchanged changes nothing.
    """
    if not writes:
        return TreeUpdate(root, {}, ())
    items: list[_Write] = sorted([(_sha256(k).digest(), k, v) for k, v in writes.items()])
    updater = _Updater(nodes, version, items)
    entry = None if root is None else _root_entry(nodes, root)
    after = updater.update(entry, 0, 0, len(items))
    new_root = root if after is entry else (None if after is None else _ref(after))
    return TreeUpdate(new_root, updater.new_nodes, tuple(updater.stale))


def compute_root(items: Iterable[tuple[bytes, bytes]]) -> bytes:
    """The state root of the key-value pairs ``items``, computed from scratch in memory.

    Equals the root :func:`apply_writes` maintains for the same state: what
    ``agora node check-state`` compares against.
    """
    leaves = sorted((_sha256(k).hexdigest(), _sha256(k).digest(), _sha256(v).digest()) for k, v in items)
    for a, b in pairwise(leaves):
        if a[0] == b[0]:
            raise TreeError("duplicate key")

    def subtree(lo: int, hi: int, depth: int) -> bytes:
        if hi - lo == 1:
            return leaf_hash(leaves[lo][1], leaves[lo][2])
        bitmap = 0
        hashes = []
        start = lo
        while start < hi:
            nibble = leaves[start][0][depth]
            end = start + 1
            while end < hi and leaves[end][0][depth] == nibble:
                end += 1
            bitmap |= 1 << _NIBBLE[nibble]
            hashes.append(subtree(start, end, depth + 1))
            start = end
        return internal_hash(bitmap, hashes)

    return EMPTY_ROOT if not leaves else subtree(0, len(leaves), 0)


# --- reads and proofs ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProofLevel:
    """One internal node on a key's path: which children it has, and the siblings' hashes."""

    bitmap: int
    siblings: tuple[bytes, ...]
    """Hashes of the children other than the one on the path, in nibble order."""


@dataclass(frozen=True, slots=True)
class StateProof:
    """Proof that a key holds a value, or holds none, under a state root."""

    levels: tuple[ProofLevel, ...]
    """The internal nodes from the root down the key's path."""
    leaf: tuple[bytes, bytes] | None
    """(key hash, value hash) of the leaf where the path ends; None: it ends at an empty slot."""

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [
            [[level.bitmap, list(level.siblings)] for level in self.levels],
            [] if self.leaf is None else [self.leaf[0], self.leaf[1]],
        ]

    @classmethod
    def from_wire(cls, value: Primitive) -> StateProof:
        """Parse a proof; DecodeError if malformed or out of bounds."""
        f = as_list(value, "state proof", length=2)
        levels = []
        for raw in as_list(f[0], "proof levels", max_len=MAX_DEPTH):
            level = as_list(raw, "proof level", length=2)
            siblings = tuple(as_bytes(s, "sibling hash", size=32) for s in as_list(level[1], "siblings", max_len=16))
            levels.append(ProofLevel(as_int(level[0], "bitmap", 1, 0xFFFF), siblings))
        leaf_f = as_list(f[1], "proof leaf", max_len=2)
        if len(leaf_f) not in (0, 2):
            raise DecodeError("proof leaf: expected [] or [key hash, value hash]")
        leaf = None
        if leaf_f:
            leaf = (as_bytes(leaf_f[0], "leaf key hash", size=32), as_bytes(leaf_f[1], "leaf value hash", size=32))
        return cls(tuple(levels), leaf)


def read_at(nodes: NodeReader, root: NodeRef | None, key: bytes) -> tuple[bytes | None, StateProof]:
    """The value of ``key`` in the tree under ``root`` (None if absent) and its proof."""
    key_hash = _sha256(key).digest()
    levels: list[ProofLevel] = []
    if root is None:
        return None, StateProof((), None)
    version = root.version.to_bytes(8, "big")
    leaf = root.leaf
    depth = 0
    while not leaf:
        raw = nodes.get_node(_node_key(version, key_hash, depth))
        if raw is None:
            raise TreeError(f"tree node at depth {depth} of version {int.from_bytes(version, 'big')} is missing")
        bitmap, leafmap, n = _header(raw)
        bit = 1 << _nibble(key_hash, depth)
        on_path = 32 * (bitmap & (bit - 1)).bit_count() if bitmap & bit else -1
        siblings = tuple([raw[5 + j : 37 + j] for j in range(0, 32 * n, 32) if j != on_path])
        levels.append(ProofLevel(bitmap, siblings))
        child = _child(raw, bitmap, leafmap, n, bit)
        if child is None:
            return None, StateProof(tuple(levels), None)
        version = child[:8]
        leaf = len(child) == _LEAF_ENTRY
        depth += 1
    raw = nodes.get_node(_node_key(version, key_hash, depth))
    if raw is None:
        raise TreeError(f"tree leaf at depth {depth} of version {int.from_bytes(version, 'big')} is missing")
    leaf_key, value = decode_leaf(raw)
    proof = StateProof(tuple(levels), (sha256(leaf_key), sha256(value)))
    return (value if leaf_key == key else None), proof


def verify_state_proof(root: bytes, key: bytes, value: bytes | None, proof: StateProof) -> None:
    """Check that under ``root`` the key ``key`` holds ``value`` (None: holds nothing).

    Returns quietly if the proof shows exactly that; raises ProofError with the reason
    otherwise (a proof for another key, value or root, or a truncated, reordered or
    altered proof).
    """
    path = _sha256(key).hexdigest()
    depth = len(proof.levels)
    if depth > MAX_DEPTH:
        raise ProofError("proof is deeper than any tree")
    current: bytes | None
    if proof.leaf is not None:
        leaf_kh, leaf_vh = proof.leaf
        if leaf_kh.hex()[:depth] != path[:depth]:
            raise ProofError(f"the proof's leaf does not lie on the key's path at depth {depth}")
        if value is not None:
            if leaf_kh != sha256(key):
                raise ProofError("the proof shows another key: the key is not in the state")
            if leaf_vh != sha256(value):
                raise ProofError("the proof commits to another value for this key")
        elif leaf_kh == sha256(key):
            raise ProofError("the proof shows the key present, not absent")
        current = leaf_hash(leaf_kh, leaf_vh)
    else:
        if value is not None:
            raise ProofError("the proof shows the key absent")
        current = None
    for depth_i in range(depth - 1, -1, -1):
        level = proof.levels[depth_i]
        nibble = _NIBBLE[path[depth_i]]
        on_path = bool(level.bitmap >> nibble & 1)
        if current is None and on_path:
            raise ProofError(f"level {depth_i}: the key's slot is marked present but the proof ends empty")
        if current is not None and not on_path:
            raise ProofError(f"level {depth_i}: the key's slot is marked empty")
        expected = bin(level.bitmap).count("1") - (1 if current is not None else 0)
        if len(level.siblings) != expected:
            raise ProofError(f"level {depth_i}: {len(level.siblings)} sibling hashes where the bitmap needs {expected}")
        if expected + (1 if current is not None else 0) < 1:
            raise ProofError(f"level {depth_i}: an internal node with no children")
        hashes: list[bytes] = []
        siblings = iter(level.siblings)
        for n in range(16):
            if level.bitmap >> n & 1:
                hashes.append(current if n == nibble and current is not None else next(siblings))
        current = internal_hash(level.bitmap, hashes)
    got = EMPTY_ROOT if current is None else current
    if got != root:
        raise ProofError("the proof does not lead to the certified state root")
