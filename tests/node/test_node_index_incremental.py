"""The indexes kept block by block (market records, history origins, KPI counters, account
history) are byte-identical to a rebuild from state and stored blocks, over a seeded market mix
of many blocks: orders settled, cancelled, returned and refunded, disputed and ruled, and, in
blocks days later, windows running out (expired orders, settlements by the deadline hook).
Each block's market writes also equal those of an index that remembers no records, after a
decoy block that was indexed but never committed (tests/node/index_chain_kit.py)."""

from __future__ import annotations

from pathlib import Path

from index_chain_kit import index_entries, run_chain

from node import account_index, market_index
from node.market_stats import read_stats


def test_incremental_indexes_equal_a_rebuild_over_a_seeded_market_mix(tmp_path: Path) -> None:
    chain = run_chain(tmp_path / "db", lanes=2, lane_rate=60.0, seconds=8.0, seed="incremental", check_fresh=True)
    store = chain.store
    incremental = list(index_entries(store))
    states = read_stats(store).to_json()["orders_by_state"]
    assert isinstance(states, dict)
    for state in ("settled", "cancelled", "refunded", "resolved", "expired"):
        assert states[state] > 0, state  # every kind of record change was exercised
    assert chain.market.ensure() is False and chain.accounts.ensure() is False
    store.write_index({market_index.META_KEY: None, account_index.META_KEY: None})
    assert chain.market.ensure() is True and chain.accounts.ensure() is True
    assert list(index_entries(store)) == incremental
    store.close()
