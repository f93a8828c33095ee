"""`make soak`: the nemesis for SOAK_MINUTES (30 by default), then its figures, ready for docs/RELIABILITY.md.

Runs one nemesis schedule after another (each on a fresh 4-validator netns testnet, 6 faults
drawn at random from every kind, each held 5-15 s) until the time is up. The master seed is
printed and saved; every run's seed derives from it, so ``--seed`` replays the whole soak.
Writes ``<out>/figures.json`` (every run) and ``<out>/RELIABILITY-soak.md`` (a table per
fault: how often, seconds and rounds until the chain committed again after the heal), and
saves the history of every failed run (under ./nemesis-history). Exit code 1 if any run failed.

Run as root: ``make soak`` or ``.venv/bin/python tests/nemesis/soak.py --minutes 30 --out soak``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nemesis import FAULTS
from runner import NemesisFailure, run_nemesis

FAULTS_PER_RUN = 6


async def soak(minutes: float, out: Path, seed: int, faults: list[str]) -> int:
    """Run schedules until ``minutes`` have passed; write the figures; return the number of failed runs."""
    rng = random.Random(seed)
    runs: list[dict[str, Any]] = []
    end = time.monotonic() + minutes * 60
    print(f"soak: master seed {seed}, {minutes:g} minutes, faults {', '.join(faults)}", flush=True)
    while time.monotonic() < end or not runs:
        run_seed = rng.randrange(2**31)
        chosen = [rng.choice(faults) for _ in range(FAULTS_PER_RUN)]
        hold = rng.uniform(5, 15)
        with tempfile.TemporaryDirectory(prefix="agora-soak-") as directory:
            try:
                history = await run_nemesis(Path(directory), run_seed, chosen, hold)
                runs.append({"seed": run_seed, "faults": chosen, "ok": True, **history.figures})
            except NemesisFailure as exc:
                runs.append({"seed": run_seed, "faults": chosen, "ok": False, "failure": str(exc)})
        print(json.dumps(runs[-1])[:400], flush=True)
        _write(out / "figures.json", json.dumps({"master_seed": seed, "minutes": minutes, "runs": runs}, indent=1))
    _write(out / "RELIABILITY-soak.md", markdown(seed, minutes, runs))
    return sum(1 for r in runs if not r["ok"])


def _write(path: Path, text: str) -> None:
    path.write_text(text)


def markdown(seed: int, minutes: float, runs: list[dict[str, Any]]) -> str:
    """The soak's figures as a Markdown section."""
    ok = [r for r in runs if r["ok"]]
    by_fault: dict[str, list[dict[str, Any]]] = {}
    for run in ok:
        for heal in run["heals"]:
            by_fault.setdefault(heal["fault"], []).append(heal)
    lines = [
        f"### Soak: {minutes:g} minutes, master seed {seed}",
        "",
        f"{len(runs)} runs, {len(runs) - len(ok)} failed; {sum(r['acknowledged_txs'] for r in ok)} transfers "
        f"acknowledged and found on every node; {sum(r['height'] for r in ok)} blocks.",
        "",
        "| fault | injected | s to next commit on every node (median / max) | rounds after heal (max) |",
        "| --- | --- | --- | --- |",
    ]
    for fault, heals in sorted(by_fault.items()):
        seconds = [h["seconds_to_commit"] for h in heals if h["seconds_to_commit"] is not None]
        rounds = [h["rounds_after"] for h in heals if h["rounds_after"] is not None]
        median = f"{statistics.median(seconds):.2f}" if seconds else "-"
        worst = f"{max(seconds):.2f}" if seconds else "-"
        lines.append(f"| {fault} | {len(heals)} | {median} / {worst} | {max(rounds) if rounds else '-'} |")
    for run in runs:
        if not run["ok"]:
            lines.append(
                f"\nFailed run, seed {run['seed']} ({', '.join(run['faults'])}):\n\n```\n{run['failure']}\n```"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    """Parse the command line, soak, exit 1 if a run failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--out", type=Path, default=Path("soak"))
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--faults", default=",".join(FAULTS), help="comma-separated fault kinds to draw from")
    args = parser.parse_args()
    seed = secrets.randbelow(2**31) if args.seed is None else args.seed
    faults = [f for f in args.faults.split(",") if f]
    unknown = sorted(set(faults) - set(FAULTS))
    if unknown:
        parser.error(f"unknown faults {unknown}; known: {', '.join(FAULTS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    failed = asyncio.run(soak(args.minutes, args.out, seed, faults))
    print(f"soak: {failed} failed run(s); figures in {args.out}", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
