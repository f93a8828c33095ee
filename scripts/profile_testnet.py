"""Profile a 4-validator testnet under open-loop load: py-spy on every node, CPU per committed tx.

``.venv/bin/python scripts/profile_testnet.py OUT TXS RATE SECONDS [ACCOUNTS]`` starts the
testnet as ``bench/testnet.py`` does (its helpers), attaches ``py-spy record --format raw``
(50 Hz, ``SECONDS`` long) to each node, offers ``TXS`` transfers at ``RATE`` tx/s in batches
of 100 over 8 lanes, and writes ``OUT/node<i>.txt`` (collapsed stacks) and
``OUT/report.json`` (the bench's summary plus each node's CPU seconds over the load and the
CPU per committed transaction). ``scripts/pyspy_groups.py`` summarises the stacks.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.measure import LoadReport, RunResult, run_load
from bench.nodeproc import start_node, stop_nodes
from bench.workload import make_accounts, transfer_lanes
from node.client import NodeClient
from node.testnet import init_testnet


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    """Run the profile described in the module docstring."""
    out, txs, rate, seconds = Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    accounts = int(sys.argv[5]) if len(sys.argv) > 5 else 4000
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    out.mkdir(parents=True, exist_ok=True)
    keys = make_accounts(accounts, "bench")
    with tempfile.TemporaryDirectory(prefix="agora-prof-") as tmp:
        net = init_testnet(
            Path(tmp) / "net",
            4,
            0,
            chain_id="agora-bench",
            min_block_interval_ms=100,
            heartbeat_interval_ms=1000,
            extra_balances={k.public_key: 10**15 for k in keys},
            node_config={"mempool_max_txs": max(20_000, txs * 2), "log_level": "warning"},
        )
        password = net.password_file.read_text().strip()
        urls = [n.api_url for n in net.nodes]
        work = transfer_lanes(net.chain_id, keys, txs, 8, fee=10)
        procs = [start_node(n.datadir, password) for n in net.nodes]
        try:

            async def ready() -> None:
                for url in urls:
                    async with NodeClient(url) as client:
                        await client.wait_ready(60.0)

            asyncio.run(ready())
            before = [_cpu_seconds(p.pid) for p in procs]
            spies = [
                subprocess.Popen(
                    [
                        spy,
                        "record",
                        "--pid",
                        str(p.pid),
                        "--format",
                        "raw",
                        "-r",
                        "50",
                        "-d",
                        str(seconds),
                        "--nonblocking",
                        "-o",
                        str(out / f"node{i}.txt"),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for i, p in enumerate(procs)
            ]
            result: RunResult = asyncio.run(run_load(urls, work, batch=100, rate=rate))
            cpu = [_cpu_seconds(p.pid) - b for p, b in zip(procs, before, strict=True)]
            for s in spies:
                s.wait()
        finally:
            stop_nodes(procs)
    report = LoadReport("profile-testnet-4", txs, rate, result, verifying_nodes=4).as_dict()
    report["node_cpu_s"] = [round(c, 2) for c in cpu]
    report["cpu_ms_per_committed_tx_all_nodes"] = round(1000 * sum(cpu) / max(1, result.committed), 3)
    (out / "report.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
