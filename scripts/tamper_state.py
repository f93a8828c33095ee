"""Alter one balance in a STOPPED node's LevelDB, the way a lying node would.

For demonstrations and tests of verification only: it rewrites the account's balance
both in the flat state (what the node's API answers) and in the leaf of the state tree
(what its proofs are built from), leaving every hash untouched. A light client must then
refuse the node's answer, and ``agora node check-state`` reports the mismatch.

    .venv/bin/python scripts/tamper_state.py --datadir testnet/nodes/v3 --address agora1... --amount 999
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from chain.accounts import NATIVE_ASSET, balance_key  # noqa: E402
from chain.address import parse_account  # noqa: E402
from chain.encoding import encode, sha256  # noqa: E402
from chain.state_tree import decode_internal, decode_leaf, encode_leaf, node_key  # noqa: E402
from node.datadir import open_datadir  # noqa: E402
from node.service import DEFAULT_REGISTRY  # noqa: E402
from storage import keys as k  # noqa: E402
from storage.store import ChainStore  # noqa: E402


def main() -> int:
    """Rewrite the balance; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datadir", type=Path, required=True)
    parser.add_argument("--address", required=True)
    parser.add_argument("--amount", type=int, required=True, help="the new balance in minor units")
    parser.add_argument("--asset", default=NATIVE_ASSET)
    args = parser.parse_args()
    datadir = open_datadir(args.datadir)
    store = ChainStore.open(datadir.db_path, datadir.genesis, DEFAULT_REGISTRY)
    db = store._db  # a deliberate back door: this script exists to break what the store guards
    key = balance_key(parse_account(args.address), args.asset)
    value = encode(args.amount)
    path = sha256(key).hex()
    ref = store.state.tree_root
    depth = 0
    while ref is not None and not ref.leaf:
        children = decode_internal(db.get(k.tree_node_key(node_key(ref.version, path[:depth]))))
        ref = children.get(int(path[depth], 16))
        depth += 1
    if ref is None:
        print("error: that account has no balance in that asset to alter", file=sys.stderr)
        return 2
    leaf_key = k.tree_node_key(node_key(ref.version, path[:depth]))
    stored_key, _old = decode_leaf(db.get(leaf_key))
    if stored_key != key:
        print("error: that account has no balance in that asset to alter", file=sys.stderr)
        return 2
    with db.write_batch(sync=True) as batch:
        batch.put(k.state_key(key), value)
        batch.put(leaf_key, encode_leaf(key, value))
    store.close()
    print(f"balance of {args.address} in {args.asset} rewritten to {args.amount} (hashes left as they were)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
