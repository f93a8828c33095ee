"""``agora testnet``: write, start, watch and stop a local multi-node testnet on loopback."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer

from cli.context import app_context
from cli.options import JsonOption

if TYPE_CHECKING:
    from rich.table import Table

    from cli.output import Output
    from cli.testnet_probe import Committed, NodeView
    from node.testnet import Testnet

TESTNET_ENV: Final = "AGORA_TESTNET"
DEFAULT_DIR: Final = Path("testnet")
DEFAULT_UP_TIMEOUT: Final = 60.0
STATUS_COLUMNS: Final = ("node", "role", "height", "round", "peers", "mempool", "last block", "syncing", "API URL")

app = typer.Typer(help="Run a local testnet: several nodes on this machine.", no_args_is_help=True)

DirOption = Annotated[
    Path,
    typer.Option(
        "--dir",
        envvar=TESTNET_ENV,
        help="The testnet directory (env AGORA_TESTNET; default ./testnet).",
        show_default=False,
    ),
]


def _agora() -> str:
    from cli.invocation import agora_markup

    return agora_markup()


def _escape(path: Path) -> str:
    from rich.markup import escape

    return escape(str(path))


def _load(directory: Path) -> Testnet:
    from node.testnet import TestnetError, load_testnet

    try:
        return load_testnet(directory.expanduser().resolve())
    except TestnetError as exc:
        from cli.errors import CliError

        raise CliError(str(exc)) from None


@contextmanager
def interrupted_by_signals() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise KeyboardInterrupt like Ctrl-C does, so every
    ``finally`` runs (and stops the nodes) whichever way the command is ended."""

    def raise_interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = {s: signal.signal(s, raise_interrupt) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


# --- init / add-node ---------------------------------------------------------------------


@app.command("init")
def init(
    ctx: typer.Context,
    validators: Annotated[int, typer.Option("--validators", help="Number of validators (1..16).")] = 4,
    nodes: Annotated[int, typer.Option("--nodes", help="Number of follower (non-validator) nodes (0..16).")] = 0,
    directory: DirOption = DEFAULT_DIR,
    chain_id: Annotated[str, typer.Option("--chain-id", help="Chain id of the testnet.")] = "agora-testnet",
    hosts: Annotated[
        str,
        typer.Option(
            "--hosts",
            help="loopback: every node on 127.0.0.1; netns: each node in its own network namespace "
            "with its own IP on a bridge, as separate machines (needs root).",
        ),
    ] = "loopback",
) -> None:
    """Write genesis, keys and configs for a testnet (free loopback ports, or one network namespace
    per node with --hosts netns), with funded demo wallets."""
    from cli.errors import CliError
    from node.testnet import TestnetError, init_testnet

    out = app_context(ctx).output
    path = directory.expanduser().resolve()
    try:
        testnet = init_testnet(path, validators, nodes, chain_id, hosts=hosts)
    except TestnetError as exc:
        raise CliError(str(exc)) from None
    show_layout(out, testnet)
    out.info(f"next:  [bold]{_agora()} testnet up --dir {_escape(path)}[/]")


@app.command("add-node")
def add_node(ctx: typer.Context, directory: DirOption = DEFAULT_DIR) -> None:
    """Write one more follower node (same genesis, the validators as seeds); `up` starts it too."""
    from cli.errors import CliError
    from node.testnet import TestnetError, add_follower

    out = app_context(ctx).output
    testnet = _load(directory)
    try:
        node = add_follower(testnet.path)
    except TestnetError as exc:
        raise CliError(str(exc)) from None
    out.table(
        "Added",
        ["node", "role", "API URL", "p2p URL", "datadir"],
        [(node.name, node.role, node.api_url, node.p2p_url, node.datadir)],
    )
    out.info(
        f"start it with the others (`{_agora()} testnet up --dir {_escape(testnet.path)}`), "
        "or alone on a running testnet:\n"
        f"  {_agora()} node run --datadir {_escape(node.datadir)}"
    )


def show_layout(out: Output, testnet: Testnet) -> None:
    """The nodes and demo wallets of a testnet as two tables."""
    from cli.render import agr
    from node.testnet import DEMO_FUNDS

    if testnet.netns is None:
        out.table(
            f"Testnet {testnet.chain_id} in {testnet.path}",
            ["node", "role", "API URL", "p2p URL"],
            [(n.name, n.role, n.api_url, n.p2p_url) for n in testnet.nodes],
        )
    else:
        out.table(
            f"Testnet {testnet.chain_id} in {testnet.path} (one network namespace per node, "
            f"bridge {testnet.netns.bridge} {testnet.netns.subnet})",
            ["node", "role", "API URL", "p2p URL", "namespace"],
            [(n.name, n.role, n.api_url, n.p2p_url, n.netns or "-") for n in testnet.nodes],
        )
    out.table(
        f"Demo wallets (keys in {testnet.path / 'keys'}, password in {testnet.password_file})",
        ["wallet", "address", "funded with"],
        [(name, address, agr(DEMO_FUNDS)) for name, address in testnet.wallets.items()],
    )


# --- up ----------------------------------------------------------------------------------


@app.command("up")
def up(
    ctx: typer.Context,
    directory: DirOption = DEFAULT_DIR,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, max=600, help="Seconds to wait until every node commits.")
    ] = DEFAULT_UP_TIMEOUT,
) -> None:
    """Start every node in the background and wait until all are ready and committing the same blocks."""
    out = app_context(ctx).output
    testnet = _load(directory)
    committed = bring_up(out, testnet, timeout)
    out.info(f"[bold green]testnet up[/]: {len(testnet.nodes)} nodes agree on block {committed.height}")
    show_endpoints(out, testnet)


