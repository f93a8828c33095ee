"""`python -m bench`: run Agora's benchmarks and print the results (JSON with --json)."""

from __future__ import annotations

import argparse
import json
import sys

from bench.single import run_restart, run_single_node
from bench.sync import run_sync
from bench.testnet import run_testnet


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
        report = run_restart(args.txs).as_dict()
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
