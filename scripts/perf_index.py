"""CPU time of the node's block indexers (market indexes + KPI counters + account history) per block.

Commits a seeded market mix (tests/node/index_chain_kit.py: 4 lanes x 100 tx/s, one-second
blocks, then two blocks days later that time orders out) into a fresh LevelDB store per
round, timing only ``Indexers.index_writes`` with ``time.process_time``; prints the fastest
round in ms per block. Run: ``.venv/bin/python scripts/perf_index.py [--rounds 5]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "node"))

from index_chain_kit import run_chain


def main() -> None:
    """Print {"ms_per_block": fastest, "rounds": [...], "blocks": n, "txs": n} as JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--lanes", type=int, default=4)
    parser.add_argument("--rate", type=float, default=100.0, help="transactions a second per lane")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    rounds = []
    blocks = txs = 0
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            chain = run_chain(Path(tmp) / "db", args.lanes, args.rate, args.seconds, seed="perf-index")
            chain.store.close()
            rounds.append(round(chain.index_cpu * 1000 / chain.blocks, 3))
            blocks, txs = chain.blocks, chain.txs
    print(json.dumps({"ms_per_block": min(rounds), "rounds": rounds, "blocks": blocks, "txs": txs}))


if __name__ == "__main__":
    main()