def bring_up(out: Output, testnet: Testnet, timeout: float) -> Committed:
    """Start the testnet's nodes and wait (with a progress display) until they commit together.

    On any failure or interruption every node started here is stopped again before the error
    propagates; on success the nodes keep running, recorded in <dir>/pids.json.
    """
    from cli.testnet_probe import wait_committing
    from cli.testnet_run import refuse_if_running, start_nodes, stop_nodes

    refuse_if_running(testnet)  # before the try: a refusal must not stop the running testnet
    with interrupted_by_signals():
        try:
            hosts_up(testnet)
            records = start_nodes(testnet)
            with _progress(out, testnet) as update:
                return run_async(wait_committing(testnet, records, timeout, update))
        except BaseException:
            stop_nodes(testnet)
            hosts_down(testnet)
            raise


def hosts_up(testnet: Testnet) -> None:
    """Create the network namespaces, links and bridge of a ``--hosts netns`` testnet (nothing on
    loopback); CliError naming the step that failed."""
    if testnet.netns is None:
        return
    from cli.errors import CliError
    from node.netns import NetnsError, netns_up

    try:
        netns_up(testnet.netns)
    except NetnsError as exc:
        raise CliError(str(exc)) from None


def hosts_down(testnet: Testnet) -> list[str]:
    """Remove the namespaces and bridge of a ``--hosts netns`` testnet (safe to repeat); what was removed."""
    if testnet.netns is None:
        return []
    from cli.errors import CliError
    from node.netns import NetnsError, netns_down

    try:
        return netns_down(testnet.netns)
    except NetnsError as exc:
        raise CliError(str(exc)) from None


def run_async(awaitable: Any) -> Any:
    """asyncio.run at the command's edge, safe against interrupts (cli.remote.run_at_edge)."""
    from cli.remote import run_at_edge

    return run_at_edge(awaitable)


@contextmanager
def _progress(out: Output, testnet: Testnet) -> Iterator[Any]:
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn

    progress = Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(bar_width=12), console=out.err, transient=False
    )
    tasks = {n.name: progress.add_task(f"{n.name:<4} starting", total=2) for n in testnet.nodes}

    def update(views: list[NodeView], start: dict[str, int]) -> None:
        for view in views:
            name = view.node.name
            if not view.ready:
                state, done = view.error or "starting", 0
            elif view.height > start[name]:
                state, done = f"committing, height {view.height}", 2
            else:
                state, done = f"ready at height {view.height}, waiting for a block", 1
            progress.update(tasks[name], description=f"{name:<4} {state}", completed=done)

    with progress:
        yield update


