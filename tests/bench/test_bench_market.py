"""The market mix's schedule, on-chain failure counting, and the node-settings checks (in process)."""

from __future__ import annotations

import time
from collections import Counter
from itertools import islice
from pathlib import Path

import pytest

from bench.load import LoadSpec, build_workload, commit_setup
from bench.market_load import FLOWS, MarketPlan
from bench.measure import run_load
from bench.settings import node_settings, parse_sets
from bench.soak import fit_window, flat, verdict
from bench.trend import fit
from chain.encoding import sha256
from chain.keys import PrivateKey
from chain.tx import sign_transaction
from market.bodies import OrderAccept
from node.client import NodeClient
from node.datadir import dev_genesis, init_datadir, open_datadir
from node.service import Node

CHAIN = "bench-market"


NOW_MS = int(time.time() * 1000)


def _plan(lanes: int = 2) -> MarketPlan:
    plan = MarketPlan.make(CHAIN, 10, 60, lanes, time_ms=NOW_MS)
    plan.setup()
    return plan


def test_a_lane_schedule_is_in_time_order_with_rising_nonces_and_half_transfers() -> None:
    plan = _plan()
    items = list(plan.schedule(0, lane_rate=100, seconds=40, step=1.5))
    dues = [due for due, _ in items]
    assert dues == sorted(dues) and dues[-1] < 40
    nonces: dict[bytes, list[int]] = {}
    for _, tx in items:
        nonces.setdefault(tx.sender, []).append(tx.nonce)
    for sender, seen in nonces.items():
        first = seen[0]
        assert seen == list(range(first, first + len(seen))), sender.hex()
    kinds = Counter(tx.kind for _, tx in items)
    steady = [tx for due, tx in items if 10 <= due < 30]  # past the ramp, before the cut-off tail
    share = sum(1 for tx in steady if tx.kind == "transfer") / len(steady)
    assert 0.42 < share < 0.58
    for kind in ("order.place", "order.accept", "order.ship", "order.confirm", "order.cancel", "order.dispute"):
        assert kinds[kind] > 0, kind
    assert kinds["order.rule"] > 0 and kinds["order.receive_return"] > 0 and kinds["listing.update"] > 0
    assert kinds["trace.commission"] > 0 and kinds["trace.event"] > 0
    assert any(tx.kind == "transfer" and tx.body.asset == "BENCH" for _, tx in items)
    assert 100 * 40 * 0.8 < len(items) < 100 * 40 * 1.02
    again = _plan().schedule(0, lane_rate=100, seconds=40, step=1.5)
    assert [tx.hash for _, tx in islice(again, 300)] == [tx.hash for _, tx in items[:300]]


def test_an_orders_steps_follow_each_other_step_seconds_apart() -> None:
    plan = _plan()
    items = list(plan.schedule(1, lane_rate=100, seconds=30, step=1.5))
    places = {tx.hash: due for due, tx in items if tx.kind == "order.place"}
    followers = [(due, tx) for due, tx in items if tx.kind in ("order.accept", "order.cancel")]
    assert followers
    for due, tx in followers:
        assert tx.body.order_id in places
        assert due == pytest.approx(places[tx.body.order_id] + 1.5)
    assert set(FLOWS) >= {"order", "cancel", "return", "dispute", "asset_payment"}


