"""The checker: what must hold of a history recorded under faults, as pure functions.

A :class:`History` is what a run observed: the nemesis schedule and its events, every
transaction acknowledged as committed (by the node that said so), each node's block hashes
at the end, supply figures, and per heal the consensus position before it and the round
that committed the next block. :func:`check` returns every violation found (empty = pass):

- **no fork**: at every height two nodes both have, their block hashes are identical;
- **no lost commit**: every acknowledged transaction is committed on every node, at the
  height it was acknowledged at;
- **supply conserved**: on every node, the supply and the sum of all balances equal the genesis supply;
- **liveness after heal**: the first block after each heal is committed within
  ``MAX_ROUNDS_AFTER_HEAL`` rounds of the highest round reached before it (and at all);
- **no double signing**: no block carries double-vote evidence;
- **the cut was real**: nodes without a quorum behind a partition committed at most one block
  during it (one already decided when the cut came may land).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

MAX_ROUNDS_AFTER_HEAL: Final = 3


@dataclass(frozen=True, slots=True)
class Ack:
    """A transaction a node reported as committed."""

    tx_hash: str
    height: int
    node: str
    at: float
    """Seconds since the start of the run."""


@dataclass(frozen=True, slots=True)
class Heal:
    """One heal and what followed: the consensus position before it and the commit after it."""

    at: float
    kind: str
    height: int
    """The highest height committed before the heal."""
    round: int
    """The highest round any node was in at height + 1 before the heal."""
    commit_round: int | None
    """The round in which block height + 1 was committed (None: it was not, within the deadline)."""
    seconds_to_commit: float | None
    """From the heal until every node had block height + 1."""
    cut_off_advanced: int = 0
    """Blocks the nodes that had no quorum (both halves; the isolated node) committed during the fault."""


@dataclass
class History:
    """Everything a run observed, saved as JSON when a check fails."""

    seed: int
    schedule: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    acks: list[Ack] = field(default_factory=list)
    heals: list[Heal] = field(default_factory=list)
    chains: dict[str, dict[int, str]] = field(default_factory=dict)
    """Per node: height -> block hash, for the heights read at the end."""
    committed: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per node: acknowledged tx hash -> height it is committed at there (absent: not found)."""
    supply: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per node: {"height", "supply", "balances"} at a common height."""
    genesis_supply: int = 0
    evidence: dict[str, list[int]] = field(default_factory=dict)
    """Per node: heights of blocks that carry double-vote evidence."""
    figures: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    """Violations observed during the run itself (a datadir that fails its integrity check, ...)."""

    def event(self, at: float, kind: str, **detail: Any) -> None:
        """Record one event (a fault injected or healed, a node restarted, an observation)."""
        self.events.append({"at": round(at, 3), "kind": kind, **detail})

    def to_json(self) -> dict[str, Any]:
        """The history as JSON (heights as strings, as JSON keys must be)."""
        data = asdict(self)
        data["chains"] = {n: {str(h): v for h, v in c.items()} for n, c in self.chains.items()}
        return data

    def save(self, directory: Path) -> Path:
        """Write history.json into ``directory``; returns its path."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "history.json"
        path.write_text(json.dumps(self.to_json(), indent=1) + "\n")
        return path


def check(history: History) -> list[str]:
    """Every violation of the properties above in ``history`` (an empty list: all hold)."""
    return [
        *history.failures,
        *no_fork(history.chains),
        *no_lost_commit(history.acks, history.committed),
        *supply_conserved(history.supply, history.genesis_supply),
        *live_after_heals(history.heals),
        *no_commit_without_quorum(history.heals),
        *no_double_signing(history.evidence),
    ]


def no_fork(chains: dict[str, dict[int, str]]) -> list[str]:
    """A violation per height at which two nodes hold different block hashes."""
    found = []
    heights = sorted({h for chain in chains.values() for h in chain})
    for height in heights:
        hashes = {node: chain[height] for node, chain in chains.items() if height in chain}
        if len(set(hashes.values())) > 1:
            found.append(f"fork at height {height}: {hashes}")
    return found


def no_lost_commit(acks: list[Ack], committed: dict[str, dict[str, int]]) -> list[str]:
    """A violation per acknowledged transaction missing on a node, or committed at another height."""
    found = []
    for ack in acks:
        for node, txs in committed.items():
            height = txs.get(ack.tx_hash)
            if height is None:
                found.append(f"tx {ack.tx_hash} acknowledged by {ack.node} at height {ack.height} is missing on {node}")
            elif height != ack.height:
                found.append(f"tx {ack.tx_hash} acknowledged at height {ack.height} is at height {height} on {node}")
    return found


def supply_conserved(supply: dict[str, dict[str, int]], genesis_supply: int) -> list[str]:
    """A violation per node whose supply or sum of balances differs from the genesis supply."""
    found = []
    if not supply:
        found.append("no supply figures were recorded")
    for node, figures in supply.items():
        if figures["supply"] != genesis_supply or figures["balances"] != genesis_supply:
            found.append(
                f"supply not conserved on {node} at height {figures['height']}: supply {figures['supply']}, "
                f"sum of balances {figures['balances']}, genesis {genesis_supply}"
            )
    return found


def live_after_heals(heals: list[Heal]) -> list[str]:
    """A violation per heal after which the next block was not committed within the round bound."""
    found = []
    for heal in heals:
        if heal.commit_round is None:
            found.append(f"no block committed after the heal of {heal.kind} at {heal.at:.1f} s (height {heal.height})")
        elif heal.commit_round > heal.round + MAX_ROUNDS_AFTER_HEAL:
            found.append(
                f"after the heal of {heal.kind} at {heal.at:.1f} s, block {heal.height + 1} was committed in round "
                f"{heal.commit_round}, more than {MAX_ROUNDS_AFTER_HEAL} rounds after round {heal.round}"
            )
    return found


def no_commit_without_quorum(heals: list[Heal]) -> list[str]:
    """A violation per partition during which nodes cut off from a quorum committed more than one block."""
    return [
        f"nodes without a quorum committed {h.cut_off_advanced} blocks during {h.kind} (at most 1 may land)"
        for h in heals
        if h.cut_off_advanced > 1
    ]


def no_double_signing(evidence: dict[str, list[int]]) -> list[str]:
    """A violation per node that holds blocks carrying double-vote evidence."""
    return [f"double-vote evidence in blocks {heights} on {node}" for node, heights in evidence.items() if heights]