def show_endpoints(out: Output, testnet: Testnet) -> None:
    """Each node's API and how to use the testnet from the CLI."""
    out.table(
        "Endpoints",
        ["node", "role", "client API", "status", "metrics"],
        [
            (n.name, n.role, f"{n.api_url}/api/v1", f"{n.api_url}/api/v1/status", f"{n.api_url}/metrics")
            for n in testnet.nodes
        ],
    )
    from rich.markup import escape

    from cli.invocation import activate_hint, agora_command

    path, url, agora = testnet.path, testnet.nodes[0].api_url, agora_command()
    witness = testnet.nodes[1 % len(testnet.nodes)].api_url
    hint = activate_hint()
    pages = testnet.nodes[-1].api_url  # the follower in the demo's layout: what a shopper would use
    out.info(
        escape(
            f"open in a browser: the explorer at {pages}/ and the shop at {pages}/shop "
            "(every node serves them on its API port)\n"
            "use it:\n"
            f"  {agora} testnet status --dir {path}\n"
            f"  {agora} --home {path} --node {url} tx transfer --from merchant --to shopper --amount 5 "
            f"--password-file {testnet.password_file}\n"
            f"  {agora} --home {path} --node {url} wallet balance shopper\n"
            f"  {agora} --home {path} --node {url} verify balance {testnet.wallets['shopper']} "
            f"--witness {witness} --genesis {testnet.nodes[0].datadir / 'genesis.json'}\n"
            f"  {agora} testnet down --dir {path}" + ("" if hint is None else f"\n({hint})")
        )
    )


# --- status ------------------------------------------------------------------------------


@app.command("status")
def status(
    ctx: typer.Context,
    directory: DirOption = DEFAULT_DIR,
    json_: JsonOption = False,
    watch: Annotated[bool, typer.Option("--watch", "-w", help="Refresh the table every second until Ctrl-C.")] = False,
) -> None:
    """Height, round, peers, mempool and last block time of every node; a node that does not answer is down.

    Exits 1 when every node is down (the table or JSON is still printed first).
    """
    from cli.testnet_probe import snapshot

    out = app_context(ctx).output
    testnet = _load(directory)
    if watch:
        _watch(out, testnet)
        return
    views = run_async(snapshot(testnet))
    if json_:
        out.json({"chain_id": testnet.chain_id, "dir": str(testnet.path), "nodes": [v.to_json() for v in views]})
    else:
        out.out.print(status_table(testnet, views))
    if all(view.status is None for view in views):
        from cli.invocation import agora_command

        out.fail(
            f"every node of the testnet is down; start them with  {agora_command()} testnet up --dir {testnet.path}"
        )


def _watch(out: Output, testnet: Testnet) -> None:
    """Redraw the table every second until Ctrl-C (on a terminal in place; piped, one table after another)."""
    from rich.live import Live

    from cli.testnet_probe import snapshot

    def table() -> Table:
        return status_table(testnet, run_async(snapshot(testnet)))

    try:
        if not out.out.is_terminal:
            while True:
                out.out.print(table())
                out.out.file.flush()
                time.sleep(1.0)
        with Live(table(), console=out.out, auto_refresh=False) as live:
            while True:
                time.sleep(1.0)
                live.update(table(), refresh=True)
    except KeyboardInterrupt:
        return


def status_table(testnet: Testnet, views: list[NodeView]) -> Table:
    """The status of every node as a rich table."""
    from rich.table import Table

    table = Table(title=f"Testnet {testnet.chain_id} ({testnet.path})", title_justify="left")
    for column in STATUS_COLUMNS:
        table.add_column(column)
    now_ms = int(time.time() * 1000)
    for view in views:
        table.add_row(*status_row(view, now_ms))
    return table