async def test_setup_commits_and_failed_receipts_are_counted_by_code(tmp_path: Path) -> None:
    validator = PrivateKey(sha256(b"bm-validator"))
    spec = LoadSpec(mix="market", rate=120, seconds=3, accounts=24, lanes=2, batch=50, warmup=0.5, step=0.8)
    work = build_workload(spec, CHAIN)
    kinds = work.presign()
    assert kinds["trace.event"] > 0 and kinds["order.confirm"] > 0 and kinds["transfer"] > 0
    genesis = dev_genesis(CHAIN, [validator.public_key], {k: 10**15 for k in work.funded}, time_ms=1)
    settings = {"api_port": 0, "min_block_interval_ms": 20, "heartbeat_interval_ms": 3_600_000}
    init_datadir(tmp_path / "node", genesis, validator, "pw", settings)
    node = Node(open_datadir(tmp_path / "node"), validator)
    url = await node.start()
    try:
        async with NodeClient(url) as client:
            await client.wait_ready(10)
        await commit_setup(url, work.setup)
        result = await run_load([url], work.schedules, batch=50, watch_seconds=60, window=spec.window, receipts=True)
        assert result.committed == result.accepted == result.submitted > 100
        assert result.failed == {}  # every step came a second after the one before: all succeed
        assert result.committed_in_window >= result.ok_in_window > 0
        # An accept of an order that does not exist: admitted, committed, and failed on chain.
        merchant = MarketPlan.make(CHAIN, 10, 24, 2, "bench/market").lanes[0].merchants[0]
        async with NodeClient(url) as client:
            account = await client.account(merchant.public_key.hex())
        bogus = sign_transaction(merchant, CHAIN, int(account["nonce"]), 10, OrderAccept(b"\x01" * 32))
        failed = await run_load([url], [[(0.0, bogus)]], batch=1, watch_seconds=30, receipts=True)
        assert failed.committed == 1
        assert sum(failed.failed.values()) == 1 and failed.ok_in_window == 0
    finally:
        await node.stop()


def test_node_settings_are_checked_as_a_node_checks_them() -> None:
    assert node_settings({"block_budget_ms": "900"})["block_budget_ms"] == 900
    assert node_settings({})["log_level"] == "warning"
    with pytest.raises(ValueError, match="unknown setting 'no_such_key'"):
        node_settings({"no_such_key": 1})
    with pytest.raises(ValueError, match="min_block_interval_ms"):
        node_settings({"min_block_interval_ms": 0})
    assert parse_sets(["a=1", " b = x "]) == {"a": "1", "b": "x"}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_sets(["nokey"])


def test_the_trend_sees_growth_and_flatness() -> None:
    flat = fit([(t, 100.0 + (t % 3)) for t in range(0, 600, 10)])
    assert abs(flat.growth) < 0.02 and flat.max_min_ratio == pytest.approx(102 / 100)
    growing = fit([(t, 100.0 + t / 10) for t in range(0, 600, 10)])
    assert growing.growth == pytest.approx(59 / 100)
    assert growing.as_dict()["slope_mib_per_min"] == pytest.approx(6 / 2**20, abs=1e-4)
    with pytest.raises(ValueError):
        fit([(1.0, 5.0), (1.0, 6.0)])


def test_the_soak_fails_on_growth_or_on_no_samples() -> None:
    steady = {"v0": {"growth": 0.02}, "v1": {"growth": -0.01}}
    assert flat(steady, 0.10)
    assert not flat({**steady, "v2": {"growth": 0.11}}, 0.10)
    assert not flat({"v0": {"samples": 1, "growth": None}}, 0.10)
    assert not flat({}, 0.10)


def test_the_soak_verdict_is_on_anonymous_rss_and_reports_every_series() -> None:
    # anon flat at 100 MiB; file-backed (page cache of LevelDB tables) doubles: passes, says so
    anon = [(float(t), 100.0 * 2**20) for t in range(0, 600, 10)]
    cache = [(float(t), (20.0 + t / 20) * 2**20) for t in range(0, 600, 10)]
    total = [(t, a + c) for (t, a), (_, c) in zip(anon, cache, strict=True)]
    series = {"total": {"v0": total}, "anon": {"v0": anon}, "file": {"v0": cache}}
    trends = {part: fit_window(s, 60, 600) for part, s in series.items()}
    assert trends["anon"]["v0"]["samples"] == 54 and trends["file"]["v0"]["growth"] > 1
    judged = verdict(trends, 0.10)
    assert judged == {
        "rss_flat": False, "rss_anon_flat": True, "rss_file_flat": False, "verdict_on": "rss_anon", "passed": True
    }  # fmt: skip
    # the heap grows 20 %: fails, whatever the page cache does
    growing = {**series, "anon": {"v0": [(t, v * (1 + t / 3000)) for t, v in anon]}}
    assert not verdict({part: fit_window(s, 60, 600) for part, s in growing.items()}, 0.10)["passed"]
    # a node without samples in the window fails too
    assert not verdict({part: fit_window(s, 700, 800) for part, s in series.items()}, 0.10)["passed"]
