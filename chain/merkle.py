"""Merkle trees over ordered leaves (RFC 6962 shape) and their inclusion proofs.

Leaves and inner nodes are hashed with distinct prefixes, so a leaf can never be
passed off as an inner node. The tree splits at the largest power of two below n.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from chain.encoding import sha256

EMPTY_ROOT: Final = sha256(b"")


def leaf_hash(data: bytes) -> bytes:
    """Hash of one leaf."""
    return sha256(b"\x00" + data)


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash of an inner node."""
    return sha256(b"\x01" + left + right)


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _root_of_hashes(hashes: Sequence[bytes]) -> bytes:
    if len(hashes) == 1:
        return hashes[0]
    k = _split(len(hashes))
    return node_hash(_root_of_hashes(hashes[:k]), _root_of_hashes(hashes[k:]))


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """Return the root of ``leaves`` (EMPTY_ROOT for none)."""
    return root_of_leaf_hashes([leaf_hash(leaf) for leaf in leaves])


def root_of_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """The root of the leaves whose :func:`leaf_hash` es are ``hashes`` (EMPTY_ROOT for none)."""
    if not hashes:
        return EMPTY_ROOT
    return _root_of_hashes(hashes)


@dataclass(frozen=True, slots=True)
class MerkleProof:
    """Proof that a leaf sits at ``index`` in a tree of ``size`` leaves."""

    index: int
    size: int
    path: tuple[bytes, ...]
    """Sibling hashes from the leaf up to the root."""


def merkle_proof(leaves: Sequence[bytes], index: int) -> MerkleProof:
    """Return the inclusion proof of ``leaves[index]``."""
    return merkle_proof_of_hashes([leaf_hash(leaf) for leaf in leaves], index)


def merkle_proof_of_hashes(hashes: Sequence[bytes], index: int) -> MerkleProof:
    """Return the inclusion proof of the leaf at ``index``, given every leaf's :func:`leaf_hash`."""
    if not 0 <= index < len(hashes):
        raise IndexError("leaf index out of range")
    path: list[bytes] = []

    def walk(items: Sequence[bytes], i: int) -> None:
        if len(items) == 1:
            return
        k = _split(len(items))
        if i < k:
            walk(items[:k], i)
            path.append(_root_of_hashes(items[k:]))
        else:
            walk(items[k:], i - k)
            path.append(_root_of_hashes(items[:k]))

    walk(hashes, index)
    return MerkleProof(index, len(hashes), tuple(path))


def verify_proof(root: bytes, leaf: bytes, proof: MerkleProof) -> bool:
    """Return True iff ``proof`` shows ``leaf`` at ``proof.index`` under ``root``."""
    if not 0 <= proof.index < proof.size:
        return False
    # Rebuild the sequence of left/right choices from the top down, then fold bottom-up.
    sides: list[bool] = []  # True when the sibling is on the right
    index, size = proof.index, proof.size
    while size > 1:
        k = _split(size)
        if index < k:
            sides.append(True)
            size = k
        else:
            sides.append(False)
            index -= k
            size -= k
    if len(sides) != len(proof.path):
        return False
    current = leaf_hash(leaf)
    for sibling_on_right, sibling in zip(reversed(sides), proof.path, strict=True):
        current = node_hash(current, sibling) if sibling_on_right else node_hash(sibling, current)
    return current == root
