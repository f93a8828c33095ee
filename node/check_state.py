"""``python -m node.check_state --datadir D``: recompute a stopped node's state root from scratch.

Reads every committed state pair, computes the state tree's root in memory
(:func:`chain.state_tree.compute_root`) and compares it with the root the node maintains
incrementally and with the head header's ``state_root``. Exit code 0 when all three agree,
1 when they differ (the database was altered or is corrupt), 2 when the datadir cannot be
opened (for example because the node is running and holds its lock).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from chain.state_tree import compute_root, root_hash
from node.datadir import DatadirError, open_datadir
from node.service import DEFAULT_REGISTRY, db_options_of
from storage.store import ChainStore, StoreError


@dataclass(frozen=True, slots=True)
class StateCheck:
    """The outcome of a from-scratch recomputation."""

    height: int
    keys: int
    recomputed_root: bytes
    tree_root: bytes
    header_root: bytes
    seconds: float

    @property
    def ok(self) -> bool:
        """True when the recomputed, maintained and certified roots are one and the same."""
        return self.recomputed_root == self.tree_root == self.header_root

    def to_json(self) -> dict[str, object]:
        """The JSON form printed with --json."""
        return {
            "ok": self.ok,
            "height": self.height,
            "keys": self.keys,
            "recomputed_root": self.recomputed_root.hex(),
            "tree_root": self.tree_root.hex(),
            "header_root": self.header_root.hex(),
            "seconds": round(self.seconds, 3),
        }


def check_state(store: ChainStore) -> StateCheck:
    """Recompute the head's state root over every state pair of ``store`` and compare."""
    started = time.monotonic()
    items = store.state_items()
    recomputed = compute_root(items)
    header = store.head.header
    header_root = store.genesis.state_root if header is None else header.state_root
    return StateCheck(
        store.height,
        len(items),
        recomputed,
        root_hash(store.state.tree_root),
        header_root,
        time.monotonic() - started,
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point; prints the outcome and returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m node.check_state", description=__doc__.splitlines()[0])
    parser.add_argument("--datadir", type=Path, required=True)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        datadir = open_datadir(args.datadir)
        options = db_options_of(datadir.config)
        store = ChainStore.open(datadir.db_path, datadir.genesis, DEFAULT_REGISTRY, db_options=options)
    except (DatadirError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        result = check_state(store)
    finally:
        store.close()
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        print(f"height {result.height}, {result.keys} state keys, recomputed in {result.seconds:.2f} s")
        print(f"recomputed root  {result.recomputed_root.hex()}")
        print(f"maintained root  {result.tree_root.hex()}")
        print(f"header root      {result.header_root.hex()}")
        if result.ok:
            print("ok: the state matches its certified root")
        else:
            print("MISMATCH: the stored state does not match its certified root", file=sys.stderr)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
