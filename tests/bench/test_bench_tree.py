"""The tree benchmarks run end to end and check what they measure (no timings are asserted).

``run_tree`` raises if the current tree and a baseline revision disagree on any root, and
``run_proofs_tree`` verifies every tenth proof it is served against the root.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bench.proofs import run_proofs_tree
from bench.tree import load_tree_module, run_tree

REPO = Path(__file__).resolve().parents[2]
FIRST_TREE = "bf4adef"
"""The tree as it was before its nodes carried their leaves' key hashes (another stored form)."""


def _has_revision(rev: str) -> bool:
    done = subprocess.run(["git", "cat-file", "-e", f"{rev}^{{commit}}"], cwd=REPO, capture_output=True, check=False)
    return done.returncode == 0


@pytest.mark.parametrize("leveldb", [False, True])
def test_the_tree_bench_runs_both_implementations_to_the_same_roots(leveldb: bool) -> None:
    if not _has_revision(FIRST_TREE):
        pytest.fail(f"the repository's history must hold {FIRST_TREE} (a shallow clone cannot run this test)")
    report = run_tree(keys=400, writes=60, blocks=3, insert_share=0.2, baseline=FIRST_TREE, leveldb=leveldb, repeat=1)
    for name in ("current", f"baseline {FIRST_TREE}"):
        figures = report[name]
        assert len(figures["us_per_written_key_each_block"]) == 3
        assert figures["new_nodes_per_written_key"] > 1
    assert load_tree_module(FIRST_TREE).__file__ == f"{FIRST_TREE}:chain/state_tree.py"


def test_the_proof_bench_serves_proofs_that_verify() -> None:
    report = run_proofs_tree(keys=3_000, block=1_000, requests=60)
    assert report["versions"] == 3 and report["requests"] == 60
    assert report["client_latency"]["p50_ms"] > 0
