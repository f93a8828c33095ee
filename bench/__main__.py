"""`python -m bench`: run Agora's benchmarks and print the results (JSON with --json)."""

from __future__ import annotations

import argparse
import json
import sys

from bench.single import run_single_node


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
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    if args.scenario == "single":
        report = run_single_node(args.txs, args.accounts, args.lanes, args.batch, args.block_interval_ms).as_dict()
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
