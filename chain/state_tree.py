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


def encode_internal(children: Mapping[int, NodeRef]) -> bytes:
    """An internal node's stored form: ``I || bitmap || leafmap || (version, hash) per child``."""
    bitmap = leafmap = 0
    parts = []
    for nibble in sorted(children):
        ref = children[nibble]
        bitmap |= 1 << nibble
        if ref.leaf:
            leafmap |= 1 << nibble
        parts.append(ref.version.to_bytes(8, "big") + ref.hash)
    return _INTERNAL + bitmap.to_bytes(2, "big") + leafmap.to_bytes(2, "big") + b"".join(parts)


def decode_internal(raw: bytes) -> dict[int, NodeRef]:
    """The children of a stored internal node, by nibble."""
    if raw[:1] != _INTERNAL or len(raw) < 5:
        raise TreeError("stored node is not an internal node")
    bitmap = int.from_bytes(raw[1:3], "big")
    leafmap = int.from_bytes(raw[3:5], "big")
    children: dict[int, NodeRef] = {}
    pos = 5
    for nibble in range(16):
        if bitmap >> nibble & 1:
            entry = raw[pos : pos + 40]
            if len(entry) != 40:
                raise TreeError("stored internal node is truncated")
            children[nibble] = NodeRef(int.from_bytes(entry[:8], "big"), entry[8:], bool(leafmap >> nibble & 1))
            pos += 40
    return children


def _hash_children(children: Mapping[int, NodeRef]) -> bytes:
    bitmap = 0
    for nibble in children:
        bitmap |= 1 << nibble
    return internal_hash(bitmap, (children[n].hash for n in sorted(children)))


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


@dataclass(slots=True)
class _Item:
    path: str
    """Hex of sha256(key): the 64-nibble path."""
    key: bytes
    value: bytes | None
    """None deletes the key."""


class _Updater:
    """One batch update over a tree version (a private helper of :func:`apply_writes`)."""

    def __init__(self, nodes: NodeReader, version: int) -> None:
        self.nodes = nodes
        self.version = version
        self.new_nodes: dict[bytes, bytes] = {}
        self.stale: list[bytes] = []

    def read(self, key: bytes) -> bytes:
        raw = self.new_nodes.get(key)
        if raw is None:
            raw = self.nodes.get_node(key)
        if raw is None:
            raise TreeError(f"tree node {key.hex()} is missing")
        return raw

    def retire(self, ref: NodeRef, path: str) -> None:
        key = node_key(ref.version, path)
        if ref.version == self.version:
            self.new_nodes.pop(key, None)  # written by this very update: never stored
        else:
            self.stale.append(key)

    def put_leaf(self, path: str, key: bytes, value: bytes) -> NodeRef:
        self.new_nodes[node_key(self.version, path)] = encode_leaf(key, value)
        return NodeRef(self.version, leaf_hash(_sha256(key).digest(), _sha256(value).digest()), True)

    def put_internal(self, path: str, children: Mapping[int, NodeRef]) -> NodeRef:
        self.new_nodes[node_key(self.version, path)] = encode_internal(children)
        return NodeRef(self.version, _hash_children(children), False)

    def build(self, path: str, leaves: list[_Item]) -> NodeRef | None:
        """A new subtree at ``path`` holding exactly ``leaves`` (all with a value)."""
        if not leaves:
            return None
        if len(leaves) == 1:
            item = leaves[0]
            assert item.value is not None
            return self.put_leaf(path, item.key, item.value)
        depth = len(path)
        if depth >= MAX_DEPTH:
            raise TreeError("two keys share a 256-bit hash")
        groups: dict[int, list[_Item]] = {}
        for item in leaves:
            groups.setdefault(_NIBBLE[item.path[depth]], []).append(item)
        children: dict[int, NodeRef] = {}
        for nibble, group in groups.items():
            child = self.build(path + _HEX[nibble], group)
            assert child is not None
            children[nibble] = child
        return self.put_internal(path, children)

    def update(self, ref: NodeRef | None, path: str, items: list[_Item]) -> NodeRef | None:
        """The subtree at ``path`` after applying ``items`` (all under ``path``) to ``ref``."""
        if ref is None:
            return self.build(path, [i for i in items if i.value is not None])
        if ref.leaf:
            return self._update_leaf(ref, path, items)
        return self._update_internal(ref, path, items)

    def _update_leaf(self, ref: NodeRef, path: str, items: list[_Item]) -> NodeRef | None:
        old_key, old_value = decode_leaf(self.read(node_key(ref.version, path)))
        old_path = _sha256(old_key).hexdigest()
        merged = [i for i in items if i.value is not None]
        replaced = next((i for i in items if i.path == old_path), None)
        if replaced is None:
            if not merged:
                return ref  # only deletes of absent keys: unchanged
            merged.append(_Item(old_path, old_key, old_value))
        elif replaced.value == old_value and len(merged) == 1:
            return ref  # rewritten with the same value
        self.retire(ref, path)
        return self.build(path, merged)

    def _update_internal(self, ref: NodeRef, path: str, items: list[_Item]) -> NodeRef | None:
        children = decode_internal(self.read(node_key(ref.version, path)))
        depth = len(path)
        groups: dict[int, list[_Item]] = {}
        for item in items:
            groups.setdefault(_NIBBLE[item.path[depth]], []).append(item)
        changed = False
        for nibble, group in groups.items():
            before = children.get(nibble)
            after = self.update(before, path + _HEX[nibble], group)
            if after is before:
                continue
            changed = True
            if after is None:
                del children[nibble]
            else:
                children[nibble] = after
        if not changed:
            return ref
        self.retire(ref, path)
        if not children:
            return None
        if len(children) == 1:
            ((nibble, only),) = children.items()
            if only.leaf:  # a lone leaf moves up to where it is alone
                child_path = path + _HEX[nibble]
                key, value = decode_leaf(self.read(node_key(only.version, child_path)))
                self.retire(only, child_path)
                return self.put_leaf(path, key, value)
        return self.put_internal(path, children)


def apply_writes(
    nodes: NodeReader, root: NodeRef | None, version: int, writes: Mapping[bytes, bytes | None]
) -> TreeUpdate:
    """Apply one block's write set (None deletes) to the tree whose root is ``root``.

    Reads only the nodes on the paths of the written keys, never the whole state. New
    nodes are written at ``version``, which must be above every version in the tree.
    Deleting an absent key or rewriting a value unchanged changes nothing.
    """
    items = sorted((_Item(_sha256(k).hexdigest(), k, v) for k, v in writes.items()), key=lambda i: i.path)
    updater = _Updater(nodes, version)
    new_root = updater.update(root, "", items) if items else root
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
    path = _sha256(key).hexdigest()
    levels: list[ProofLevel] = []
    ref = root
    depth = 0
    while ref is not None and not ref.leaf:
        raw = nodes.get_node(node_key(ref.version, path[:depth]))
        if raw is None:
            raise TreeError(f"tree node at depth {depth} of version {ref.version} is missing")
        children = decode_internal(raw)
        nibble = _NIBBLE[path[depth]]
        bitmap = 0
        for n in children:
            bitmap |= 1 << n
        siblings = tuple(children[n].hash for n in sorted(children) if n != nibble)
        levels.append(ProofLevel(bitmap, siblings))
        ref = children.get(nibble)
        depth += 1
    if ref is None:
        return None, StateProof(tuple(levels), None)
    raw = nodes.get_node(node_key(ref.version, path[:depth]))
    if raw is None:
        raise TreeError(f"tree leaf at depth {depth} of version {ref.version} is missing")
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
