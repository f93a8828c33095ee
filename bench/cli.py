"""``agora bench``: Agora's benchmarks as a command group (also ``python -m bench``).

Each load scenario (testnet, single, soak) sends an open-loop load, transfers or the
marketplace mix, and reports committed tx/s over the steady window, latency p50/p90/p99/max,
refusals by reason, CPU per committed transaction per node and the Ed25519 bound measured in
the same run. Node settings are options (or ``--set key=value`` for any config key).
The heavy modules load inside each command, so ``agora --help`` stays quick.
"""

from __future__ import annotations

import inspect
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

if TYPE_CHECKING:
    from bench.load import LoadSpec

F = TypeVar("F", bound=Callable[..., None])

app = typer.Typer(
    name="bench",
    help="Benchmarks: open-loop load on real node processes (testnet, single, soak), sync, restart, tree, proofs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

Json = Annotated[bool, typer.Option("--json", help="Print the report as JSON.")]
Mix = Annotated[str, typer.Option("--mix", help="transfer, or market: half transfers, half marketplace actions.")]
Rate = Annotated[
    float | None, typer.Option("--rate", help="Offered tx/s, open loop (without it: a burst of --txs, transfers).")
]
Seconds = Annotated[float, typer.Option("--seconds", help="Seconds of load at --rate.")]
Txs = Annotated[int, typer.Option("--txs", help="Transfers of a burst (no --rate).")]
Accounts = Annotated[int, typer.Option("--accounts", help="Funded sender accounts (split over the lanes).")]
Lanes = Annotated[
    int, typer.Option("--lanes", help="Submitters (each with senders of its own), round robin over nodes.")
]
Batch = Annotated[int, typer.Option("--batch", help="Most transactions per batch request.")]
Warmup = Annotated[
    float | None, typer.Option("--warmup", help="Seconds left out of the front of the window (default: a fifth).")
]
Step = Annotated[float, typer.Option("--step", help="Market mix: seconds between the steps of one order.")]
Tick = Annotated[float, typer.Option("--tick", help="A caught-up lane wakes this often (s) to send what is due.")]
Drain = Annotated[float, typer.Option("--drain", help="Seconds after the load to wait for accepted txs to commit.")]
Seed = Annotated[str, typer.Option("--seed", help="Seed of the accounts and of the market mix.")]
Receipts = Annotated[
    bool | None,
    typer.Option(
        "--receipts/--no-receipts",
        help="Read receipts on node 0 to count on-chain failures by code (default: for the market mix).",
    ),
]
BlockBudget = Annotated[int | None, typer.Option("--block-budget-ms", help="Node: block_budget_ms.")]
MempoolTxs = Annotated[int | None, typer.Option("--mempool-max-txs", help="Node: mempool_max_txs.")]
MempoolBytes = Annotated[int | None, typer.Option("--mempool-max-bytes", help="Node: mempool_max_bytes.")]
NonceGap = Annotated[int | None, typer.Option("--mempool-max-nonce-gap", help="Node: mempool_max_nonce_gap.")]
AdmissionBlocks = Annotated[int | None, typer.Option("--admission-queue-blocks", help="Node: admission_queue_blocks.")]
BlockInterval = Annotated[int | None, typer.Option("--min-block-interval-ms", help="Node: min_block_interval_ms.")]
Heartbeat = Annotated[int | None, typer.Option("--heartbeat-interval-ms", help="Node: heartbeat_interval_ms.")]
Sets = Annotated[list[str] | None, typer.Option("--set", help="Node: any config.toml key, KEY=VALUE (repeatable).")]


SoakWarmup = Annotated[
    float | None,
    typer.Option("--warmup", help="Seconds of load before the window and the RSS trend (default: a tenth)."),
]


def _param(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


def _load_options(lanes: int, offered: bool = True, warmup: Any = Warmup) -> Callable[[F], F]:
    """Give a load command the options of the load and of the nodes, passed to its ``**load``.

    In help order: --mix, (with ``offered``) --rate, --seconds and --txs, --accounts, --lanes
    (default ``lanes``), --batch, --warmup (the ``warmup`` option), --step, --tick, --drain,
    --seed, --receipts, the node settings, --set and --json, after the command's own options.
    """
    rate = [_param("rate", Rate, None), _param("seconds", Seconds, 60.0), _param("txs", Txs, 20_000)]
    load = [
        _param("mix", Mix, "transfer"),
        *(rate if offered else []),
        _param("accounts", Accounts, 2_000),
        _param("lanes", Lanes, lanes),
        _param("batch", Batch, 500),
        _param("warmup", warmup, None),
        _param("step", Step, 2.0),
        _param("tick", Tick, 0.1),
        _param("drain", Drain, 60.0),
        _param("seed", Seed, "bench"),
        _param("receipts", Receipts, None),
        _param("block_budget_ms", BlockBudget, None),
        _param("mempool_max_txs", MempoolTxs, None),
        _param("mempool_max_bytes", MempoolBytes, None),
        _param("mempool_max_nonce_gap", NonceGap, None),
        _param("admission_queue_blocks", AdmissionBlocks, None),
        _param("min_block_interval_ms", BlockInterval, None),
        _param("heartbeat_interval_ms", Heartbeat, None),
        _param("sets", Sets, None),
        _param("as_json", Json, False),
    ]

    def decorate(command: F) -> F:
        signature = inspect.signature(command, eval_str=True)
        own = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        command.__signature__ = signature.replace(parameters=[*own, *load])  # type: ignore[attr-defined]
        return command

    return decorate


NODE_OPTIONS = (
    "block_budget_ms",
    "mempool_max_txs",
    "mempool_max_bytes",
    "mempool_max_nonce_gap",
    "admission_queue_blocks",
    "min_block_interval_ms",
    "heartbeat_interval_ms",
)
"""Node config keys with an option of their own (any other: ``--set KEY=VALUE``)."""
SPEC_OPTIONS = (
    "mix",
    "rate",
    "seconds",
    "txs",
    "accounts",
    "lanes",
    "batch",
    "warmup",
    "step",
    "tick",
    "drain",
    "seed",
    "receipts",
)
"""LoadSpec fields, which the load commands take as options of the same names."""


def _settings(options: dict[str, Any]) -> dict[str, object]:
    """The node settings among a command's ``options`` (its locals), checked before anything starts."""
    from bench.settings import node_settings, parse_sets

    named = {k: options[k] for k in NODE_OPTIONS if options.get(k) is not None}
    given = {**parse_sets(options.get("sets") or []), **named}
    checked = node_settings(given)
    return {k: checked[k] for k in given}


def _inputs(options: dict[str, Any]) -> tuple[dict[str, object], LoadSpec]:
    """(node settings, load spec) from a load command's ``options``; exit 1 with the reason if invalid."""
    from bench.load import LoadSpec

    try:
        spec = LoadSpec(**{k: options[k] for k in SPEC_OPTIONS if k in options})
        return _settings(options), spec
    except ValueError as exc:
        _fail(str(exc))


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _print(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=str(report.get("scenario", "bench")), show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in report.items():
        shown = json.dumps(value) if isinstance(value, dict | list) else str(value)
        table.add_row(key, shown)
    Console(width=None if sys.stdout.isatty() else 200, highlight=False).print(table)


@app.command("testnet")
@_load_options(lanes=8)
def testnet(
    validators: Annotated[int, typer.Option("--validators", help="Validators (each a process).")] = 4,
    **load: Any,
) -> None:
    """A local testnet of validator processes: committed throughput, latency, refusals, CPU, efficiency."""
    from bench.testnet import run_testnet

    settings, spec = _inputs(load)
    _print(run_testnet(validators, spec, settings).as_dict(), load["as_json"])


@app.command("single")
@_load_options(lanes=4)
def single(**load: Any) -> None:
    """One validator process: the same figures as testnet."""
    from bench.single import run_single_node

    settings, spec = _inputs(load)
    _print(run_single_node(spec, settings).as_dict(), load["as_json"])


@app.command("soak")
@_load_options(lanes=8, offered=False, warmup=SoakWarmup)
def soak(
    rate: Annotated[float, typer.Option("--rate", help="The capacity (tx/s); the soak offers --share of it.")],
    minutes: Annotated[float, typer.Option("--minutes", help="Minutes of load.")] = 30.0,
    share: Annotated[float, typer.Option("--share", help="Share of --rate offered.")] = 0.7,
    validators: Annotated[int, typer.Option("--validators", help="Validators (each a process).")] = 4,
    rss_file: Annotated[Path, typer.Option("--rss-file", help="CSV of every node's RSS samples.")] = Path(
        "soak-rss.csv"
    ),
    sample_seconds: Annotated[float, typer.Option("--sample-seconds", help="Seconds between RSS samples.")] = 10.0,
    max_growth: Annotated[
        float,
        typer.Option("--max-growth", help="Fail when a node's fitted RssAnon growth after warm-up exceeds this."),
    ] = 0.10,
    diagnostics: Annotated[
        Path | None,
        typer.Option(
            "--diagnostics",
            help="Copy each node's log (node.out) and memstats.csv / tracemalloc.log (with AGORA_MEMSTATS /"
            " AGORA_TRACEMALLOC set) here.",
        ),
    ] = None,
    **load: Any,
) -> None:
    """A testnet under --share x --rate for --minutes, each node's RSS sampled; exit 1 if its heap grows.

    Every --sample-seconds each node's RssAnon (heap: the process's own memory) and RssFile (page cache
    of the LevelDB table files it reads) go to --rss-file. A line is fitted after the warm-up
    to each and to their sum, all three in the report. The verdict is on RssAnon: RssFile
    grows with the chain on disk by design and the kernel takes it back under memory pressure
    (docs/PERFORMANCE.md, Soak memory).
    """
    from bench.soak import run_soak

    if not 0 < max_growth <= 10:
        _fail("--max-growth must be in (0, 10]")
    seconds = minutes * 60
    options = {**load, "rate": rate * share, "seconds": seconds}
    options["warmup"] = seconds / 10 if load["warmup"] is None else load["warmup"]
    settings, spec = _inputs(options)
    try:
        report = run_soak(validators, rate, spec, rss_file, share, sample_seconds, settings, max_growth, diagnostics)
    except ValueError as exc:
        _fail(str(exc))
    _print(report.as_dict(), load["as_json"])
    if not report.passed:
        typer.echo(f"soak: RssAnon grew more than {max_growth:.0%} after warm-up (see {rss_file})", err=True)
        raise typer.Exit(1)


@app.command("sync")
def sync(
    txs: Annotated[int, typer.Option("--txs", help="Transfers in the history.")] = 20_000,
    accounts: Accounts = 2_000,
    sets: Sets = None,
    as_json: Json = False,
) -> None:
    """A fresh follower syncs a history of signed transfers: history tx/s."""
    from bench.settings import node_settings, parse_sets
    from bench.sync import run_sync

    try:
        settings = node_settings(parse_sets(sets or []))
    except ValueError as exc:
        _fail(str(exc))
    _print(run_sync(txs, accounts, settings).as_dict(), as_json)


@app.command("restart")
def restart(
    txs: Annotated[int, typer.Option("--txs", help="Transfers in the chain.")] = 100_000,
    keep: Annotated[Path | None, typer.Option("--keep", help="Build the chain here and keep it, or reuse it.")] = None,
    restarts: Annotated[int, typer.Option("--restarts", help="Restarts to time (the median is reported).")] = 1,
    sets: Sets = None,
    as_json: Json = False,
) -> None:
    """Commit a long chain on one validator, then time its restart."""
    from bench.single import run_restart

    try:
        settings = _settings({"sets": sets})
    except ValueError as exc:
        _fail(str(exc))
    _print(run_restart(txs, keep, restarts, settings).as_dict(), as_json)


@app.command("tree")
def tree(
    keys: Annotated[int, typer.Option("--keys", help="Keys in the state before the blocks.")] = 100_000,
    writes: Annotated[int, typer.Option("--writes", help="Written keys per block.")] = 15_000,
    blocks: Annotated[int, typer.Option("--blocks", help="Blocks to apply.")] = 6,
    insert_share: Annotated[float, typer.Option("--insert-share", help="Share of writes adding new keys.")] = 0.1,
    baseline: Annotated[
        str | None, typer.Option("--baseline", help="Also run this git revision's tree, interleaved.")
    ] = None,
    leveldb: Annotated[bool, typer.Option("--leveldb", help="Keep the nodes in LevelDB instead of a dict.")] = False,
    repeat: Annotated[int, typer.Option("--repeat", help="Time each block's update this often, keep the fastest.")] = 3,
    as_json: Json = False,
) -> None:
    """In process: state-tree cost per written key and bytes of tree per key."""
    from bench.tree import run_tree

    _print(run_tree(keys, writes, blocks, insert_share, baseline, leveldb, repeat), as_json)


@app.command("proofs")
def proofs(
    setup: Annotated[str, typer.Option("--setup", help="node (a real node) or tree (the tree alone).")] = "tree",
    keys: Annotated[int, typer.Option("--keys", help="State keys (node: at most 100,000).")] = 1_000_000,
    block: Annotated[int, typer.Option("--block", help="Tree setup: keys written per version.")] = 100_000,
    requests: Annotated[int, typer.Option("--requests", help="Proof requests, one in flight.")] = 5_000,
    as_json: Json = False,
) -> None:
    """In process: state-proof service time over loopback HTTP, real LevelDB."""
    from bench.proofs import run_proofs_node, run_proofs_tree

    if setup not in ("node", "tree"):
        _fail("--setup must be node or tree")
    report = run_proofs_node(keys, requests) if setup == "node" else run_proofs_tree(keys, block, requests)
    _print(report, as_json)
