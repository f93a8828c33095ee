"""Operator diagnostic: where a node's Python memory grows (``AGORA_TRACEMALLOC``, off by default).

With ``AGORA_TRACEMALLOC=SECONDS`` in its environment, a node starts :mod:`tracemalloc` and,
every SECONDS, appends to ``<datadir>/tracemalloc.log`` the source lines whose live
allocations grew most since the first snapshot (taken one interval after start, so the
start-up allocations are the baseline), with the process's RssAnon beside. Tracing costs CPU
(allocation-heavy code runs up to ~2x slower) and memory (a few tens of bytes per live
block): it is for finding a leak, not for production. ``AGORA_TRACEMALLOC_FRAMES`` (default
1) keeps that many frames per allocation, to group by caller chains. README.md, *Operator
diagnostic*, says how to use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import tracemalloc
from collections.abc import Mapping
from pathlib import Path

log = logging.getLogger("agora.memdiag")
ENV_INTERVAL = "AGORA_TRACEMALLOC"
ENV_FRAMES = "AGORA_TRACEMALLOC_FRAMES"
TOP_LINES = 25
"""Source lines written per snapshot."""


def interval_from(env: Mapping[str, str]) -> float | None:
    """The snapshot interval ``env`` asks for (seconds, >= 1), or None when the diagnostic is off.

    Raises ValueError on a value that is not a number >= 1 (a typo must not pass silently).
    """
    return seconds_from(env, ENV_INTERVAL, "snapshots")


def seconds_from(env: Mapping[str, str], name: str, between: str) -> float | None:
    """The seconds (>= 1) that ``env[name]`` asks for between ``between``, or None when unset or blank.

    Raises ValueError, naming the variable and what it times, on a value that is not a number >= 1.
    """
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r}: expected seconds between {between} (>= 1)") from None
    if not seconds >= 1:
        raise ValueError(f"{name}={raw!r}: expected seconds between {between} (>= 1)")
    return seconds


def frames_from(env: Mapping[str, str]) -> int:
    """Frames kept per traced allocation (``AGORA_TRACEMALLOC_FRAMES``, 1..50, default 1)."""
    raw = env.get(ENV_FRAMES, "").strip() or "1"
    if not raw.isdigit() or not 1 <= int(raw) <= 50:
        raise ValueError(f"{ENV_FRAMES}={raw!r}: expected an integer in 1..50")
    return int(raw)


def rss_anon_kib() -> int:
    """This process's RssAnon in KiB (0 where /proc is missing)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    return 0


def report(baseline: tracemalloc.Snapshot, now: tracemalloc.Snapshot, elapsed: float, top: int = TOP_LINES) -> str:
    """A text block: traced total, RssAnon, and the ``top`` lines that grew most since ``baseline``."""
    key = "traceback" if tracemalloc.get_traceback_limit() > 1 else "lineno"
    diffs = now.compare_to(baseline, key)
    traced, peak = tracemalloc.get_traced_memory()
    lines = [
        f"--- t={elapsed:.0f}s traced={traced / 2**20:.1f}MiB peak={peak / 2**20:.1f}MiB "
        f"rss_anon={rss_anon_kib() / 1024:.1f}MiB"
    ]
    for stat in sorted(diffs, key=lambda s: s.size_diff, reverse=True)[:top]:
        where = " <- ".join(f"{f.filename}:{f.lineno}" for f in stat.traceback)
        lines.append(
            f"{stat.size_diff / 1024:+10.1f} KiB {stat.count_diff:+8d} blocks (now {stat.size / 1024:.1f} KiB) {where}"
        )
    return "\n".join(lines) + "\n"


async def run(out: Path, interval: float, frames: int, stop: asyncio.Event) -> None:
    """Trace allocations and append a growth report to ``out`` every ``interval`` s until ``stop``."""
    tracemalloc.start(frames)
    t0 = time.monotonic()
    log.warning("tracemalloc diagnostic on: a report every %g s in %s (slows the node)", interval, out)
    baseline: tracemalloc.Snapshot | None = None
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
            snap = await asyncio.to_thread(tracemalloc.take_snapshot)
            snap = snap.filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
            if baseline is None:
                baseline = snap
                continue
            text = await asyncio.to_thread(report, baseline, snap, time.monotonic() - t0)
            with out.open("a") as f:
                f.write(text)
    finally:
        tracemalloc.stop()
