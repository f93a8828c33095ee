"""Merkle roots and inclusion proofs."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from chain.encoding import sha256
from chain.merkle import EMPTY_ROOT, MerkleProof, leaf_hash, merkle_proof, merkle_root, node_hash, verify_proof


def _leaves(n: int) -> list[bytes]:
    return [b"leaf-%d" % i for i in range(n)]


def _reference_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 section 2.1, written independently of chain/merkle.py."""
    if not leaves:
        return sha256(b"")
    if len(leaves) == 1:
        return sha256(b"\x00" + leaves[0])
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return sha256(b"\x01" + _reference_root(leaves[:k]) + _reference_root(leaves[k:]))


def test_roots_and_proofs_for_every_size_and_index() -> None:
    assert merkle_root([]) == EMPTY_ROOT == sha256(b"")
    roots = set()
    for n in range(1, 41):
        leaves = _leaves(n)
        root = merkle_root(leaves)
        assert root == _reference_root(leaves)
        roots.add(root)
        for i in range(n):
            proof = merkle_proof(leaves, i)
            assert proof.index == i and proof.size == n
            assert verify_proof(root, leaves[i], proof)
            assert not verify_proof(root, b"other", proof)
            if n > 1:
                assert not verify_proof(root, leaves[(i + 1) % n], proof)
    assert len(roots) == 40


def test_single_leaf_and_known_vector() -> None:
    assert merkle_root([b""]) == leaf_hash(b"") == sha256(b"\x00")
    assert merkle_root([b"a", b"b", b"c"]) == node_hash(node_hash(leaf_hash(b"a"), leaf_hash(b"b")), leaf_hash(b"c"))


def test_a_leaf_cannot_pose_as_an_inner_node() -> None:
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert merkle_root([a + b]) != merkle_root([b"a", b"b"])


def test_order_matters() -> None:
    assert merkle_root([b"a", b"b"]) != merkle_root([b"b", b"a"])


def test_proof_index_out_of_range() -> None:
    leaves = _leaves(5)
    root = merkle_root(leaves)
    proof = merkle_proof(leaves, 2)
    assert not verify_proof(root, leaves[2], replace(proof, index=5))
    assert not verify_proof(root, leaves[2], replace(proof, index=-1))
    assert not verify_proof(root, leaves[2], replace(proof, size=0))
    assert not verify_proof(root, leaves[2], replace(proof, path=(*proof.path, root)))
    assert not verify_proof(root, leaves[2], replace(proof, path=proof.path[:-1]))


@given(st.integers(1, 40), st.data())
@settings(max_examples=300, deadline=None)
def test_tampered_proofs_fail(n: int, data: st.DataObject) -> None:
    leaves = _leaves(n)
    root = merkle_root(leaves)
    index = data.draw(st.integers(0, n - 1))
    proof = merkle_proof(leaves, index)
    tamper = data.draw(st.sampled_from(["path", "index", "root", "leaf"]))
    if tamper == "path" and proof.path:
        j = data.draw(st.integers(0, len(proof.path) - 1))
        bit = data.draw(st.integers(0, 255))
        sibling = bytearray(proof.path[j])
        sibling[bit // 8] ^= 1 << (bit % 8)
        bad = MerkleProof(proof.index, proof.size, (*proof.path[:j], bytes(sibling), *proof.path[j + 1 :]))
        assert not verify_proof(root, leaves[index], bad)
    elif tamper == "index" and n > 1:
        other = data.draw(st.integers(0, n - 1).filter(lambda i: i != index))
        assert not verify_proof(root, leaves[index], replace(proof, index=other))
    elif tamper == "root":
        assert not verify_proof(merkle_root([*leaves, b"extra"]), leaves[index], proof)
    else:
        assert not verify_proof(root, leaves[index] + b"!", proof)
    assert verify_proof(root, leaves[index], proof)
