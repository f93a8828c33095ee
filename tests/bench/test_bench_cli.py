"""``agora bench`` end to end at a tiny scale: real node processes, the JSON has every figure, and they agree.

No timing is asserted (the machine is shared): only that each figure is there and consistent
with the others (nothing committed that was not sent, CPU spent, quantiles in order...).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.single import run_restart
from bench.sync import run_sync

LOAD_FIGURES = (
    "window_s",
    "submitted",
    "accepted",
    "committed",
    "pending_at_end",
    "accepted_committable_at_end",
    "accepted_gapped_at_end",
    "accepted_lost",
    "committable_heads_at_end",
    "held_for_load_at_end",
    "refused_or_dropped_at_end",
    "dropped_by_node",
    "offered_tps",
    "committed_tps",
    "goodput_tps",
    "committed_in_window",
    "blocks_in_window",
    "txs_per_block_mean",
    "block_interval_ms_mean",
    "by_minute",
    "latency_p50_s",
    "latency_p90_s",
    "latency_p99_s",
    "latency_max_s",
    "refused_by_reason",
    "failed_by_code",
    "resubmitted",
    "cpu_s_per_node",
    "cpu_ms_per_committed_tx_per_node",
    "cpu_ms_per_committed_tx",
    "verify_bound_tps",
    "verifies_per_s_per_core",
    "cores",
    "verifying_nodes",
    "efficiency",
    "node_settings",
)


def _agora(tmp_path: Path, *args: str, expect: int = 0, env: dict[str, str] | None = None) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "cli", "bench", *args, "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env=None if env is None else {**os.environ, **env},
    )
    assert done.returncode == expect, done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def _check_load(report: dict[str, Any], nodes: int) -> None:
    missing = [k for k in LOAD_FIGURES if k not in report]
    assert not missing, missing
    assert report["accepted"] <= report["submitted"] and report["committed"] <= report["submitted"]
    assert 0 < report["committed_in_window"] <= report["committed"]
    assert report["pending_at_end"] == report["accepted"] - report["committed"]
    gapped = sum(report["accepted_gapped_at_end"].values())
    assert report["pending_at_end"] >= report["accepted_committable_at_end"] + gapped
    assert report["accepted_lost"] == 0
    assert report["blocks_in_window"] > 0 and report["txs_per_block_mean"] > 0
    assert 0 < report["goodput_tps"] <= report["committed_tps"]
    assert report["latency_p50_s"] <= report["latency_p90_s"] <= report["latency_p99_s"] <= report["latency_max_s"]
    assert report["latency_p50_s"] > 0
    assert len(report["cpu_s_per_node"]) == nodes and all(c > 0 for c in report["cpu_s_per_node"])
    per_node = report["cpu_ms_per_committed_tx_per_node"]
    assert len(per_node) == nodes and all(x > 0 for x in per_node)
    assert report["cpu_ms_per_committed_tx"] == pytest.approx(sum(per_node), rel=0.01)
    bound = report["verifies_per_s_per_core"] * report["cores"] / report["verifying_nodes"]
    assert report["verify_bound_tps"] == pytest.approx(bound, rel=0.01)
    assert report["efficiency"] == pytest.approx(report["committed_tps"] / report["verify_bound_tps"], abs=0.002)


def test_testnet_market_mix_reports_every_figure(tmp_path: Path) -> None:
    report = _agora(
        tmp_path,
        "testnet", "--validators", "2", "--mix", "market", "--rate", "150", "--seconds", "4",
        "--accounts", "40", "--lanes", "2", "--batch", "50", "--step", "0.5", "--drain", "20",
        "--block-budget-ms", "1200", "--set", "mempool_max_nonce_gap=80",
    )  # fmt: skip
    _check_load(report, nodes=2)
    assert report["scenario"] == "testnet-2-validators" and report["mix"] == "market"
    assert report["node_settings"]["block_budget_ms"] == 1200
    assert report["node_settings"]["mempool_max_nonce_gap"] == 80
    kinds = report["offered_by_kind"]
    assert kinds["transfer"] > 0 and kinds["order.place"] > 0 and kinds["order.accept"] > 0
    assert sum(kinds.values()) == report["submitted"] == report["txs"]


def test_single_transfers_at_a_rate(tmp_path: Path) -> None:
    report = _agora(
        tmp_path, "single", "--rate", "200", "--seconds", "2", "--accounts", "20", "--lanes", "2", "--batch", "50"
    )
    _check_load(report, nodes=1)
    assert report["offered_by_kind"] == {"transfer": report["submitted"]}
    assert report["failed_by_code"] == {}


def test_soak_records_rss_and_fits_a_trend(tmp_path: Path) -> None:
    report = _agora(
        tmp_path,
        "soak", "--validators", "1", "--rate", "200", "--minutes", "0.08", "--sample-seconds", "0.4",
        "--warmup", "1", "--accounts", "20", "--lanes", "2", "--batch", "50", "--max-growth", "5",
        "--diagnostics", "diag",
        env={"AGORA_MEMSTATS": "1"},
    )  # fmt: skip
    with (tmp_path / "diag" / "v0-memstats.csv").open() as f:  # the node's memory split, kept
        stats = list(csv.DictReader(f))
    assert len(stats) >= 2 and all(int(r["rss_anon"]) > 0 and int(r["leveldb_tables"]) >= 0 for r in stats)
    assert "agora node listening on http://127.0.0.1:" in (tmp_path / "diag" / "v0-node.out").read_text()  # its log
    assert report["load"]["offered_rate"] == pytest.approx(140.0)
    _check_load(report["load"], nodes=1)
    trend = report["rss_by_node"]["v0"]
    assert trend["samples"] >= 3 and 0 < trend["min_mib"] <= trend["max_mib"]
    assert trend["max_min_ratio"] >= 1 and report["rss_flat"] is True
    anon, cache = report["rss_anon_by_node"]["v0"], report["rss_file_by_node"]["v0"]
    assert anon["samples"] == cache["samples"] == trend["samples"]
    assert 0 < anon["min_mib"] < trend["min_mib"] and 0 < cache["min_mib"] < trend["min_mib"]
    assert report["verdict_on"] == "rss_anon" and report["passed"] is report["rss_anon_flat"] is True
    with (tmp_path / "soak-rss.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) >= trend["samples"] and all(int(r["rss_bytes"]) > 0 for r in rows[1:])


def test_sync_and_restart_report_their_figures() -> None:
    # In process (the commands are the same few lines over these): each still runs real nodes.
    sync = run_sync(300, 30, {"block_budget_ms": 1000}).as_dict()
    assert sync["history_txs"] == 300 and sync["history_blocks"] >= 1 and sync["sync_tx_per_s"] > 0
    assert sync["follower_cpu_s_after_ready"] >= 0 and sync["follower_cpu_us_per_tx"] is not None
    restart = run_restart(300).as_dict()
    assert restart["chain_txs"] == 300 and restart["chain_height"] >= 1 and restart["restart_seconds"] > 0


def test_bad_options_fail_before_any_node_starts() -> None:
    runner = CliRunner()
    unknown = runner.invoke(app, ["testnet", "--set", "no_such_key=1"])
    assert unknown.exit_code == 1 and "unknown setting 'no_such_key'" in unknown.output
    market_burst = runner.invoke(app, ["single", "--mix", "market"])
    assert market_burst.exit_code == 1 and "give --rate" in market_burst.output
    bad_budget = runner.invoke(app, ["testnet", "--block-budget-ms", "0"])
    assert bad_budget.exit_code == 1 and "block_budget_ms" in bad_budget.output
