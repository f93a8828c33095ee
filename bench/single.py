"""Single-node benchmarks: admit and commit signed transfers; restart on a long chain."""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.measure import LoadReport, RunResult, machine, run_load
from bench.nodeproc import nodes_running, start_node, stop_nodes
from bench.workload import make_accounts, transfer_lanes
from chain.keys import PrivateKey
from node.client import NodeClient
from node.datadir import dev_genesis, init_datadir
from node.testnet import free_ports

CHAIN_ID = "agora-bench"
PASSWORD = "bench-password"


@dataclass(frozen=True, slots=True)
class SingleNode:
    """A fresh one-validator datadir with funded benchmark accounts."""

    datadir: Path
    port: int
    keys: list[PrivateKey]
    min_fee: int

    @property
    def url(self) -> str:
        """The node's client API."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def args(self) -> tuple[str, ...]:
        """Command-line arguments that put the node on its port."""
        return ("--api-port", str(self.port))


def prepare_single_node(tmp: Path, accounts: int, txs: int, block_interval_ms: int) -> SingleNode:
    """Write a one-validator datadir funding ``accounts`` accounts, sized for ``txs`` in flight."""
    keys = make_accounts(accounts, "bench")
    validator = PrivateKey.generate()
    genesis = dev_genesis(CHAIN_ID, [validator.public_key], {k.public_key: 10**13 for k in keys})
    datadir = tmp / "node"
    config = {
        "min_block_interval_ms": block_interval_ms,
        "mempool_max_txs": min(1_000_000, max(20_000, txs * 2)),
        "mempool_max_bytes": 1024 * 1024 * 1024,
        "log_level": "warning",
    }
    init_datadir(datadir, genesis, validator, PASSWORD, config)
    return SingleNode(datadir, free_ports(1)[0], keys, genesis.params.min_fee)


async def _load(node: SingleNode, txs: int, lanes: int, batch: int, rate: float | None) -> RunResult:
    work = transfer_lanes(CHAIN_ID, node.keys, txs, lanes, fee=node.min_fee)
    async with NodeClient(node.url) as client:
        await client.wait_ready(60.0)
    return await run_load([node.url], work, batch=batch, rate=rate, watch_seconds=3600.0)


def run_single_node(
    txs: int, accounts: int, lanes: int, batch: int, block_interval_ms: int, rate: float | None = None
) -> LoadReport:
    """Start one validator on a fresh datadir, load it with ``txs`` transfers, measure."""
    with tempfile.TemporaryDirectory(prefix="agora-bench-") as tmp:
        node = prepare_single_node(Path(tmp), accounts, txs, block_interval_ms)
        with nodes_running([(node.datadir, node.args)], PASSWORD):
            result = asyncio.run(_load(node, txs, lanes, batch, rate))
    return LoadReport("single-node", txs, rate, result, verifying_nodes=1)


@dataclass(frozen=True, slots=True)
class RestartReport:
    """How long a node on a long chain takes to come back."""

    txs: int | None
    """Transfers committed to build the chain (None: a kept chain was reused)."""
    height: int
    db_bytes: int
    restarts: tuple[float, ...]
    """Each restart: from starting the process to its API answering /readyz at the same head."""
    rss: tuple[int, int]
    """Resident memory of the last restarted node once ready: (anonymous, file-backed) bytes."""

    @property
    def restart_seconds(self) -> float:
        """The median restart."""
        return statistics.median(self.restarts)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able summary."""
        return {
            "scenario": "restart",
            **machine(),
            "chain_txs": self.txs if self.txs is not None else "reused",
            "chain_height": self.height,
            "db_mib": round(self.db_bytes / 2**20, 1),
            "restart_seconds": round(self.restart_seconds, 2),
            "restart_seconds_each": [round(r, 2) for r in self.restarts],
            "rss_anon_mib_after_restart": round(self.rss[0] / 2**20, 1),
            "rss_file_mib_after_restart": round(self.rss[1] / 2**20, 1),
        }


def _rss(pid: int) -> tuple[int, int]:
    """(anonymous, file-backed) resident bytes of ``pid``: the heap, and mapped files such as LevelDB tables."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("RssAnon", "RssFile"):
            fields[name] = int(rest.split()[0]) * 1024
    return fields.get("RssAnon", 0), fields.get("RssFile", 0)


def run_restart(txs: int, keep: Path | None = None, restarts: int = 1) -> RestartReport:
    """Commit ``txs`` transfers on one validator, stop it, and time ``restarts`` restarts.

    With ``keep``, the chain is built in that directory and left there, or, if the
    directory already holds one, reused without building (so restarts of the same chain
    can be timed again, e.g. alternating with another build of the code).
    """
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        return _restart_in(keep, txs, restarts)
    with tempfile.TemporaryDirectory(prefix="agora-bench-restart-") as tmp:
        return _restart_in(Path(tmp), txs, restarts)


async def _ready_height(url: str) -> int:
    async with NodeClient(url) as client:
        await client.wait_ready(120.0)
        return int((await client.head())["height"])


def _restart_in(root: Path, txs: int, restarts: int) -> RestartReport:
    datadir = root / "node"
    built: int | None = None
    if not (datadir / "db").is_dir() or not any((datadir / "db").iterdir()):
        node = prepare_single_node(root, max(1_000, txs // 50), txs, 100)
        first = start_node(node.datadir, PASSWORD, *node.args)
        try:
            result = asyncio.run(_load(node, txs, 4, 500, None))
            if result.committed != txs:
                raise RuntimeError(f"only {result.committed} of {txs} transactions committed")
        finally:
            stop_nodes([first])
        built = txs
    db_bytes = sum(f.stat().st_size for f in (datadir / "db").iterdir())
    times: list[float] = []
    height = 0
    rss = (0, 0)
    for _ in range(max(1, restarts)):
        port = free_ports(1)[0]
        url = f"http://127.0.0.1:{port}"
        started = time.perf_counter()
        proc = start_node(datadir, PASSWORD, "--api-port", str(port))
        try:
            height = asyncio.run(_ready_height(url))
            times.append(time.perf_counter() - started)
            rss = _rss(proc.pid)
        finally:
            stop_nodes([proc])
    return RestartReport(built, height, db_bytes, tuple(times), rss)
