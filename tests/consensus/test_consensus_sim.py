"""The seeded simulator: safety, agreement and liveness over thousands of seeds.

Each test runs one chunk of seeds for one configuration, so ``-n 2`` spreads them. A
failing seed names the exact command that replays it alone.
"""

from __future__ import annotations

import os

import pytest

from consensus.sim import check, run, scenario_for

SEEDS_PER_CONFIG = 1000
CHUNK = 100
CONFIGS = {"n4f1": (4, 1), "n7f1": (7, 1), "n7f2": (7, 2)}
_ONLY = os.environ.get("AGORA_SIM_SEED")


def _replay_command(name: str, seed: int) -> str:
    return f"AGORA_SIM_SEED={seed} .venv/bin/pytest tests/consensus/test_consensus_sim.py -k {name}"


def _run_seeds(name: str, seeds: range | list[int]) -> None:
    n, f = CONFIGS[name]
    failures = []
    for seed in seeds:
        problems = check(run(scenario_for(seed, n, f)))
        if problems:
            failures.append(f"seed {seed}: {'; '.join(problems)}\n  replay: {_replay_command(name, seed)}")
    assert not failures, f"{len(failures)} failing seeds:\n" + "\n".join(failures[:10])


if _ONLY is not None:
    _SEED = int(_ONLY)

    @pytest.mark.parametrize("name", sorted(CONFIGS))
    def test_replay_one_seed(name: str) -> None:
        """AGORA_SIM_SEED=<seed>: run just that seed (for every configuration, or one with -k)."""
        _run_seeds(name, [_SEED])

else:

    @pytest.mark.parametrize("name", sorted(CONFIGS))
    @pytest.mark.parametrize("chunk", range(SEEDS_PER_CONFIG // CHUNK))
    def test_simulated_network_is_safe_and_live(name: str, chunk: int) -> None:
        """No fork, one committed sequence, progress after healing, for every seed of the chunk."""
        _run_seeds(name, range(chunk * CHUNK, (chunk + 1) * CHUNK))


def test_scenarios_cover_every_fault() -> None:
    """The seeds really exercise partitions, crashes with torn WALs, drops and each byzantine mode."""
    scenarios = [scenario_for(seed, 7, 2) for seed in range(SEEDS_PER_CONFIG)]
    assert sum(s.partition is not None for s in scenarios) > 200
    assert sum(s.crash is not None and s.crash[3] for s in scenarios) > 100
    assert sum(s.drop_rate > 0 for s in scenarios) > 300
    modes = [m for s in scenarios for m in s.byzantine.values()]
    assert {"silent", "equivocate", "invalid"} <= set(modes)


def test_same_seed_same_run() -> None:
    """A seed replays exactly."""
    a, b = run(scenario_for(7, 4, 1)), run(scenario_for(7, 4, 1))
    assert a == b
    assert a.decisions and all(len(d) >= 4 for d in a.decisions.values())


def test_equivocation_is_detected_in_simulation() -> None:
    """Across seeds with an equivocating validator, honest validators report evidence."""
    found = 0
    for seed in range(200):
        scenario = scenario_for(seed, 4, 1)
        if "equivocate" in scenario.byzantine.values():
            found += run(scenario).evidence_found
    assert found > 0


def test_crashed_validators_resume_from_their_wal_in_simulation() -> None:
    """Crashes land mid-height: restarted validators recover signed messages from the WAL."""
    restored = 0
    for seed in range(100):
        scenario = scenario_for(seed, 4, 1)
        if scenario.crash is not None:
            restored += run(scenario).restored_messages
    assert restored > 0


def test_checker_reports_a_fork() -> None:
    """The safety check fails when two honest validators commit different blocks."""
    result = run(scenario_for(3, 4, 1))
    first = next(iter(result.decisions))
    forked = dict(result.decisions)
    forked[first] = [(1, b"\x01" * 32), *forked[first][1:]]
    problems = check(type(result)(**{**{k: getattr(result, k) for k in result.__slots__}, "decisions": forked}))
    assert any(p.startswith("safety") for p in problems)
