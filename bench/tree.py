"""State-tree benchmarks: cost per written key and bytes of tree per key.

In process, no node: a seeded state of ``keys`` balance-like keys, then ``blocks`` write
sets of ``writes`` keys each (``insert_share`` of them new keys, the rest rewrites of
existing ones), applied with ``chain.state_tree.apply_writes`` over nodes held in a dict.
With ``baseline=REV`` the tree module of that git revision runs the same blocks on its own
copy, interleaved block by block with the current one (alternating which goes first), so
both see the same machine load.
"""

from __future__ import annotations

import random
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import plyvel

from bench.measure import machine
from storage import keys as k
from storage.store import NODE_CACHE_BYTES, DbNodes, NodeCache

REPO = Path(__file__).resolve().parents[1]


def load_tree_module(rev: str | None) -> types.ModuleType:
    """``chain.state_tree`` as it is now (``rev`` None) or as it was at git revision ``rev``."""
    if rev is None:
        import chain.state_tree

        return chain.state_tree
    source = subprocess.run(
        ["git", "show", f"{rev}:chain/state_tree.py"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    name = f"bench_state_tree_{rev.replace('/', '_').replace('-', '_')}"
    module = types.ModuleType(name)
    module.__file__ = f"{rev}:chain/state_tree.py"
    sys.modules[name] = module  # dataclasses look their module up
    exec(compile(source, module.__file__, "exec"), module.__dict__)  # our own history, from git
    return module


class _DictNodes:
    """Tree nodes in a dict (a NodeReader)."""

    def __init__(self) -> None:
        self.nodes: dict[bytes, bytes] = {}

    def get_node(self, node_key: bytes) -> bytes | None:
        return self.nodes.get(node_key)

    def store(self, new_nodes: Mapping[bytes, bytes]) -> None:
        self.nodes.update(new_nodes)

    def close(self) -> None:
        self.nodes.clear()


class _LevelDbNodes:
    """Tree nodes in a fresh LevelDB under the store's layout, read through the store's reader."""

    def __init__(self, path: Path, cache_bytes: int) -> None:
        self.db = plyvel.DB(str(path), create_if_missing=True)
        self.cache = NodeCache(cache_bytes)
        self.reader = DbNodes(self.db, self.cache)

    def get_node(self, node_key: bytes) -> bytes | None:
        return self.reader.get_node(node_key)

    def store(self, new_nodes: Mapping[bytes, bytes]) -> None:
        with self.db.write_batch() as batch:
            for key, value in new_nodes.items():
                batch.put(k.tree_node_key(key), value)
        for key, value in new_nodes.items():  # written through, as ChainStore.commit_block does
            self.cache.put(key, value)

    def close(self) -> None:
        self.db.close()


@dataclass
class _Run:
    """One tree implementation's copy of the state and its timings."""

    name: str
    module: types.ModuleType
    nodes: _DictNodes | _LevelDbNodes
    root: Any = None
    build_seconds: float = 0.0
    block_seconds: list[float] = field(default_factory=list)
    store_seconds: list[float] = field(default_factory=list)
    new_node_bytes: int = 0
    new_nodes: int = 0
    genesis_bytes: int | None = None
    """Bytes on disk of the initial tree alone (one version), in a compacted LevelDB."""

    def apply(self, version: int, writes: dict[bytes, bytes | None], repeat: int = 1) -> float:
        """Apply ``writes`` at ``version``; the fastest of ``repeat`` runs (an update changes nothing in place)."""
        best = float("inf")
        for _ in range(repeat):
            started = time.perf_counter()
            update = self.module.apply_writes(self.nodes, self.root, version, writes)
            best = min(best, time.perf_counter() - started)
        started = time.perf_counter()
        self.nodes.store(update.new_nodes)
        self.store_seconds.append(time.perf_counter() - started)
        self.root = update.root
        if version:
            self.new_nodes += len(update.new_nodes)
            self.new_node_bytes += sum(len(k) + len(v) for k, v in update.new_nodes.items())
        return best


def _key(rng: random.Random) -> bytes:
    return b"b/" + rng.randbytes(32) + b"/AGR"


def _value(rng: random.Random) -> bytes:
    return b"\xcf" + rng.randbytes(8)  # a msgpack u64, as a balance is stored


def _leveldb_bytes(nodes: dict[bytes, bytes]) -> int:
    """Bytes on disk of ``nodes`` written as ``n/<node key>`` into a fresh, compacted LevelDB."""
    with tempfile.TemporaryDirectory(prefix="agora-bench-tree-") as tmp:
        db = plyvel.DB(str(Path(tmp) / "db"), create_if_missing=True)
        try:
            with db.write_batch() as batch:
                for key, value in nodes.items():
                    batch.put(b"n/" + key, value)
            db.compact_range()
        finally:
            db.close()
        return sum(f.stat().st_size for f in (Path(tmp) / "db").iterdir() if f.suffix in (".ldb", ".log"))


def run_tree(
    keys: int,
    writes: int,
    blocks: int,
    insert_share: float,
    baseline: str | None,
    leveldb: bool = False,
    repeat: int = 3,
    seed: int = 1,
) -> dict[str, Any]:
    """Measure the tree on a seeded workload; with ``baseline`` also that revision's tree, interleaved.

    With ``leveldb`` the nodes live in LevelDB: the current tree reads through the store's
    node cache, the baseline (which predates it) reads LevelDB directly.
    """
    rng = random.Random(seed)
    state = {_key(rng): _value(rng) for _ in range(keys)}
    existing = list(state)
    block_writes: list[dict[bytes, bytes | None]] = []
    for _ in range(blocks):
        ws: dict[bytes, bytes | None] = {}
        inserts = int(writes * insert_share)
        for key in rng.sample(existing, writes - inserts):
            ws[key] = _value(rng)
        for _ in range(inserts):
            key = _key(rng)
            ws[key] = _value(rng)
            existing.append(key)
        block_writes.append(ws)
    with tempfile.TemporaryDirectory(prefix="agora-bench-tree-") as tmp:

        def nodes(name: str, cache_bytes: int) -> _DictNodes | _LevelDbNodes:
            return _LevelDbNodes(Path(tmp) / name, cache_bytes) if leveldb else _DictNodes()

        runs = [_Run("current", load_tree_module(None), nodes("current", NODE_CACHE_BYTES))]
        if baseline is not None:
            runs.insert(0, _Run(f"baseline {baseline}", load_tree_module(baseline), nodes("baseline", 0)))
        try:
            for run in runs:
                run.build_seconds = run.apply(0, dict(state))
            if len({run.module.root_hash(run.root) for run in runs}) != 1:
                raise RuntimeError("the implementations disagree on the root of the initial state")
            for run in runs:
                if isinstance(run.nodes, _DictNodes):
                    run.genesis_bytes = _leveldb_bytes(run.nodes.nodes)
            for version, ws in enumerate(block_writes, start=1):
                order = runs if version % 2 else runs[::-1]
                for run in order:
                    run.block_seconds.append(run.apply(version, ws, repeat))
                if len({run.module.root_hash(run.root) for run in runs}) != 1:
                    raise RuntimeError(f"the implementations disagree on the root after block {version}")
        finally:
            for run in runs:
                run.nodes.close()
    report: dict[str, Any] = {
        "scenario": "tree",
        **machine(),
        "nodes_in": "LevelDB (fresh, uncompacted)" if leveldb else "a dict (memory)",
        "keys": keys,
        "writes_per_block": writes,
        "blocks": blocks,
        "insert_share": insert_share,
        "timing": f"fastest of {repeat} runs of each block's update; implementations interleaved",
    }
    for run in runs:
        per_key = [s / writes * 1e6 for s in run.block_seconds]
        figures: dict[str, Any] = {
            "us_per_written_key_median": round(statistics.median(per_key), 2),
            "us_per_written_key_each_block": [round(x, 2) for x in per_key],
            "us_per_key_store_median": round(statistics.median(run.store_seconds[1:]) / writes * 1e6, 2),
            "us_per_key_initial_build": round(run.build_seconds / keys * 1e6, 2),
            "new_node_bytes_per_written_key": round(run.new_node_bytes / (writes * blocks), 1),
            "new_nodes_per_written_key": round(run.new_nodes / (writes * blocks), 2),
        }
        if run.genesis_bytes is not None:
            figures["leveldb_bytes_per_key_one_version"] = round(run.genesis_bytes / keys, 1)
        report[run.name] = figures
    return report
