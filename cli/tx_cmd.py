"""``agora tx``: sign transactions locally, submit them to a node, look them up."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.amounts import parse_amount
from cli.context import app_context
from cli.options import HomeOption, JsonOption, NodeOption, PasswordFileOption

app = typer.Typer(help="Send transactions (signed locally) and look them up.", no_args_is_help=True)

AMOUNT_HELP = "AGR as a decimal with up to 6 places (1.5), or minor units with a 'u' suffix (1500000u)."


@app.command("transfer")
def transfer(
    ctx: typer.Context,
    sender: Annotated[str, typer.Option("--from", help="Name of the wallet that pays and signs.")],
    to: Annotated[str, typer.Option("--to", help="Recipient: an agora1... address (or a local wallet name).")],
    amount: Annotated[str, typer.Option("--amount", help=f"Amount to send: {AMOUNT_HELP}")],
    asset: Annotated[str, typer.Option("--asset", help="Asset to send.")] = "AGR",
    fee: Annotated[
        str | None,
        typer.Option(
            "--fee", help="Fee in AGR, same syntax as --amount (default: the chain's minimum).", show_default=False
        ),
    ] = None,
    memo: Annotated[str, typer.Option("--memo", help="Public note for the recipient (at most 256 bytes).")] = "",
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for the block and show the receipt.")] = True,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, max=3600, help="Seconds to wait for the block.")
    ] = 30.0,
    check: Annotated[
        bool,
        typer.Option(
            "--check/--no-check",
            help="Refuse locally what the chain would fail: a transfer to yourself or beyond the committed "
            "balance (a failed transaction still costs its fee).",
        ),
    ] = True,
    home: HomeOption = None,
    node: NodeOption = None,
    password_file: PasswordFileOption = None,
    json_: JsonOption = False,
) -> None:
    """Send AGR (or another asset): sign with a local wallet, submit, and wait for the receipt."""
    from chain.address import decode_address
    from cli.errors import CliError
    from cli.passwords import get_password
    from cli.remote import call
    from cli.render import show_tx
    from cli.transfer import TransferRequest, send_transfer
    from cli.wallets import load_wallet_key, resolve_account, show_wallet

    app_ctx = app_context(ctx)
    home_dir = app_ctx.resolve_home(home)
    url = app_ctx.resolve_node(node)
    decimals = 6
    if asset != "AGR":  # an issued asset: its amounts are typed in its own unit
        from cli.asset_cmd import fetch_asset
        from cli.transfer import check_asset

        check_asset(asset)

        decimals = int(call(url, lambda client: fetch_asset(client, asset))["decimals"])
    request = TransferRequest(
        to=decode_address(resolve_account(home_dir, to)),
        amount=parse_amount(amount, decimals=decimals),
        asset=asset,
        fee=None if fee is None else parse_amount(fee, allow_zero=True),
        memo=memo,
        check=check,
    )
    show_wallet(home_dir, sender)
    key = load_wallet_key(home_dir, sender, get_password(password_file, confirm=False, what=f"wallet {sender!r}"))
    record = call(url, lambda client: send_transfer(client, key, request, wait=wait, commit_timeout=timeout))
    out = app_ctx.output
    if json_:
        out.json(record)
    elif not wait:
        out.fields("Transaction submitted", [("hash", record["hash"]), ("status", record["status"])])
        from cli.invocation import agora_markup

        out.info(f"follow it with  [bold]{agora_markup()} tx show {record['hash']}[/]")
    else:
        from cli.wallets import wallet_names

        show_tx(out, record, wallet_names(home_dir))
    receipt = record.get("receipt") or {}
    if wait and receipt.get("code") != "ok":
        raise CliError(f"transaction failed: {receipt.get('code')}: {receipt.get('message') or 'no message'}")


@app.command("show")
def show(
    ctx: typer.Context,
    tx_hash: Annotated[str, typer.Argument(metavar="HASH", help="Transaction hash (64 hex digits).")],
    node: NodeOption = None,
    json_: JsonOption = False,
) -> None:
    """Show a transaction, the block it is in and its receipt."""
    from cli.errors import CliError
    from cli.remote import call
    from cli.render import show_tx

    cleaned = tx_hash.strip().lower()
    if len(cleaned) != 64 or any(c not in "0123456789abcdef" for c in cleaned):
        raise CliError(f"bad transaction hash {tx_hash!r}: expected 64 hex digits")
    app_ctx = app_context(ctx)
    record = call(app_ctx.resolve_node(node), lambda client: client.tx(cleaned))
    if json_:
        app_ctx.output.json(record)
    else:
        from cli.wallets import wallet_names

        show_tx(app_ctx.output, record, wallet_names(app_ctx.home))
