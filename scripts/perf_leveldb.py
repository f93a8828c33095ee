"""LevelDB's memory per open table, and what a smaller table cache costs in CPU, on a real chain.

Give it a stopped node's datadir (``--datadir``; a copy of a soak node's works). For each
``--max-open-files`` value, a fresh process (``--child``) opens the datadir's database with
the store's options and measures, in this order:

1. heap: glibc's in-use + mapped bytes (``mallinfo2``) after opening, then after one scan of
   every key (which opens every table, up to the cache's capacity), divided by the tables it
   left mapped: LevelDB's heap per open table (its index block, decompressed);
2. CPU time (``time.process_time``) of three readers of old data, each run twice (cold, then
   steady): ``sync``, the stored block and certificate of ``--blocks`` consecutive heights (what a
   node serves a syncing peer); ``proofs``, ``--proofs`` state proofs of seeded random
   balances at seeded random retained heights (``ChainStore.state_at``); ``txs``, ``--txs``
   seeded random committed transactions by hash (``ChainStore.tx``).

The values are interleaved over ``--rounds`` and the median per value is printed as JSON.
Run: ``.venv/bin/python scripts/perf_leveldb.py --datadir D --max-open-files 1000,256,74``.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from node.datadir import open_datadir
from node.memstats import malloc_info
from node.service import DEFAULT_REGISTRY
from storage import keys as k
from storage.store import ChainStore, DbOptions, leveldb_stats, open_db


def _heap() -> int:
    info = malloc_info()
    return 0 if info is None else info.in_use_bytes + info.mmapped_bytes


def _mapped(db_path: Path) -> int:
    names = {line.split()[-1] for line in Path("/proc/self/maps").read_text().splitlines() if str(db_path) in line}
    return sum(1 for name in names if name.endswith(".ldb"))


def sample_inputs(datadir: Path, proofs: int, txs: int, seed: int) -> dict[str, Any]:
    """Seeded random (height, state key) pairs and transaction hashes of the chain in ``datadir``."""
    opened = open_datadir(datadir)
    store = ChainStore.open(opened.db_path, opened.genesis, DEFAULT_REGISTRY)
    try:
        rng = random.Random(seed)
        keys = [key for key, _ in store.state_items(b"bal/")]
        hashes: list[bytes] = []
        seen = 0
        with store._db.iterator(prefix=k.TX_PREFIX, include_value=False) as it:
            for key in it:  # reservoir sample
                seen += 1
                if len(hashes) < txs:
                    hashes.append(key[len(k.TX_PREFIX) :])
                elif (j := rng.randrange(seen)) < txs:
                    hashes[j] = key[len(k.TX_PREFIX) :]
        lo, hi = max(1, store.oldest_state_height), store.height
        pairs = [(rng.randint(lo, hi), rng.choice(keys).hex()) for _ in range(proofs)]
        return {"head": hi, "pairs": pairs, "txs": [h.hex() for h in hashes]}
    finally:
        store.close()


def child(datadir: Path, max_open_files: int, inputs: dict[str, Any], blocks: int) -> dict[str, Any]:
    """The measurements of one process (see the module docstring)."""
    opened = open_datadir(datadir)
    options = DbOptions(max_open_files=max_open_files)
    before = _heap()
    db = open_db(opened.db_path, options)
    after_open = _heap()
    with db.iterator(fill_cache=False) as it:
        keys = sum(1 for _ in it)
    scanned = _heap()
    mapped = _mapped(opened.db_path)
    tables = leveldb_stats(db).tables
    db.close()
    out: dict[str, Any] = {
        "max_open_files": max_open_files,
        "tables": tables,
        "keys": keys,
        "mapped_after_scan": mapped,
        "heap_open_mib": (after_open - before) / 2**20,
        "heap_scanned_mib": (scanned - before) / 2**20,
        "heap_per_open_table_kib": (scanned - after_open) / max(1, mapped) / 1024,
    }
    store = ChainStore.open(opened.db_path, opened.genesis, DEFAULT_REGISTRY, db_options=options)
    try:
        head = inputs["head"]
        blocks = max(1, min(blocks, head - 1))
        start = 1 + (head - blocks) // 2
        pairs = [(h, bytes.fromhex(key)) for h, key in inputs["pairs"]]
        hashes = [bytes.fromhex(h) for h in inputs["txs"]]
        for attempt in ("cold", "steady"):
            t = time.process_time()
            for height in range(start, start + blocks):
                assert store.block_bytes(height) is not None and store.commit_bytes(height) is not None
            out[f"sync_{attempt}_us_per_block"] = (time.process_time() - t) / blocks * 1e6
            t = time.process_time()
            for height, key in pairs:
                store.state_at(key, height)
            out[f"proofs_{attempt}_us"] = (time.process_time() - t) / max(1, len(pairs)) * 1e6
            t = time.process_time()
            for tx_hash in hashes:
                assert store.tx(tx_hash) is not None
            out[f"txs_{attempt}_us"] = (time.process_time() - t) / max(1, len(hashes)) * 1e6
        out["mapped_at_end"] = _mapped(opened.db_path)
    finally:
        store.close()
    return out


def main() -> None:
    """Parse the flags; run the children interleaved (or be one) and print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datadir", type=Path, required=True)
    parser.add_argument("--max-open-files", default="1000,256,74")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--blocks", type=int, default=2000)
    parser.add_argument("--proofs", type=int, default=3000)
    parser.add_argument("--txs", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    values = [int(v) for v in args.max_open_files.split(",")]
    if args.child is not None:
        inputs = json.loads(args.child.read_text())
        print(json.dumps(child(args.datadir, values[0], inputs, args.blocks)))
        return
    inputs_file = args.datadir / "perf_leveldb_inputs.json"
    inputs_file.write_text(json.dumps(sample_inputs(args.datadir, args.proofs, args.txs, args.seed)))
    runs: dict[int, list[dict[str, Any]]] = {v: [] for v in values}
    for _ in range(args.rounds):
        for value in values:
            cmd = [sys.executable, __file__, "--datadir", str(args.datadir), "--max-open-files", str(value)]
            cmd += ["--blocks", str(args.blocks), "--child", str(inputs_file)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=True)
            runs[value].append(json.loads(done.stdout))
    summary = {
        str(v): {key: statistics.median(r[key] for r in rs) for key in rs[0] if key != "max_open_files"}
        for v, rs in runs.items()
    }
    print(json.dumps({"median": summary, "runs": runs}, indent=1))


if __name__ == "__main__":
    main()