def status_row(view: NodeView, now_ms: int) -> list[str]:
    """One node's row of the status table (a node that does not answer shows as down)."""
    node = view.node
    if view.status is None:
        return [node.name, node.role, "[red]down[/]", "-", "-", "-", "-", "-", node.api_url]
    s = view.status
    head_ms = s.get("head_time_ms")
    age = f"{max(0, now_ms - head_ms) / 1000:.1f}s ago" if isinstance(head_ms, int) else "-"
    height = str(s.get("height")) + ("" if view.ready else " (not ready)")
    syncing = f"yes -> {s.get('sync_target_height')}" if s.get("syncing") else "no"
    return [
        node.name,
        node.role,
        height,
        str(s.get("round")),
        str(s.get("peers")),
        str(s.get("mempool_size")),
        age,
        syncing,
        node.api_url,
    ]


# --- logs / url --------------------------------------------------------------------------


@app.command("logs")
def logs(
    ctx: typer.Context,
    node: Annotated[str, typer.Argument(help="Node name (v0, v1, ..., f0, ...).")],
    directory: DirOption = DEFAULT_DIR,
    lines: Annotated[int, typer.Option("-n", "--lines", min=0, max=100_000, help="How many last lines.")] = 40,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines until Ctrl-C.")] = False,
) -> None:
    """Print the last lines of a node's log (<datadir>/node.log)."""
    from cli.errors import CliError
    from cli.testnet_run import log_path

    testnet = _load(directory)
    path = log_path(_node(testnet, node))
    try:
        with path.open("rb") as f:
            text = f.read().decode(errors="replace")
            for line in text.splitlines()[-lines:] if lines else []:
                typer.echo(line)
            if follow:
                _follow(f)
    except FileNotFoundError:
        raise CliError(f"{path} does not exist yet (has node {node} been started?)") from None


def _follow(f: Any) -> None:
    pending = b""
    try:
        while True:
            chunk = f.read()
            if not chunk:
                time.sleep(0.2)
                continue
            *complete, pending = (pending + chunk).split(b"\n")
            for line in complete:
                typer.echo(line.decode(errors="replace"))
            sys.stdout.flush()  # a follower is read live (piped into grep, ...)
    except KeyboardInterrupt:
        return


def _node(testnet: Testnet, name: str) -> Any:
    from cli.errors import CliError
    from node.testnet import TestnetError

    try:
        return testnet.node(name)
    except TestnetError as exc:
        raise CliError(str(exc)) from None


@app.command("url")
def url(
    node: Annotated[str, typer.Argument(help="Node name (v0, v1, ..., f0, ...).")] = "v0",
    directory: DirOption = DEFAULT_DIR,
) -> None:
    """Print a node's client API URL (for --node or AGORA_NODE)."""
    typer.echo(_node(_load(directory), node).api_url)


# --- down --------------------------------------------------------------------------------


@app.command("down")
def down(
    ctx: typer.Context,
    directory: DirOption = DEFAULT_DIR,
    clean: Annotated[bool, typer.Option("--clean", help="Also delete the testnet directory.")] = False,
) -> None:
    """Stop every node `up` started (SIGTERM, then SIGKILL after a deadline); nothing is left running."""
    import shutil

    from cli.testnet_run import running, stop_nodes

    out = app_context(ctx).output
    testnet = _load(directory)
    if not running(testnet):
        stop_nodes(testnet)  # drops a stale pids.json
        out.info(f"the testnet in {testnet.path} is not running")
    else:
        stopped, killed = stop_nodes(testnet)
        out.info(f"stopped {len(stopped)} node(s): {', '.join(stopped) or '-'}")
        if killed:
            out.info(f"[yellow]killed (did not stop in time): {', '.join(killed)}[/]")
    removed = hosts_down(testnet)
    if removed:
        out.info(f"removed the network namespaces and bridge: {', '.join(removed)}")
    if clean:
        shutil.rmtree(testnet.path)
        out.info(f"removed {testnet.path}")


# `start` and `stop` are what many people type first (typer would suggest `status` for `start`):
# hidden aliases of `up` and `down`, so the help lists each command once.
app.command("start", hidden=True)(up)
app.command("stop", hidden=True)(down)
