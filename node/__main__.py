"""``python -m node --datadir D [--api-port P]``: run a node (password from AGORA_PASSWORD or a file).

The process entry point of every node (``agora node run``, ``agora testnet up`` and ``agora demo``
all start it): it mounts the installed API extensions (web/'s explorer and shop, found as
``agora.api_extensions`` entry points) on the node's client API.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from node.daemon import run_node
from node.extensions import ExtensionError, installed_extensions


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the node; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m node", description="Run an Agora node.")
    parser.add_argument("--datadir", type=Path, required=True, help="the node's data directory")
    parser.add_argument("--api-host", default=None, help="address the client API listens on")
    parser.add_argument("--api-port", type=int, default=None, help="port of the client API (0 = any free port)")
    parser.add_argument("--password-file", type=Path, default=None, help="file holding the validator key password")
    parser.add_argument(
        "--peer",
        action="append",
        default=[],
        metavar="URL",
        help="p2p URL of a node to join (repeatable; adds to the seeds of config.toml)",
    )
    parser.add_argument("--p2p-listen", default=None, metavar="HOST:PORT", help="where the p2p endpoints listen")
    parser.add_argument(
        "--archive", action="store_true", help="keep every version of the state (no pruning of old state proofs)"
    )
    args = parser.parse_args(argv)
    password = os.environ.get("AGORA_PASSWORD")
    if args.password_file is not None:
        try:
            password = args.password_file.read_text().rstrip("\r\n")
        except OSError as exc:
            print(f"error: cannot read {args.password_file}: {exc.strerror}", file=sys.stderr)
            return 2
    overrides: dict[str, object] = {"api_host": args.api_host, "api_port": args.api_port, "p2p_listen": args.p2p_listen}
    if args.archive:
        overrides["state_versions_kept"] = 0
    if args.peer:
        overrides["extra_seeds"] = ",".join(args.peer)
    try:
        extensions = installed_extensions()
    except ExtensionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return run_node(args.datadir, password, overrides, extensions)


if __name__ == "__main__":
    sys.exit(main())
