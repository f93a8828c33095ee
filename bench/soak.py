"""Soak: a testnet under steady open-loop load for minutes, each node's RSS sampled; is memory flat?"""

from __future__ import annotations

import csv
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import procstat
from bench.load import LoadSpec, build_workload, run_workload
from bench.measure import LoadReport, machine
from bench.settings import node_settings
from bench.testnet import CHAIN_ID, testnet_running
from bench.trend import fit

MAX_GROWTH = 0.10
"""Fitted RSS growth after warm-up above which the soak fails."""


class RssSampler(threading.Thread):
    """Writes every node's RSS to a CSV file every ``interval`` seconds (elapsed_s, node, rss, anon, file)."""

    def __init__(self, pids: Sequence[int], names: Sequence[str], out: Path, interval: float) -> None:
        super().__init__(daemon=True, name="rss-sampler")
        self.pids, self.names, self.out, self.interval = list(pids), list(names), out, interval
        self.samples: dict[str, list[tuple[float, float]]] = {n: [] for n in self.names}
        self._stop_event = threading.Event()
        self.t0 = time.perf_counter()

    def run(self) -> None:
        """Sample until stopped (a node that exited is skipped)."""
        with self.out.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["elapsed_s", "node", "rss_bytes", "rss_anon_bytes", "rss_file_bytes"])
            while True:
                elapsed = time.perf_counter() - self.t0
                for pid, name in zip(self.pids, self.names, strict=True):
                    try:
                        anon, mapped = procstat.rss(pid)
                    except OSError:
                        continue
                    self.samples[name].append((elapsed, float(anon + mapped)))
                    writer.writerow([round(elapsed, 2), name, anon + mapped, anon, mapped])
                f.flush()
                if self._stop_event.wait(self.interval):
                    return

    def stop(self) -> None:
        """Stop sampling and wait for the file to be closed."""
        self._stop_event.set()
        self.join()


def flat(trends: Mapping[str, Mapping[str, Any]], max_growth: float) -> bool:
    """True if there is a trend and no node's fitted growth exceeds ``max_growth`` (a node
    with too few samples to fit fails: a soak that measured nothing has not passed)."""
    return bool(trends) and all(t.get("growth") is not None and t["growth"] <= max_growth for t in trends.values())


@dataclass(frozen=True, slots=True)
class SoakReport:
    """The load figures of the soak and each node's RSS trend after warm-up."""

    load: LoadReport
    rss_file: Path
    warmup: float
    trends: dict[str, dict[str, Any]]
    max_growth: float
    capacity: float
    share: float

    @property
    def passed(self) -> bool:
        """Every node's fitted RSS growth after warm-up is at most ``max_growth``."""
        return flat(self.trends, self.max_growth)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able summary."""
        return {
            "scenario": "soak",
            **machine(),
            "capacity_tps": self.capacity,
            "load_share": self.share,
            "rss_file": str(self.rss_file),
            "rss_warmup_s": self.warmup,
            "rss_max_growth": self.max_growth,
            "rss_by_node": self.trends,
            "rss_flat": self.passed,
            "load": self.load.as_dict(),
        }


def run_soak(
    validators: int,
    capacity: float,
    spec: LoadSpec,
    out: Path,
    share: float = 0.7,
    sample_seconds: float = 10.0,
    settings: Mapping[str, object] | None = None,
    max_growth: float = MAX_GROWTH,
) -> SoakReport:
    """Load a ``validators``-node testnet at ``share`` x ``capacity`` tx/s for ``spec.seconds``.

    ``spec.rate`` is ignored (the rate is share x capacity); schedules are signed as they are
    sent, so a long soak holds only what is in flight. Each node's RSS goes to ``out`` every
    ``sample_seconds``; the trend is fitted over the samples of the load's steady window
    (after ``spec``'s warm-up, before the drain).
    """
    if not 0 < share <= 2 or not 0.1 <= sample_seconds <= 600:
        raise ValueError("--share must be in (0, 2] and --sample-seconds in [0.1, 600]")
    spec = LoadSpec(**{**_fields(spec), "rate": capacity * share})
    config = node_settings({"min_block_interval_ms": 100, "heartbeat_interval_ms": 1000}, settings or {})
    work = build_workload(spec, CHAIN_ID)
    window = spec.window
    assert window is not None
    out.parent.mkdir(parents=True, exist_ok=True)
    with testnet_running(validators, work.funded, config) as (net, procs):
        sampler = RssSampler([p.pid for p in procs], [n.name for n in net.nodes], out, sample_seconds)
        sampler.start()
        try:
            result = run_workload([n.api_url for n in net.nodes], [p.pid for p in procs], spec, work)
        finally:
            sampler.stop()
    # The sampler's clock starts before the setup: the warm-up counts from the load's start.
    started = result.started_at - sampler.t0
    trends: dict[str, dict[str, Any]] = {}
    for name, points in sampler.samples.items():
        after = [(t, v) for t, v in points if started + window[0] <= t <= started + window[1]]
        try:
            trends[name] = fit(after).as_dict()
        except ValueError:
            trends[name] = {"samples": len(after), "growth": None}
    load = LoadReport(
        f"soak-{validators}-validators",
        result.submitted,
        spec.rate,
        result,
        validators,
        extra={**spec.describe(), "validators": validators, "node_settings": config},
    )
    return SoakReport(load, out, window[0], trends, max_growth, capacity, share)


def _fields(spec: LoadSpec) -> dict[str, Any]:
    return {name: getattr(spec, name) for name in spec.__dataclass_fields__}
