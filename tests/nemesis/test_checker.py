"""The checker finds each violation it claims to, and nothing in a clean history."""

from __future__ import annotations

from pathlib import Path

from checker import Ack, Heal, History, check

GENESIS = 1_000


def _clean() -> History:
    history = History(seed=7, genesis_supply=GENESIS)
    history.chains = {"v0": {1: "aa", 2: "bb", 3: "cc"}, "v1": {1: "aa", 2: "bb"}}
    history.acks = [Ack("t1", 2, "v0", 1.0)]
    history.committed = {"v0": {"t1": 2}, "v1": {"t1": 2}}
    history.supply = {n: {"height": 2, "supply": GENESIS, "balances": GENESIS} for n in ("v0", "v1")}
    history.heals = [Heal(3.0, "halves", 5, 4, 6, 1.2, 1)]
    history.evidence = {"v0": [], "v1": []}
    return history


def test_a_clean_history_passes() -> None:
    assert check(_clean()) == []


def test_a_fork_at_a_common_height_is_found() -> None:
    history = _clean()
    history.chains["v1"][2] = "b2"
    assert check(history) == ["fork at height 2: {'v0': 'bb', 'v1': 'b2'}"]


def test_an_acknowledged_transaction_missing_or_moved_is_found() -> None:
    history = _clean()
    history.committed["v1"] = {}
    assert check(history) == ["tx t1 acknowledged by v0 at height 2 is missing on v1"]
    history.committed["v1"] = {"t1": 3}
    assert check(history) == ["tx t1 acknowledged at height 2 is at height 3 on v1"]


def test_supply_not_conserved_is_found() -> None:
    history = _clean()
    history.supply["v0"]["balances"] = GENESIS - 10
    assert len(check(history)) == 1 and "supply not conserved on v0" in check(history)[0]
    history.supply = {}
    assert check(history) == ["no supply figures were recorded"]


def test_no_commit_within_three_rounds_of_a_heal_is_found() -> None:
    history = _clean()
    history.heals = [Heal(3.0, "ring", 5, 4, 8, 9.0)]
    assert "more than 3 rounds after round 4" in check(history)[0]
    history.heals = [Heal(3.0, "ring", 5, 4, None, None)]
    assert "no block committed after the heal of ring" in check(history)[0]


def test_a_minority_committing_during_a_partition_is_found() -> None:
    history = _clean()
    history.heals = [Heal(3.0, "halves", 5, 4, 5, 1.0, 3)]
    assert check(history) == ["nodes without a quorum committed 3 blocks during halves (at most 1 may land)"]


def test_double_vote_evidence_is_found() -> None:
    history = _clean()
    history.evidence["v1"] = [9]
    assert check(history) == ["double-vote evidence in blocks [9] on v1"]


def test_the_history_is_saved_as_json(tmp_path: Path) -> None:
    path = _clean().save(tmp_path / "h")
    text = path.read_text()
    assert '"seed": 7' in text and '"t1"' in text and '"halves"' in text
