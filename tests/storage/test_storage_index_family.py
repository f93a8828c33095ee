"""The ``x/`` index family: written in the block's own atomic batch, ranged reads, rebuild writes."""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path
from types import ModuleType

import pytest

from chain.transfer import CORE_KINDS
from storage.store import ChainStore, StoreError

WRITER = Path(__file__).with_name("storage_chain_writer.py")


def _load_writer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("storage_chain_writer_for_index", WRITER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


kit = _load_writer()


def test_index_writes_commit_with_their_block_and_survive_a_reopen(tmp_path: Path) -> None:
    store = ChainStore.open(tmp_path / "db", kit.test_genesis(), CORE_KINDS)
    rng = random.Random(3)
    block, result, commit = kit.next_block(store, rng, 3)
    store.commit_block(block, result, commit, {b"k/b": b"2", b"k/a": b"1", b"k/c": b"3", b"other": b"x"})
    assert store.index_get(b"k/a") == b"1"
    assert store.index_range(b"k/", b"k0", 10) == [(b"k/a", b"1"), (b"k/b", b"2"), (b"k/c", b"3")]
    assert store.index_range(b"k/b", b"k0", 1) == [(b"k/b", b"2")]
    assert store.index_range(b"k/", b"k0", 0) == [] and store.index_range(b"k0", b"k/", 5) == []
    # the index family is apart from state: no state key is visible as an index entry and vice versa
    assert store.state.get(b"k/a") is None and store.index_get(b"s/") is None

    stale_block, stale_result, stale_commit = block, result, commit
    with pytest.raises(StoreError):
        store.commit_block(stale_block, stale_result, stale_commit, {b"k/d": b"4"})
    assert store.index_get(b"k/d") is None  # a refused block writes no index entry either

    block, result, commit = kit.next_block(store, rng, 2)
    store.commit_block(block, result, commit, {b"k/a": None, b"k/d": b"4"})
    store.close()

    reopened = ChainStore.open(tmp_path / "db", kit.test_genesis(), CORE_KINDS)
    assert reopened.height == 2
    assert reopened.index_range(b"k/", b"k0", 10) == [(b"k/b", b"2"), (b"k/c", b"3"), (b"k/d", b"4")]
    reopened.write_index({b"k/b": None, b"k/e": b"5"})
    assert [key for key, _ in reopened.index_range(b"k/", b"k0", 10)] == [b"k/c", b"k/d", b"k/e"]
    state_pairs = reopened.state_range(b"", b"\xff", 1000)
    assert state_pairs == reopened.state_items() and len(reopened.state_range(b"", b"\xff", 2)) == 2
    reopened.close()
