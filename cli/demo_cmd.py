"""``agora demo``: a dev chain from nothing to a committed transfer, non-interactively."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer

from cli.context import app_context

if TYPE_CHECKING:
    from chain.keys import PrivateKey
    from cli.output import Output
    from cli.process import NodeProcess
    from cli.transfer import TransferRequest
    from node.client import NodeClient

DEMO_CHAIN_ID: Final = "agora-demo"
PASSWORD_FILE: Final = "demo-password.txt"
STEPS: Final = 5


def _step(out: Output, number: int, text: str) -> None:
    out.info(f"[bold cyan][{number}/{STEPS}][/] {text}")


def _write_password(home: Path, password: str) -> Path:
    path = home / PASSWORD_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(password + "\n")
    return path


async def _wait_ready(client: NodeClient, deadline: float) -> None:
    from cli.errors import CliError

    try:
        await client.wait_ready(max(0.1, deadline - time.monotonic()))
    except TimeoutError as exc:
        raise CliError(str(exc)) from None


async def _transfer_and_look(
    client: NodeClient, key: PrivateKey, request: TransferRequest, addresses: list[str], commit_timeout: float
) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    from cli.remote import fetch_account
    from cli.transfer import send_transfer

    record = await send_transfer(client, key, request, wait=True, commit_timeout=commit_timeout)
    block = await client.block(int(record["height"]))
    accounts = [await fetch_account(client, address) for address in addresses]
    return record, block, accounts


def demo(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            help="Directory for the demo (must not hold an Agora home) (default: a fresh temp dir).",
            show_default=False,
        ),
    ] = None,
    amount: Annotated[str, typer.Option("--amount", help="AGR to send from alice to bob (1.5 or 1500000u).")] = "25",
    keep: Annotated[
        bool, typer.Option("--keep", help="Leave the node running afterwards (prints how to stop it).")
    ] = False,
    timeout: Annotated[float, typer.Option("--timeout", min=1, max=600, help="Seconds allowed for each wait.")] = 30.0,
) -> None:
    """Start a single-node dev chain, send a transfer with the CLI, show the block and balances, stop."""
    from chain.address import decode_address
    from cli.amounts import format_amount, parse_amount
    from cli.errors import CliError
    from cli.init_cmd import initialize
    from cli.process import start_node
    from cli.remote import call
    from cli.render import show_block, show_tx
    from cli.transfer import TransferRequest
    from cli.wallets import create_wallet, load_wallet_key

    out = app_context(ctx).output
    minor = parse_amount(amount)
    temporary = home is None
    home_dir = Path(tempfile.mkdtemp(prefix="agora-demo-")) if home is None else home.expanduser().resolve()
    password = secrets.token_urlsafe(24)
    node = None
    succeeded = False
    try:
        _step(out, 1, f"creating a dev chain in {home_dir}")
        home_dir.mkdir(parents=True, exist_ok=True)
        result = initialize(home_dir, DEMO_CHAIN_ID, "alice", password)
        _write_password(home_dir, password)

        _step(out, 2, "starting the node (agora node run) on a free loopback port")
        deadline = time.monotonic() + timeout
        node = start_node(home_dir, password, home_dir / "logs")
        with out.err.status("waiting for the node to be ready ..."):
            url = node.wait_listening(timeout)
            call(url, lambda client: _wait_ready(client, deadline))
        out.info(f"      node ready at {url} (pid {node.pid})")

        _step(out, 3, "creating a second wallet, bob")
        bob = create_wallet(home_dir, "bob", password)
        key = load_wallet_key(home_dir, "alice", password)

        _step(
            out,
            4,
            f"sending {format_amount(minor)} AGR from alice to bob (signed locally, submitted, waiting for the block)",
        )
        request = TransferRequest(to=decode_address(bob.address), amount=minor, memo="hello from agora demo")
        addresses = [result.wallet.address, bob.address]
        with out.err.status("waiting for the transaction to be committed ..."):
            record, block, accounts = call(
                url, lambda client: _transfer_and_look(client, key, request, addresses, timeout)
            )
        show_tx(out, record)
        if (record.get("receipt") or {}).get("code") != "ok":
            raise CliError(f"the demo transfer failed: {record.get('receipt')}")
        show_block(out, block)
        _show_balances(out, ["alice", "bob"], accounts)
        _show_endpoints(out, url)
        succeeded = True
    finally:
        _finish(out, node, home_dir, keep=keep, succeeded=succeeded, temporary=temporary)
    out.info("[bold green]demo complete[/]")


def _finish(out: Output, node: NodeProcess | None, home: Path, *, keep: bool, succeeded: bool, temporary: bool) -> None:
    """Stop the node (unless kept after success) and remove a temporary home after success."""
    _step(out, 5, "finishing")
    if node is not None and keep and succeeded:
        flags = f"--home {home} --node {node.url}"
        out.info(f"      the node keeps running (pid {node.pid}); stop it with:  [bold]kill {node.pid}[/]")
        out.info(f"      try:  agora {flags} chain status")
        out.info(f"            agora {flags} wallet balance bob --json")
        out.info(f"      wallet password (dev only): {home / PASSWORD_FILE}")
        return
    if node is not None:
        code = node.stop()
        out.info("      node stopped cleanly" if code == 0 else f"      node stopped with exit code {code}")
    if temporary and succeeded:
        shutil.rmtree(home, ignore_errors=True)
        out.info(f"      removed {home}")
    else:
        out.info(f"      files kept in {home}")


def _show_balances(out: Output, names: list[str], accounts: list[dict[str, Any]]) -> None:
    from cli.render import agr

    rows = []
    for name, account in zip(names, accounts, strict=True):
        rows.append(
            (
                name,
                account.get("address"),
                agr(int((account.get("balances") or {}).get("AGR", 0))),
                account.get("nonce"),
            )
        )
    out.table("Balances", ["wallet", "address", "AGR", "nonce"], rows)


def _show_endpoints(out: Output, url: str) -> None:
    out.table(
        "Endpoints",
        ["what", "URL"],
        [
            ("client API", f"{url}/api/v1"),
            ("status", f"{url}/api/v1/status"),
            ("OpenAPI", f"{url}/api/v1/openapi.json"),
            ("metrics", f"{url}/metrics"),
            ("health", f"{url}/healthz"),
        ],
    )
