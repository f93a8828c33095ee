"""Chain store: round-trips, restart without replay, refusals, and kill -9 at random moments."""

from __future__ import annotations

import importlib.util
import os
import random
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from types import ModuleType

import plyvel
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chain.block import decode_block
from chain.encoding import U64_MAX, decode, encode
from chain.execution import Event, Receipt, read_validators
from chain.genesis import Genesis
from chain.params import ChainParams
from chain.state_tree import compute_root, verify_state_proof
from chain.transfer import CORE_KINDS
from chain.validators import Validator, ValidatorSet
from chain.votes import verify_commit
from storage import keys as k
from storage.store import (
    RECENT_BLOCKS,
    ChainStore,
    GenesisMismatch,
    NodeCache,
    PrunedHeight,
    StoreError,
    encode_tx_record,
)

WRITER = Path(__file__).with_name("storage_chain_writer.py")
REPO = Path(__file__).resolve().parents[2]


def _load_writer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("storage_chain_writer", WRITER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


kit = _load_writer()


def _write_blocks(store: ChainStore, n: int, seed: int = 7) -> list:
    blocks = []
    for _ in range(n):
        rng = random.Random(seed * 1_000_003 + store.height)
        block, result, commit = kit.next_block(store, rng, rng.randint(0, 30))
        store.commit_block(block, result, commit)
        blocks.append((block, result, commit))
    return blocks


def test_blocks_txs_commits_and_state_round_trip(tmp_path: Path) -> None:
    store = ChainStore.open(tmp_path / "db", kit.test_genesis(), CORE_KINDS)
    written = _write_blocks(store, 6)
    assert store.height == 6
    validators = read_validators(store.state)
    for block, result, commit in written:
        h = block.height
        assert store.block_bytes(h) == block.encode()
        assert store.block(h) == block
        assert store.block_by_hash(block.hash) == block
        assert store.height_of(block.hash) == h
        stored_commit = store.commit(h)
        assert stored_commit is not None and stored_commit == commit
        verify_commit(kit.CHAIN_ID, stored_commit, validators, h, block.hash)
        for index, (tx, receipt) in enumerate(zip(block.txs, result.receipts, strict=True)):
            record = store.tx(tx.hash)
            assert record is not None
            assert (record.height, record.index, record.tx, record.receipt) == (h, index, tx, receipt)
            stored = store._db.get(k.tx_key(tx.hash))
            assert stored == encode([h, index, tx.raw, receipt.to_wire()])
    assert store.block(7) is None and store.block(0) is None
    assert store.tx(bytes(32)) is None
    assert store.block_by_hash(bytes(32)) is None
    # state equals an independent in-memory replay from genesis
    state = kit.test_genesis().initial_state()
    kit.replay(state, store, 1, store.height)
    assert dict(store.state_items()) == dict(state.items())
    assert store.meta_chain_id() == kit.CHAIN_ID
    store.close()


@given(
    height=st.integers(0, U64_MAX),
    index=st.integers(0, U64_MAX),
    raw=st.binary(max_size=70_000),
    code=st.text(max_size=40),
    fee=st.integers(0, U64_MAX),
    events=st.lists(st.tuples(st.text(max_size=10), st.binary(max_size=300)), max_size=40),
)
def test_a_tx_record_splices_the_receipt_leaf_into_the_canonical_list(
    height: int, index: int, raw: bytes, code: str, fee: int, events: list[tuple[str, bytes]]
) -> None:
    receipt = Receipt(bytes(32), code, "m" * len(events), fee, tuple(Event(t, (("v", v),)) for t, v in events))
    expected = encode([height, index, raw, receipt.to_wire()])
    assert encode_tx_record(height, index, raw, receipt.encode()) == expected


def test_recent_blocks_answer_from_memory_and_equal_their_stored_bytes(tmp_path: Path) -> None:
    store = ChainStore.open(tmp_path / "db", kit.test_genesis(), CORE_KINDS)
    written = [block for block, _result, _commit in _write_blocks(store, RECENT_BLOCKS + 3)]
    for block in written:
        h = block.height
        got = store.block(h)
        assert got == block == decode_block(store.block_bytes(h) or b"", CORE_KINDS)
        # the newest RECENT_BLOCKS are the committed objects; older ones are decoded again
        assert (got is block) == (h > store.height - RECENT_BLOCKS)
        assert store.block_by_hash(block.hash) == block
    assert store.block(store.height + 1) is None and store.block(0) is None
    store.close()
    reopened = ChainStore.open(tmp_path / "db", kit.test_genesis(), CORE_KINDS)
    assert [reopened.block(b.height) for b in written] == written
    reopened.close()


def test_restart_resumes_at_head_without_replay(tmp_path: Path) -> None:
    store = ChainStore.open(tmp_path / "db", kit.test_genesis(), CORE_KINDS)
    _write_blocks(store, 4)
    head = store.head
    state_before = dict(store.state_items())
    store.close()
    reopened = ChainStore.open(tmp_path / "db", kit.test_genesis(), CORE_KINDS)
    assert reopened.head == head
    assert dict(reopened.state_items()) == state_before
    _write_blocks(reopened, 2)
    assert reopened.height == 6
    reopened.close()


def test_foreign_genesis_is_refused(tmp_path: Path) -> None:
    ChainStore.open(tmp_path / "db", kit.test_genesis(), CORE_KINDS).close()
    other = Genesis(
        "another-chain",
        1,
        ChainParams(),
        ValidatorSet.of([Validator(kit.VALIDATOR.public_key, 1)]),
        (),
    )
    with pytest.raises(GenesisMismatch, match="another chain"):
        ChainStore.open(tmp_path / "db", other, CORE_KINDS)


def test_non_empty_database_without_genesis_is_refused(tmp_path: Path) -> None:
    db = plyvel.DB(str(tmp_path / "db"), create_if_missing=True)
    db.put(b"x", b"y")
    db.close()
    with pytest.raises(StoreError, match="corrupt or foreign"):
        ChainStore.open(tmp_path / "db", kit.test_genesis(), CORE_KINDS)


@pytest.mark.parametrize("schema", [99, 2, 1])
def test_schema_mismatch_is_refused(tmp_path: Path, schema: int) -> None:
    """Another schema, newer or older (2: tree nodes without their leaves' key hashes), is refused."""
    ChainStore.open(tmp_path / "db", kit.test_genesis(), CORE_KINDS).close()
    db = plyvel.DB(str(tmp_path / "db"))
    db.put(k.META_SCHEMA, bytes([schema]))
    db.close()
    with pytest.raises(StoreError, match=f"schema version {schema}, this node reads {k.SCHEMA_VERSION}"):
        ChainStore.open(tmp_path / "db", kit.test_genesis(), CORE_KINDS)


def test_commit_block_refuses_a_block_that_does_not_extend_the_head(tmp_path: Path) -> None:
    store = ChainStore.open(tmp_path / "db", kit.test_genesis(), CORE_KINDS)
    block, result, commit = kit.next_block(store, random.Random(1), 3)
    store.commit_block(block, result, commit)
    before = dict(store.state_items())
    with pytest.raises(StoreError, match="does not extend"):
        store.commit_block(block, result, commit)
    block2, result2, _ = kit.next_block(store, random.Random(2), 3)
    with pytest.raises(StoreError, match="does not certify"):
        store.commit_block(block2, result2, commit)
    assert store.height == 1
    assert dict(store.state_items()) == before
    store.close()


def test_heights_sort_numerically_in_keys() -> None:
    heights = [0, 1, 2, 255, 256, 65535, 65536, 2**40]
    assert sorted(k.block_key(h) for h in heights) == [k.block_key(h) for h in heights]


def _run_writer_and_kill(db: Path, seed: int, delay: float, blind: bool) -> list[int]:
    """Start the writer, kill it with SIGKILL ``delay`` s after it is ready (or after spawn if
    ``blind``: then the kill may land while the store is being created), return the heights it
    acknowledged."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), str(db), str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=REPO,
    )
    assert proc.stdout is not None
    ready = b"ready (not awaited)" if blind else proc.stdout.readline()
    if not ready.startswith(b"ready"):
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"writer did not start: {ready!r} {err.decode()[-2000:]}")
    time.sleep(delay)  # the random moment of the kill, not a wait for a condition
    os.kill(proc.pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, err.decode()[-2000:]
    return [int(line.split()[1]) for line in out.decode().splitlines() if line.startswith("committed ")]


def test_sigkill_at_random_moments_never_loses_or_tears_a_block(tmp_path: Path) -> None:
    rng = random.Random(20261125)
    db = tmp_path / "db"
    genesis = kit.test_genesis()
    replayed = genesis.initial_state()
    replayed_height = 0
    acknowledged = 0
    rounds = 25
    for round_no in range(rounds):
        blind = round_no % 5 == 0
        delay = rng.uniform(0.0, 0.6) if blind else rng.uniform(0.0, 0.25)
        reported = _run_writer_and_kill(db, round_no, delay, blind)
        if reported:
            acknowledged = max(acknowledged, *reported)
        store = ChainStore.open(db, genesis, CORE_KINDS)
        try:
            head = store.head
            assert head.height >= acknowledged, f"round {round_no}: acknowledged {acknowledged}, head {head.height}"
            if head.height:
                block = store.block(head.height)
                assert block is not None and block.hash == head.hash
                assert store.commit(head.height) is not None
                for index, tx in enumerate(block.txs):
                    record = store.tx(tx.hash)
                    assert record is not None and (record.height, record.index) == (head.height, index)
            kit.replay(replayed, store, replayed_height + 1, head.height)
            replayed_height = head.height
            assert dict(store.state_items()) == dict(replayed.items()), f"round {round_no}: state diverged"
            acknowledged = head.height
        finally:
            store.close()
        raw = plyvel.DB(str(db))
        try:
            assert raw.get(k.block_key(acknowledged + 1)) is None, "a block beyond the head is stored"
        finally:
            raw.close()
    assert replayed_height > rounds, "the writer should have committed blocks across the rounds"


def test_the_state_tree_is_versioned_proven_and_pruned(tmp_path: Path) -> None:
    store = ChainStore.open(tmp_path / "db", kit.test_genesis(), CORE_KINDS)
    snapshots = [dict(store.state_items())]
    for _ in range(8):
        _write_blocks(store, 1)
        snapshots.append(dict(store.state_items()))
    # the head's root is the header's and a from-scratch recomputation over the whole state
    header = store.head.header
    assert header is not None and store.header(8) == header
    assert store.state.tree_root is not None and store.state.tree_root.hash == header.state_root
    assert compute_root(store.state_items()) == header.state_root
    store.close()
    store = ChainStore.open(tmp_path / "db", kit.test_genesis(), CORE_KINDS)
    assert store.state.tree_root is not None and store.state.tree_root.hash == header.state_root
    # every key at every height reads and proves as it was then; keys that came later prove absent
    for height, snapshot in enumerate(snapshots):
        root = kit.test_genesis().state_root if height == 0 else store.header(height).state_root  # type: ignore[union-attr]
        for key in list(snapshots[-1])[:20]:
            value, proof = store.state_at(key, height)
            assert value == snapshot.get(key)
            verify_state_proof(root, key, value, proof)
    # results leaves match the receipts committed in the header
    for height in range(1, 9):
        leaves = store.result_leaf_hashes(height)
        assert len(leaves) == len(store.block(height).txs) + 1  # type: ignore[union-attr]
    # pruning keeps the last 3 versions: older heights answer PrunedHeight, newer ones still prove
    while store.prune(3, max_versions=2) < 6:
        pass
    assert store.oldest_state_height == 6
    key = next(iter(snapshots[-1]))
    with pytest.raises(PrunedHeight) as info:
        store.state_at(key, 5)
    assert info.value.oldest == 6
    for height in (6, 7, 8):
        value, proof = store.state_at(key, height)
        verify_state_proof(store.header(height).state_root, key, value, proof)  # type: ignore[union-attr]
    with pytest.raises(StoreError):
        store.state_at(key, 9)
    store.close()


def test_the_node_cache_bound_is_its_real_memory() -> None:
    # The bound counts Python's own cost per entry: what tracemalloc sees stays within it.
    rng = random.Random(7)
    limit = 4 * 1024 * 1024
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        cache = NodeCache(limit)
        for i in range(200_000):  # tree-node-like keys (40 B) and values (40..700 B)
            cache.put(i.to_bytes(8, "big") + rng.randbytes(32), rng.randbytes(rng.randint(40, 700)))
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(cache) > 5_000, "the cache was full"
    assert 0.8 * limit < held <= 1.05 * limit, f"{held / 2**20:.2f} MiB held for a {limit / 2**20:.0f} MiB bound"


def test_putting_a_blocks_nodes_at_once_caches_and_evicts_like_putting_them_one_by_one() -> None:
    rng = random.Random(11)
    blocks = [{rng.randbytes(40): rng.randbytes(rng.randint(40, 700)) for _ in range(300)} for _ in range(20)]
    one_by_one, at_once = NodeCache(256 * 1024), NodeCache(256 * 1024)  # a block fits, 20 do not
    for nodes in blocks:
        for node_key, node in nodes.items():
            one_by_one.put(node_key, node)
        at_once.put_many(nodes)
        at_once.put_many(nodes)  # already cached: nothing changes
    assert 300 < len(at_once) == len(one_by_one) < 6_000
    assert all(at_once.get(key) == one_by_one.get(key) for nodes in blocks for key in nodes)


def test_the_node_cache_is_bounded_and_forgets_what_pruning_deletes(tmp_path: Path) -> None:
    cache = NodeCache(10_000)
    for i in range(1_000):
        cache.put(i.to_bytes(9, "big"), bytes(50))
    assert 0 < len(cache) <= 10_000 // 159 + 1
    assert cache.get((999).to_bytes(9, "big")) == bytes(50) and cache.get((0).to_bytes(9, "big")) is None
    store = ChainStore.open(tmp_path / "db", kit.test_genesis(), CORE_KINDS)
    _write_blocks(store, 6)
    stale = []
    for height in range(1, 4):
        listed = store._db.get(k.tree_stale_key(height))
        if listed is not None:
            stale.extend(decode(listed))
    assert stale, "the blocks replaced some tree nodes"
    for node_key in stale:
        store.nodes.get_node(node_key)  # cached (they are still stored: nothing is pruned yet)
    while store.prune(3) < 4:
        pass
    for node_key in stale:
        assert store.nodes.get_node(node_key) is None, "a pruned node is still served"
    header = store.head.header
    assert header is not None
    key = next(iter(dict(store.state_items())))
    value, proof = store.state_at(key, store.height)
    verify_state_proof(header.state_root, key, value, proof)
    store.close()
