"""``agora node``: run a node daemon, or ask a running one how it is."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.context import app_context
from cli.options import HomeOption, JsonOption, NodeOption, PasswordFileOption

app = typer.Typer(help="Run a node, or check on a running one.", no_args_is_help=True)


@app.command("run")
def run(
    ctx: typer.Context,
    datadir: Annotated[
        Path | None,
        typer.Option("--datadir", help="The node's data directory (default: <home>/node).", show_default=False),
    ] = None,
    api_port: Annotated[
        int | None,
        typer.Option(
            "--api-port",
            min=0,
            max=65535,
            help="Client API port; 0 = any free port (default: config.toml, else 26657).",
        ),
    ] = None,
    api_host: Annotated[
        str | None,
        typer.Option(
            "--api-host", help="Client API address (default: config.toml, else 127.0.0.1).", show_default=False
        ),
    ] = None,
    peer: Annotated[
        list[str] | None,
        typer.Option(
            "--peer",
            metavar="URL",
            help="p2p URL of a node to join, e.g. http://127.0.0.1:26656 (repeatable; added to config.toml's seeds). "
            "A node with peers follows and verifies their chain, serves the API and relays transactions.",
            show_default=False,
        ),
    ] = None,
    p2p_listen: Annotated[
        str | None,
        typer.Option(
            "--p2p-listen",
            metavar="HOST:PORT",
            help="Where this node's p2p endpoints listen (default: config.toml; with --peer only, any free port).",
            show_default=False,
        ),
    ] = None,
    archive: Annotated[
        bool,
        typer.Option(
            "--archive",
            help="Keep every version of the state, so proofs and reads at any past height are answered "
            "(default: the last state_versions_kept = 10,000 heights).",
        ),
    ] = False,
    home: HomeOption = None,
    password_file: PasswordFileOption = None,
) -> None:
    """Run the node in the foreground until Ctrl-C (SIGINT) or SIGTERM; logs go to stderr and node.log."""
    from cli.errors import CliError
    from cli.init_cmd import node_datadir
    from cli.passwords import get_password

    app_ctx = app_context(ctx)
    directory = (datadir or node_datadir(app_ctx.resolve_home(home))).expanduser()
    if not (directory / "genesis.json").is_file():
        raise CliError(f"{directory} is not a node datadir (create one with `agora init`)")
    password = None
    validator_key = directory / "keys" / "validator.json"
    if validator_key.exists():
        from node.keystore import load_key

        password = get_password(password_file, confirm=False, what="validator key")
        load_key(validator_key, password)  # a wrong password is one clean line here, before any logging starts
    # The daemon replaces this process (same pid, so signals reach it directly); the CLI
    # itself stays on the client side of the layer contract and never imports the daemon.
    import os
    import sys

    argv = [sys.executable, "-m", "node", "--datadir", str(directory)]
    if api_port is not None:
        argv += ["--api-port", str(api_port)]
    if api_host is not None:
        argv += ["--api-host", api_host]
    for url in peer or []:
        argv += ["--peer", url]
    if p2p_listen is not None:
        argv += ["--p2p-listen", p2p_listen]
    if archive:
        argv.append("--archive")
    env = dict(os.environ)
    if password is not None:
        env["AGORA_PASSWORD"] = password
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, argv, env)


@app.command("init")
def init_node(
    ctx: typer.Context,
    genesis: Annotated[
        Path,
        typer.Option(
            "--genesis",
            help="The chain's genesis.json (from any node of the chain, e.g. <testnet>/nodes/v0/genesis.json).",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    datadir: Annotated[
        Path | None,
        typer.Option("--datadir", help="Where to create the node (default: <home>/node).", show_default=False),
    ] = None,
    api_port: Annotated[
        int, typer.Option("--api-port", min=0, max=65535, help="Client API port written to config.toml (0 = any).")
    ] = 26657,
    home: HomeOption = None,
) -> None:
    """Create a datadir for a follower (merchant or shopper) node of an existing chain.

    The node holds no validator key: it follows and verifies the validators' chain, serves
    the client API and relays transactions. Start it with `agora node run --datadir D --peer URL`.
    """
    from cli.init_cmd import node_datadir
    from node.datadir import init_datadir, read_genesis

    app_ctx = app_context(ctx)
    directory = (datadir or node_datadir(app_ctx.resolve_home(home))).expanduser()
    chain = read_genesis(genesis)
    init_datadir(directory, chain, None, "", {"api_port": api_port})
    app_ctx.output.out.print(
        f"created follower node {directory} on chain {chain.chain_id} (genesis {chain.hash.hex()[:16]})"
    )
    app_ctx.output.out.print(
        f"start it with: agora node run --datadir {directory} --peer <p2p URL of a node of the chain>"
    )


@app.command("check-state")
def check_state(
    ctx: typer.Context,
    datadir: Annotated[
        Path | None,
        typer.Option("--datadir", help="The node's data directory (default: <home>/node).", show_default=False),
    ] = None,
    home: HomeOption = None,
    json_: JsonOption = False,
) -> None:
    """Recompute a stopped node's state root from every state value and compare it with the certified one.

    Exit code 0 when the recomputed root, the node's own tree root and the head header's
    state root agree; 1 when they differ (an altered or corrupt database). Stop the node
    first: a running node holds its database lock.
    """
    import subprocess
    import sys

    from cli.errors import CliError
    from cli.init_cmd import node_datadir

    app_ctx = app_context(ctx)
    directory = (datadir or node_datadir(app_ctx.resolve_home(home))).expanduser()
    if not (directory / "genesis.json").is_file():
        raise CliError(f"{directory} is not a node datadir (create one with `agora init`)")
    argv = [sys.executable, "-m", "node.check_state", "--datadir", str(directory)]
    if json_:
        argv.append("--json")
    code = subprocess.run(argv, check=False).returncode
    if code:
        raise typer.Exit(code)


@app.command("status")
def status(ctx: typer.Context, node: NodeOption = None, json_: JsonOption = False) -> None:
    """Show a running node's identity, height, mempool and whether it validates."""
    from cli.remote import call
    from cli.render import show_node

    app_ctx = app_context(ctx)
    url = app_ctx.resolve_node(node)
    result = call(url, lambda client: client.status())
    if json_:
        app_ctx.output.json(result)
    else:
        show_node(app_ctx.output, result, url)
