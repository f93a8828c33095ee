"""`python -m bench`: run Agora's benchmarks and print the results (JSON with --json)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.proofs import run_proofs_node, run_proofs_tree
from bench.single import run_restart, run_single_node
from bench.sync import run_sync
from bench.testnet import run_testnet
from bench.tree import run_tree


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the chosen scenario, print its summary."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    sub = parser.add_subparsers(dest="scenario", required=True)
    single = sub.add_parser("single", help="one validator: admit and commit signed transfers")
    single.add_argument("--txs", type=int, default=20_000, help="transfers to send")
    single.add_argument("--accounts", type=int, default=2_000, help="funded sender accounts")
    single.add_argument("--lanes", type=int, default=4, help="concurrent submitters")
    single.add_argument("--batch", type=int, default=500, help="transactions per batch request")
    single.add_argument("--block-interval-ms", type=int, default=100, help="minimum block interval")
    net = sub.add_parser("testnet", help="a local testnet of validator processes: committed throughput and latency")
    net.add_argument("--validators", type=int, default=4, help="validators (each a process)")
    net.add_argument("--txs", type=int, default=20_000, help="transfers to send")
    net.add_argument("--accounts", type=int, default=2_000, help="funded sender accounts")
    net.add_argument("--lanes", type=int, default=8, help="concurrent submitters, spread over the nodes")
    net.add_argument("--batch", type=int, default=500, help="transactions per batch request")
    sync = sub.add_parser("sync", help="a fresh follower syncs a history of signed transfers")
    sync.add_argument("--txs", type=int, default=20_000, help="transfers in the history")
    sync.add_argument("--accounts", type=int, default=2_000, help="funded sender accounts")
    restart = sub.add_parser("restart", help="commit a long chain on one validator, then time its restart")
    restart.add_argument("--txs", type=int, default=100_000, help="transfers in the chain")
    restart.add_argument("--keep", type=Path, default=None, help="build the chain here and keep it, or reuse it")
    restart.add_argument("--restarts", type=int, default=1, help="restarts to time (the median is reported)")
    tree = sub.add_parser("tree", help="in process: state-tree cost per written key and bytes of tree per key")
    tree.add_argument("--keys", type=int, default=100_000, help="keys in the state before the blocks")
    tree.add_argument("--writes", type=int, default=15_000, help="written keys per block")
    tree.add_argument("--blocks", type=int, default=6, help="blocks to apply")
    tree.add_argument("--insert-share", type=float, default=0.1, help="share of the writes that add new keys")
    tree.add_argument("--baseline", default=None, help="also run this git revision's tree, interleaved")
    tree.add_argument("--leveldb", action="store_true", help="keep the nodes in LevelDB instead of a dict")
    tree.add_argument(
        "--repeat", type=int, default=3, help="time each block's update this many times, keep the fastest"
    )
    proofs = sub.add_parser("proofs", help="in process: state-proof service time over loopback HTTP, real LevelDB")
    proofs.add_argument("--setup", choices=("node", "tree"), default="tree", help="a real node, or the tree alone")
    proofs.add_argument("--keys", type=int, default=1_000_000, help="state keys (node: at most 100,000)")
    proofs.add_argument("--block", type=int, default=100_000, help="tree setup: keys written per version")
    proofs.add_argument("--requests", type=int, default=5_000, help="proof requests, one in flight")
    for scenario in (single, net):
        scenario.add_argument("--rate", type=float, default=None, help="offered tx/s, evenly paced (default: a burst)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    if args.scenario == "single":
        report = run_single_node(
            args.txs, args.accounts, args.lanes, args.batch, args.block_interval_ms, args.rate
        ).as_dict()
    elif args.scenario == "testnet":
        report = run_testnet(args.validators, args.txs, args.accounts, args.lanes, args.batch, args.rate).as_dict()
    elif args.scenario == "restart":
        report = run_restart(args.txs, args.keep, args.restarts).as_dict()
    elif args.scenario == "tree":
        report = run_tree(
            args.keys, args.writes, args.blocks, args.insert_share, args.baseline, args.leveldb, args.repeat
        )
    elif args.scenario == "proofs":
        if args.setup == "node":
            report = run_proofs_node(args.keys, args.requests)
        else:
            report = run_proofs_tree(args.keys, args.block, args.requests)
    elif args.scenario == "sync":
        report = run_sync(args.txs, args.accounts).as_dict()
    else:  # pragma: no cover - argparse rejects other values
        parser.error(f"unknown scenario {args.scenario}")
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        width = max(len(k) for k in report)
        for key, value in report.items():
            print(f"{key:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
