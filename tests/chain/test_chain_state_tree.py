"""The authenticated state tree: proofs of inclusion and absence, roots that depend only on the state."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.encoding import decode, encode
from chain.state import MemoryState
from chain.state_tree import (
    EMPTY_ROOT,
    NodeRef,
    ProofError,
    StateProof,
    apply_writes,
    compute_root,
    decode_internal,
    node_key,
    read_at,
    verify_state_proof,
)

keys = st.binary(min_size=1, max_size=12)
values = st.binary(min_size=0, max_size=40)
write_sets = st.lists(st.dictionaries(keys, st.one_of(st.none(), values), max_size=30), min_size=1, max_size=8)


def _run(blocks: list[dict[bytes, bytes | None]]) -> MemoryState:
    state = MemoryState()
    for writes in blocks:
        state.apply(writes)
    return state


@given(write_sets, st.lists(keys, max_size=10))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_key_proves_present_or_absent(blocks: list[dict[bytes, bytes | None]], probes: list[bytes]) -> None:
    state = _run(blocks)
    items = dict(state.items())
    assert state.root == compute_root(items.items())
    for key, value in items.items():
        got, proof = read_at(state, state.tree_root, key)
        assert got == value
        verify_state_proof(state.root, key, value, proof)
        with pytest.raises(ProofError):
            verify_state_proof(state.root, key, None, proof)
    for key in probes:
        if key in items:
            continue
        got, proof = read_at(state, state.tree_root, key)
        assert got is None
        verify_state_proof(state.root, key, None, proof)
        with pytest.raises(ProofError):
            verify_state_proof(state.root, key, b"x", proof)


@given(write_sets, st.randoms(use_true_random=False))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_root_does_not_depend_on_the_order_of_writes(
    blocks: list[dict[bytes, bytes | None]], rng: random.Random
) -> None:
    state = _run(blocks)
    shuffled = []
    for writes in blocks:
        pairs = list(writes.items())
        rng.shuffle(pairs)
        shuffled.append(dict(pairs))
    assert _run(shuffled).root == state.root
    # All the writes of many blocks in one block reach the same root too.
    merged: dict[bytes, bytes | None] = {}
    for writes in blocks:
        merged.update(writes)
    assert _run([merged]).root == state.root


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


@given(st.dictionaries(keys, values, min_size=1, max_size=40), st.data())
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_single_bit_change_fails(items: dict[bytes, bytes], data: st.DataObject) -> None:
    state = MemoryState(items)
    key = data.draw(st.sampled_from(sorted(items)))
    value = items[key]
    _, proof = read_at(state, state.tree_root, key)
    verify_state_proof(state.root, key, value, proof)
    wire = encode(proof.to_wire())
    bit = data.draw(st.integers(0, len(wire) * 8 - 1))
    with pytest.raises((ProofError, ValueError)):
        tampered = StateProof.from_wire(decode(_flip(wire, bit)))
        verify_state_proof(state.root, key, value, tampered)
    with pytest.raises(ProofError):
        verify_state_proof(_flip(state.root, data.draw(st.integers(0, 255))), key, value, proof)
    with pytest.raises(ProofError):
        verify_state_proof(state.root, _flip(key, data.draw(st.integers(0, len(key) * 8 - 1))), value, proof)
    if value:
        with pytest.raises(ProofError):
            verify_state_proof(state.root, key, _flip(value, data.draw(st.integers(0, len(value) * 8 - 1))), proof)


def test_truncated_and_reordered_proofs_fail() -> None:
    items = {f"key-{i}".encode(): f"value-{i}".encode() for i in range(300)}
    state = MemoryState(items)
    key = b"key-7"
    _, proof = read_at(state, state.tree_root, key)
    assert len(proof.levels) >= 2
    with pytest.raises(ProofError):
        verify_state_proof(state.root, key, items[key], StateProof(proof.levels[:-1], proof.leaf))
    with pytest.raises(ProofError):
        verify_state_proof(state.root, key, items[key], StateProof(proof.levels[1:], proof.leaf))
    with pytest.raises(ProofError):
        verify_state_proof(state.root, key, items[key], StateProof(proof.levels[::-1], proof.leaf))
    level = proof.levels[0]
    swapped = type(level)(level.bitmap, level.siblings[::-1])
    with pytest.raises(ProofError, match="certified state root"):
        verify_state_proof(state.root, key, items[key], StateProof((swapped, *proof.levels[1:]), proof.leaf))
    other = MemoryState({**items, b"extra": b"1"})
    with pytest.raises(ProofError, match="certified state root"):
        verify_state_proof(other.root, key, items[key], proof)


def test_the_empty_tree_and_deleting_everything() -> None:
    state = MemoryState()
    assert state.root == EMPTY_ROOT == compute_root([])
    _, proof = read_at(state, None, b"a")
    verify_state_proof(EMPTY_ROOT, b"a", None, proof)
    state.apply({b"a": b"1", b"b": b"2"})
    assert state.root != EMPTY_ROOT
    state.apply({b"a": None, b"b": None})
    assert state.root == EMPTY_ROOT and state.tree_root is None


def test_an_update_reads_only_the_written_paths_and_lists_what_it_replaced() -> None:
    items = {i.to_bytes(4, "big"): b"v" for i in range(5000)}
    state = MemoryState(items)
    reads: list[bytes] = []

    class Counting:
        def get_node(self, node_key: bytes) -> bytes | None:
            reads.append(node_key)
            return state.get_node(node_key)

    update = apply_writes(Counting(), state.tree_root, 1, {b"\x00\x00\x00\x01": b"new"})
    assert len(reads) <= 8, "one path from the root to the leaf, never the whole state"
    assert len(update.stale) == len(update.new_nodes) >= 2
    assert update.root_hash == compute_root({**items, b"\x00\x00\x00\x01": b"new"}.items())
    unchanged = apply_writes(state, state.tree_root, 1, {b"\x00\x00\x00\x01": b"v", b"absent": None})
    assert unchanged.root == state.tree_root and not unchanged.new_nodes and not unchanged.stale


def test_rewriting_or_deleting_existing_keys_reads_no_leaf() -> None:
    items = {i.to_bytes(4, "big"): b"v" for i in range(5000)}
    state = MemoryState(items)
    kinds: list[bytes] = []

    class Counting:
        def get_node(self, node_key: bytes) -> bytes | None:
            raw = state.get_node(node_key)
            kinds.append(b"" if raw is None else raw[:1])
            return raw

    writes: dict[bytes, bytes | None] = {i.to_bytes(4, "big"): b"w" for i in range(0, 5000, 7)}
    writes.update({i.to_bytes(4, "big"): None for i in range(3, 5000, 101)})
    update = apply_writes(Counting(), state.tree_root, 1, writes)
    assert kinds and set(kinds) <= {b"I", b"L"}
    # a leaf is read only where a delete leaves a lone sibling leaf that moves up
    assert kinds.count(b"L") <= len([v for v in writes.values() if v is None])
    final = {**items, **writes}
    assert update.root_hash == compute_root((k, v) for k, v in final.items() if v is not None)


def _collect(nodes: dict[bytes, bytes], ref: NodeRef | None, path: str, out: set[bytes]) -> None:
    if ref is None:
        return
    key = node_key(ref.version, path)
    assert key in nodes, f"node {key.hex()} of a retained version is missing"
    out.add(key)
    if not ref.leaf:
        for nibble, child in decode_internal(nodes[key]).items():
            _collect(nodes, child, path + format(nibble, "x"), out)


@pytest.mark.parametrize("seed", range(6))
def test_stale_lists_let_pruning_keep_every_retained_version_whole(seed: int) -> None:
    """Random inserts, rewrites and deletes (down to a few keys, so leaves split and move up
    across levels); after each block, the nodes older versions replaced are deleted once no
    retained version needs them, and every retained version still reads and proves whole."""
    rng = random.Random(seed)
    keep = 3
    nodes: dict[bytes, bytes] = {}
    roots = []
    stale_at: list[tuple[bytes, ...]] = []
    snapshots: list[dict[bytes, bytes]] = []
    current: dict[bytes, bytes] = {}

    class Nodes:
        def get_node(self, node_key: bytes) -> bytes | None:
            return nodes.get(node_key)

    root = None
    universe = [rng.randbytes(rng.randint(1, 6)) for _ in range(400)]
    for version in range(40):
        writes: dict[bytes, bytes | None] = {}
        shrink = version % 10 >= 7  # some blocks delete most keys
        for key in rng.sample(universe, rng.randint(1, 120)):
            if shrink or rng.random() < 0.25:
                writes[key] = None
            else:
                writes[key] = rng.randbytes(rng.randint(0, 9))
        update = apply_writes(Nodes(), root, version, writes)
        assert not set(update.new_nodes) & set(nodes), "a node key was written twice"
        nodes.update(update.new_nodes)
        root = update.root
        for key, value in writes.items():
            if value is None:
                current.pop(key, None)
            else:
                current[key] = value
        roots.append(root)
        stale_at.append(update.stale)
        snapshots.append(dict(current))
        assert update.root_hash == compute_root(current.items())
        oldest = version - keep + 1
        if oldest >= 1:
            for stale_key in stale_at[oldest]:  # needed only by versions below `oldest`
                del nodes[stale_key]
        reachable: set[bytes] = set()
        for v in range(max(0, oldest), version + 1):
            _collect(nodes, roots[v], "", reachable)
        assert reachable == set(nodes), "pruning must leave exactly what the retained versions reach"
        for v in range(max(0, oldest), version + 1):
            rh = EMPTY_ROOT if roots[v] is None else roots[v].hash
            for key in rng.sample(universe, 25):
                got, proof = read_at(Nodes(), roots[v], key)
                assert got == snapshots[v].get(key)
                verify_state_proof(rh, key, got, proof)
