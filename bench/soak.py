"""Soak: a testnet under steady open-loop load for minutes, each node's RSS sampled; is memory flat?

Each node's RSS is sampled as its two parts (Linux ``RssAnon`` and ``RssFile``) and a trend is
fitted to each part and to their sum. The verdict is on the anonymous part: the heap, which
only the process can give back. ``RssFile`` is the page cache of LevelDB's table files that
the node maps and reads; it grows with the chain on disk by design and the kernel reclaims it
under pressure, so it is reported beside the verdict (with the total) but does not decide it.
See docs/PERFORMANCE.md, *Soak memory*.
"""

from __future__ import annotations

import csv
import shutil
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
"""Fitted anonymous-RSS growth after warm-up above which the soak fails."""
PARTS = ("total", "anon", "file")
"""The RSS series fitted per node: RssAnon + RssFile, RssAnon, RssFile."""
VERDICT_ON = "anon"
"""The series the pass/fail verdict is on (see the module docstring)."""


class RssSampler(threading.Thread):
    """Writes every node's RSS to a CSV file every ``interval`` seconds (elapsed_s, node, rss, anon, file)."""

    def __init__(self, pids: Sequence[int], names: Sequence[str], out: Path, interval: float) -> None:
        super().__init__(daemon=True, name="rss-sampler")
        self.pids, self.names, self.out, self.interval = list(pids), list(names), out, interval
        self.samples: dict[str, dict[str, list[tuple[float, float]]]] = {
            part: {n: [] for n in self.names} for part in PARTS
        }
        """part ("total", "anon", "file") -> node -> (elapsed s, bytes)."""
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
                    for part, value in zip(PARTS, (anon + mapped, anon, mapped), strict=True):
                        self.samples[part][name].append((elapsed, float(value)))
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


def verdict(trends: Mapping[str, Mapping[str, Mapping[str, Any]]], max_growth: float) -> dict[str, Any]:
    """Each series' flatness (``rss_flat`` is the total's, ``rss_anon_flat``, ``rss_file_flat``) and
    ``passed``: the verdict, on the anonymous series only (``verdict_on``)."""
    flags = {("rss" if part == "total" else f"rss_{part}") + "_flat": flat(trends[part], max_growth) for part in PARTS}
    return {**flags, "verdict_on": f"rss_{VERDICT_ON}", "passed": flags[f"rss_{VERDICT_ON}_flat"]}


@dataclass(frozen=True, slots=True)
class SoakReport:
    """The load figures of the soak and each node's RSS trends after warm-up."""

    load: LoadReport
    rss_file: Path
    warmup: float
    trends: dict[str, dict[str, dict[str, Any]]]
    """part ("total", "anon", "file") -> node -> fitted trend."""
    max_growth: float
    capacity: float
    share: float

    @property
    def passed(self) -> bool:
        """Every node's fitted anonymous-RSS growth after warm-up is at most ``max_growth``."""
        return bool(verdict(self.trends, self.max_growth)["passed"])

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able summary: every trend (total, anon, file), each one's flatness, the verdict."""
        return {
            "scenario": "soak",
            **machine(),
            "capacity_tps": self.capacity,
            "load_share": self.share,
            "rss_file": str(self.rss_file),
            "rss_warmup_s": self.warmup,
            "rss_max_growth": self.max_growth,
            "rss_by_node": self.trends["total"],
            "rss_anon_by_node": self.trends["anon"],
            "rss_file_by_node": self.trends["file"],
            **verdict(self.trends, self.max_growth),
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
    diagnostics: Path | None = None,
) -> SoakReport:
    """Load a ``validators``-node testnet at ``share`` x ``capacity`` tx/s for ``spec.seconds``.

    ``spec.rate`` is ignored (the rate is share x capacity); schedules are signed as they are
    sent, so a long soak holds only what is in flight. Each node's RSS goes to ``out`` every
    ``sample_seconds``; the trend is fitted over the samples of the load's steady window
    (after ``spec``'s warm-up, before the drain). With ``diagnostics``, each node's memory
    diagnostics (``memstats.csv``, ``tracemalloc.log``: written when ``AGORA_MEMSTATS`` /
    ``AGORA_TRACEMALLOC`` is in the environment) and its log (``node.out``) are copied there
    as ``<node>-<file>`` before the testnet is removed.
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
            if diagnostics is not None:
                copy_diagnostics([(n.name, n.datadir) for n in net.nodes], diagnostics)
    # The sampler's clock starts before the setup: the warm-up counts from the load's start.
    started = result.started_at - sampler.t0
    trends = {
        part: fit_window(series, started + window[0], started + window[1]) for part, series in sampler.samples.items()
    }
    load = LoadReport(
        f"soak-{validators}-validators",
        result.submitted,
        spec.rate,
        result,
        validators,
        extra={**spec.describe(), "validators": validators, "node_settings": config},
    )
    return SoakReport(load, out, window[0], trends, max_growth, capacity, share)


DIAGNOSTIC_FILES = ("memstats.csv", "tracemalloc.log", "node.out")
"""The files a node's memory diagnostics write in its datadir (node/memstats.py, node/memdiag.py),
and its log (bench/nodeproc.py): what it did when a minute's latency jumps."""


def copy_diagnostics(nodes: Sequence[tuple[str, Path]], out: Path) -> list[Path]:
    """Copy each (name, datadir)'s diagnostic files that exist into ``out`` as ``<name>-<file>``."""
    out.mkdir(parents=True, exist_ok=True)
    copied = []
    for name, datadir in nodes:
        for file in DIAGNOSTIC_FILES:
            if (datadir / file).is_file():
                target = out / f"{name}-{file}"
                shutil.copyfile(datadir / file, target)
                copied.append(target)
    return copied


def fit_window(
    series: Mapping[str, Sequence[tuple[float, float]]], start: float, end: float
) -> dict[str, dict[str, Any]]:
    """Each node's trend over its samples in [start, end] (a node with too few: growth None)."""
    trends: dict[str, dict[str, Any]] = {}
    for name, points in series.items():
        after = [(t, v) for t, v in points if start <= t <= end]
        try:
            trends[name] = fit(after).as_dict()
        except ValueError:
            trends[name] = {"samples": len(after), "growth": None}
    return trends


def _fields(spec: LoadSpec) -> dict[str, Any]:
    return {name: getattr(spec, name) for name in spec.__dataclass_fields__}
