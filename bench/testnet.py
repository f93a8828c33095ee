"""Testnet benchmark: a local testnet of validator processes under an open-loop load."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from bench.load import LoadSpec, build_workload, run_workload
from bench.measure import LoadReport
from bench.nodeproc import nodes_running
from bench.settings import node_settings
from node.testnet import Testnet, init_testnet

CHAIN_ID = "agora-bench"
FUNDS = 10**15


def load_defaults(spec: LoadSpec) -> dict[str, object]:
    """Node settings a load needs unless the caller says otherwise: a burst must fit the mempool."""
    if spec.rate is None:
        return {"mempool_max_txs": min(1_000_000, max(20_000, spec.txs * 2)), "mempool_max_bytes": 1024**3}
    return {}


@contextlib.contextmanager
def testnet_running(
    validators: int, funded: Sequence[bytes], config: Mapping[str, object]
) -> Iterator[tuple[Testnet, list[subprocess.Popen[bytes]]]]:
    """A fresh ``validators``-node testnet in a temporary directory, funding ``funded``, running.

    Gives the testnet and its node processes; stops them and removes everything on exit.
    """
    with tempfile.TemporaryDirectory(prefix="agora-bench-net-") as tmp:
        net = init_testnet(
            Path(tmp) / "net",
            validators,
            0,
            chain_id=CHAIN_ID,
            extra_balances={key: FUNDS for key in funded},
            node_config=config,
        )
        password = net.password_file.read_text().strip()
        with nodes_running([(n.datadir, ()) for n in net.nodes], password) as procs:
            yield net, procs


def run_testnet(validators: int, spec: LoadSpec, settings: Mapping[str, object] | None = None) -> LoadReport:
    """Start a ``validators``-node testnet, load it as ``spec`` says (lanes spread over the nodes), measure.

    ``settings`` are node config keys given to every node (over the bench's defaults).
    """
    config = node_settings(
        {"min_block_interval_ms": 100, "heartbeat_interval_ms": 1000}, load_defaults(spec), settings or {}
    )
    work = build_workload(spec, CHAIN_ID)
    kinds = work.presign()
    with testnet_running(validators, work.funded, config) as (net, procs):
        result = run_workload([n.api_url for n in net.nodes], [p.pid for p in procs], spec, work)
    extra = {**spec.describe(), "validators": validators, "offered_by_kind": kinds, "node_settings": config}
    total = sum(kinds.values())
    return LoadReport(f"testnet-{validators}-validators", total, spec.rate, result, validators, extra=extra)
