"""Summarise py-spy raw stacks (scripts/profile_testnet.py): cost groups and top self functions.

``.venv/bin/python scripts/pyspy_groups.py 'DIR_A/node*.txt' 'DIR_B/node*.txt' ...`` prints two
markdown tables, one column per glob: the share of samples per cost group (each sample to the
first group one of whose frames is on its stack) and the top functions by self samples.
"""

from __future__ import annotations

import collections
import glob
import sys

GROUPS = [
    ("Ed25519 verification (crypto_sign_open)", ["crypto_sign_open"]),
    ("signing bytes + rest of signature_valid", ["Transaction.signature_valid"]),
    ("state tree (apply_writes)", ["apply_writes"]),
    (
        "block commit (ChainStore.commit_block, WAL)",
        ["ChainStore.commit_block", "BlockExecutor.persist", "FileWalStorage.append"],
    ),
    ("block execution (execute_block/build_block, tx rules)", ["execute_block", "build_block"]),
    ("block decode (decode_block)", ["decode_block"]),
    ("gossip receive: decode", ["decode_batch"]),
    ("mempool admission (add/add_many)", ["Mempool.add_many", "Mempool.add"]),
    ("mempool after commit (on_commit/recheck)", ["Mempool.on_commit"]),
    (
        "thread-pool handoffs (submit, worker wake, futures)",
        [
            "ThreadPoolExecutor.submit",
            "_worker",
            "Future.set_result",
            "_chain_future.<locals>._call_set_state",
            "run_in_executor",
            "to_thread",
            "verify_async",
            "verify_many",
        ],
    ),
    ("client API handlers (post_txs_batch etc.)", ["post_txs_batch", "get_block", "get_head"]),
    ("consensus driver (rest)", ["ConsensusDriver.run"]),
    ("gossip send (reactor flush, switch sender)", ["MempoolReactor.run", "Switch._sender", "Switch._post"]),
    ("p2p receive (rest: HTTP handler, envelopes)", ["Switch.accept_messages", "p2p_routes.<locals>.messages"]),
    (
        "aiohttp request/response plumbing",
        [
            "RequestHandler._handle_request",
            "RequestHandler.start",
            "ClientRequest.write_bytes",
            "StreamWriter",
            "RequestHandler.finish_response",
        ],
    ),
    (
        "event loop (select/run loop/transports)",
        ["EpollSelector.select", "Runner.run", "BaseEventLoop._run_once", "_SelectorSocketTransport"],
    ),
]


def _frames(line: str) -> tuple[list[str], int]:
    stack, _, n = line.rstrip().rpartition(" ")
    return [x.split(" (")[0] for x in stack.split(";")], int(n)


def groups(files: list[str]) -> tuple[collections.Counter[str], int]:
    """Samples per cost group, and the total."""
    c: collections.Counter[str] = collections.Counter()
    total = 0
    for f in files:
        with open(f) as fh:
            for line in fh:
                fr, n = _frames(line)
                total += n
                present = set(fr)
                for name, keys in GROUPS:
                    hit = any(k in present for k in keys) or (
                        name.startswith("aiohttp") and any(x.startswith("StreamWriter") for x in fr)
                    )
                    if (
                        hit
                        and name.startswith("event loop")
                        and fr[-1] not in keys
                        and not fr[-1].startswith("_Selector")
                    ):
                        continue  # the loop group holds only samples whose leaf is the loop itself
                    if hit:
                        c[name] += n
                        break
                else:
                    c["other"] += n
    return c, total


def leaves(files: list[str]) -> tuple[collections.Counter[str], int]:
    """Samples per leaf function (self time), and the total."""
    c: collections.Counter[str] = collections.Counter()
    total = 0
    for f in files:
        with open(f) as fh:
            for line in fh:
                stack, _, n = line.rstrip().rpartition(" ")
                total += int(n)
                leaf = stack.split(";")[-1]
                name, _, rest = leaf.partition(" (")
                path = rest.split(":")[0].split("site-packages/")[-1].split("python3.11/")[-1]
                for root in ("/work/wt-perf/", "/tmp/agora-before/"):
                    path = path.replace(root, "")
                c[f"`{name}` ({path})"] += int(n)
    return c, total


def main() -> None:
    """Print both tables for the globs given."""
    specs = [sorted(glob.glob(s)) for s in sys.argv[1:]]
    cols = [groups(files) for files in specs]
    for name in [g for g, _ in GROUPS] + ["other"]:
        print("| " + name + " | " + " | ".join(f"{100 * c[name] / t:.1f} %" for c, t in cols) + " |")
    print("| samples | " + " | ".join(str(t) for _, t in cols) + " |")
    print()
    tops = [leaves(files) for files in specs]
    keys = [k for k, _ in tops[0][0].most_common(18)]
    keys += [k for k, _ in tops[-1][0].most_common(18) if k not in keys]
    for k in keys:
        print("| " + k + " | " + " | ".join(f"{100 * c[k] / t:.1f} %" for c, t in tops) + " |")


if __name__ == "__main__":
    main()
