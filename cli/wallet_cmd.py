"""``agora wallet``: encrypted keys in $AGORA_HOME/keys and their balances on a node."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cli.amounts import format_amount
from cli.context import app_context
from cli.options import HomeOption, JsonOption, NodeOption, PasswordFileOption
from cli.passwords import get_password
from cli.wallets import create_wallet, list_wallets, resolve_account, show_wallet

app = typer.Typer(help="Create and inspect wallets (encrypted keys) and their balances.", no_args_is_help=True)

NameArgument = Annotated[str, typer.Argument(help="Wallet name (the file keys/<name>.json under the home).")]


@app.command("new")
def new(
    ctx: typer.Context, name: NameArgument, home: HomeOption = None, password_file: PasswordFileOption = None
) -> None:
    """Create a new wallet: a fresh Ed25519 key, encrypted with your password (argon2id + secret box)."""
    app_ctx = app_context(ctx)
    home_dir = app_ctx.resolve_home(home)
    password = get_password(password_file, confirm=True, what=f"new wallet {name!r}")
    wallet = create_wallet(home_dir, name, password)
    app_ctx.output.fields("New wallet", [("name", wallet.name), ("address", wallet.address), ("file", wallet.path)])


@app.command("list")
def list_(ctx: typer.Context, home: HomeOption = None, json_: JsonOption = False) -> None:
    """List the wallets in the home directory."""
    app_ctx = app_context(ctx)
    home_dir = app_ctx.resolve_home(home)
    wallets, problems = list_wallets(home_dir)
    out = app_ctx.output
    for problem in problems:
        out.info(f"[yellow]warning:[/] skipped {problem}")
    if json_:
        out.json([{"name": w.name, "address": w.address, "file": str(w.path)} for w in wallets])
        return
    if not wallets:
        out.info(f"no wallets in {home_dir / 'keys'} (create one with `agora wallet new NAME`)")
        return
    out.table(None, ["name", "address"], [(w.name, w.address) for w in wallets])


@app.command("show")
def show(ctx: typer.Context, name: NameArgument, home: HomeOption = None, json_: JsonOption = False) -> None:
    """Show a wallet's address and public key (no password needed)."""
    from chain.address import decode_address

    app_ctx = app_context(ctx)
    wallet = show_wallet(app_ctx.resolve_home(home), name)
    public_key = decode_address(wallet.address).hex()
    if json_:
        app_ctx.output.json(
            {"name": wallet.name, "address": wallet.address, "public_key": public_key, "file": str(wallet.path)}
        )
        return
    app_ctx.output.fields(
        f"Wallet {wallet.name}",
        [("address", wallet.address), ("public key", public_key), ("file", wallet.path)],
    )


def balance_rows(account: dict[str, Any], decimals: dict[str, int] | None = None) -> list[tuple[str, str, int]]:
    """(asset, amount, minor units) rows, AGR first even when it is zero; each issued asset in
    its own unit when ``decimals`` knows it (else in minor units)."""
    balances: dict[str, int] = dict(account.get("balances") or {})
    balances.setdefault("AGR", 0)
    ordered = sorted(balances.items(), key=lambda item: (item[0] != "AGR", item[0]))
    known = {"AGR": 6, **(decimals or {})}
    return [
        (asset, format_amount(amount, known[asset]) if asset in known else f"{amount}u", amount)
        for asset, amount in ordered
    ]


async def account_with_decimals(client: Any, address: str) -> tuple[dict[str, Any], dict[str, int]]:
    """The node's view of ``address`` and the decimals of every issued asset it holds."""
    from cli.remote import fetch_account
    from node.client import NodeApiError

    account = await fetch_account(client, address)
    decimals: dict[str, int] = {}
    for asset in account.get("balances") or {}:
        if asset != "AGR":
            try:
                decimals[asset] = int((await client.asset(asset))["decimals"])
            except NodeApiError:
                continue
    return account, decimals


@app.command("balance")
def balance(
    ctx: typer.Context,
    account: Annotated[str, typer.Argument(help="A wallet name, an agora1... address or a 64-hex public key.")],
    home: HomeOption = None,
    node: NodeOption = None,
    json_: JsonOption = False,
) -> None:
    """Show an account's balances (and nonce) as the node sees them."""
    from cli.remote import call

    app_ctx = app_context(ctx)
    address = resolve_account(app_ctx.resolve_home(home), account)
    result, decimals = call(app_ctx.resolve_node(node), lambda client: account_with_decimals(client, address))
    if json_:
        app_ctx.output.json(result)
        return
    app_ctx.output.fields(None, [("address", address), ("nonce", result.get("nonce", 0))])
    app_ctx.output.table(None, ["asset", "balance", "minor units"], balance_rows(result, decimals))
