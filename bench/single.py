"""Single-node benchmarks: admit and commit signed transfers; restart on a long chain."""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import procstat
from bench.load import LoadSpec, build_workload, run_workload
from bench.measure import LoadReport, RunResult, machine, run_load
from bench.nodeproc import nodes_running, start_node, stop_nodes
from bench.settings import node_settings
from bench.testnet import load_defaults
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


def prepare_single_node(
    tmp: Path,
    accounts: int,
    txs: int,
    block_interval_ms: int,
    funded: Sequence[bytes] = (),
    settings: Mapping[str, object] | None = None,
) -> SingleNode:
    """A one-validator datadir funding ``accounts`` bench accounts (and ``funded``), sized for ``txs`` in flight."""
    keys = make_accounts(accounts, "bench")
    validator = PrivateKey.generate()
    balances = {k.public_key: 10**13 for k in keys}
    balances.update({key: 10**15 for key in funded})
    genesis = dev_genesis(CHAIN_ID, [validator.public_key], balances)
    datadir = tmp / "node"
    config = node_settings(
        {
            "min_block_interval_ms": block_interval_ms,
            "mempool_max_txs": min(1_000_000, max(20_000, txs * 2)),
            "mempool_max_bytes": 1024 * 1024 * 1024,
        },
        settings or {},
    )
    init_datadir(datadir, genesis, validator, PASSWORD, config)
    return SingleNode(datadir, free_ports(1)[0], keys, genesis.params.min_fee)


async def _load(node: SingleNode, txs: int, lanes: int, batch: int, rate: float | None) -> RunResult:
    work = transfer_lanes(CHAIN_ID, node.keys, txs, lanes, fee=node.min_fee)
    async with NodeClient(node.url) as client:
        await client.wait_ready(60.0)
    return await run_load([node.url], work, batch=batch, rate=rate, watch_seconds=3600.0)


def run_single_node(spec: LoadSpec, settings: Mapping[str, object] | None = None) -> LoadReport:
    """Start one validator on a fresh datadir, load it as ``spec`` says, measure."""
    base = {"min_block_interval_ms": 100, **load_defaults(spec)}
    config = node_settings(base, settings or {})
    work = build_workload(spec, CHAIN_ID)
    kinds = work.presign()
    with tempfile.TemporaryDirectory(prefix="agora-bench-") as tmp:
        node = prepare_single_node(Path(tmp), 0, 0, 100, work.funded, config)
        with nodes_running([(node.datadir, node.args)], PASSWORD) as procs:
            result = run_workload([node.url], [p.pid for p in procs], spec, work)
    extra = {**spec.describe(), "offered_by_kind": kinds, "node_settings": config}
    return LoadReport("single-node", sum(kinds.values()), spec.rate, result, verifying_nodes=1, extra=extra)


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


def run_restart(
    txs: int, keep: Path | None = None, restarts: int = 1, settings: Mapping[str, object] | None = None
) -> RestartReport:
    """Commit ``txs`` transfers on one validator, stop it, and time ``restarts`` restarts.

    With ``keep``, the chain is built in that directory and left there, or, if the
    directory already holds one, reused without building (so restarts of the same chain
    can be timed again, e.g. alternating with another build of the code).
    """
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        return _restart_in(keep, txs, restarts, settings)
    with tempfile.TemporaryDirectory(prefix="agora-bench-restart-") as tmp:
        return _restart_in(Path(tmp), txs, restarts, settings)


async def _ready_height(url: str) -> int:
    async with NodeClient(url) as client:
        await client.wait_ready(120.0)
        return int((await client.head())["height"])


def _restart_in(root: Path, txs: int, restarts: int, settings: Mapping[str, object] | None) -> RestartReport:
    datadir = root / "node"
    built: int | None = None
    if not (datadir / "db").is_dir() or not any((datadir / "db").iterdir()):
        node = prepare_single_node(root, max(1_000, txs // 50), txs, 100, settings=settings)
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
            rss = procstat.rss(proc.pid)
        finally:
            stop_nodes([proc])
    return RestartReport(built, height, db_bytes, tuple(times), rss)
