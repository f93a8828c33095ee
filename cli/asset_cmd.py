"""``agora asset``: issue an asset, mint and burn it, freeze holders, list and show assets.

Amounts are typed in the asset's own unit (``--amount 12.50`` of a 2-decimal asset) or in
minor units with a ``u`` suffix. What the chain would refuse (minting by anyone but the
issuer or beyond the maximum supply, burning more than is held, an unknown asset) is refused
before signing, so no fee is spent; ``--force`` sends anyway.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.context import app_context
from cli.options import ForceOption, JsonOption, NodeOption, WriteOptions, write_command

if TYPE_CHECKING:
    from chain.keys import PrivateKey
    from node.client import NodeClient

app = typer.Typer(help="Issued assets: create, mint, burn, freeze; list and show.", no_args_is_help=True)

SymbolArgument = Annotated[str, typer.Argument(metavar="SYMBOL", help="The asset's symbol, e.g. USDX.")]
AmountOption = Annotated[
    str, typer.Option("--amount", help="In the asset's unit (12.5) or its minor units with a u suffix (1250u).")
]


def _symbol(text: str) -> str:
    from chain.encoding import DecodeError
    from cli.errors import CliError
    from market.assets.records import read_symbol

    try:
        return read_symbol(text.strip().upper())
    except DecodeError as exc:
        raise CliError(f"bad asset symbol: {exc}") from None


async def fetch_asset(client: NodeClient, symbol: str) -> dict[str, Any]:
    """The node's view of asset ``symbol``; CliError if nobody issued it."""
    from cli.remote import found_or_fail

    return await found_or_fail(client.asset(symbol), f"no asset {symbol} has been issued on this chain")


def _refuse(force: bool, message: str) -> None:
    from cli.errors import CliError

    if not force:
        raise CliError(f"{message} (nothing was signed; --force sends it anyway)")


@app.command("create")
@write_command()
def create(
    ctx: typer.Context,
    symbol: SymbolArgument,
    how: WriteOptions,
    name: Annotated[str, typer.Option("--name", help="Full name, e.g. 'US dollar token'.")],
    decimals: Annotated[int, typer.Option("--decimals", min=0, max=18, help="Digits after the point.")] = 2,
    max_supply: Annotated[
        str | None,
        typer.Option("--max-supply", help="Most units that may ever exist (default: no maximum).", show_default=False),
    ] = None,
    freeze_authority: Annotated[
        str | None,
        typer.Option(
            "--freeze-authority",
            help="Wallet or address that may freeze holders (default: nobody).",
            show_default=False,
        ),
    ] = None,
    purpose: Annotated[str, typer.Option("--purpose", help="What the asset is, and what backs it.")] = "",
) -> None:
    """Issue a new asset; you (the --from wallet) become its issuer, the only one who mints it."""
    from chain.address import decode_address
    from chain.encoding import DecodeError, decode, encode
    from cli.amounts import parse_amount
    from cli.errors import CliError
    from cli.market_tx import send_market_tx
    from cli.wallets import resolve_account
    from market.assets.bodies import AssetCreate

    app_ctx = app_context(ctx)
    code = _symbol(symbol)
    home_dir = app_ctx.resolve_home(how.home)
    cap = 0 if max_supply is None else parse_amount(max_supply, decimals=decimals)
    authority = b"" if freeze_authority is None else decode_address(resolve_account(home_dir, freeze_authority))
    body = AssetCreate(code, name, decimals, cap, authority, purpose)
    try:  # the chain's own bounds (name and purpose lengths), before anything is signed
        AssetCreate.from_wire(decode(encode(body.to_wire())))
    except DecodeError as exc:
        raise CliError(f"cannot create {code}: {exc}") from None

    async def build(client: NodeClient, _: PrivateKey) -> AssetCreate:
        from node.client import NodeApiError

        try:
            await client.asset(code)
        except NodeApiError as exc:
            if exc.reason != "not_found":
                raise
            return body
        raise CliError(f"the symbol {code} is already issued on this chain (nothing was signed)")

    send_market_tx(app_ctx, how, build)


@app.command("mint")
@write_command()
def mint(
    ctx: typer.Context,
    symbol: SymbolArgument,
    how: WriteOptions,
    to: Annotated[str, typer.Option("--to", help="Who receives the new units: a wallet name or an address.")],
    amount: AmountOption,
    force: ForceOption = False,
) -> None:
    """Create new units for an account (only the issuer; never beyond the maximum supply)."""
    from chain.address import decode_address, encode_address
    from cli.amounts import format_amount, parse_amount
    from cli.market_tx import send_market_tx
    from cli.wallets import resolve_account
    from market.assets.bodies import AssetMint

    app_ctx = app_context(ctx)
    code = _symbol(symbol)
    recipient = decode_address(resolve_account(app_ctx.resolve_home(how.home), to))

    async def build(client: NodeClient, key: PrivateKey) -> AssetMint:
        asset = await fetch_asset(client, code)
        units = parse_amount(amount, decimals=int(asset["decimals"]))
        if asset["issuer"] != encode_address(key.public_key):
            _refuse(force, f"only the issuer of {code} ({asset['issuer']}) may mint it")
        cap = asset.get("max_supply")
        if cap and int(asset["supply"]) + units > int(cap):
            d = int(asset["decimals"])
            _refuse(
                force,
                f"minting {format_amount(units, d)} {code} would exceed its maximum supply of "
                f"{format_amount(int(cap), d)} (supply now {format_amount(int(asset['supply']), d)})",
            )
        return AssetMint(code, recipient, units)

    send_market_tx(app_ctx, how, build)


@app.command("burn")
@write_command()
def burn(
    ctx: typer.Context, symbol: SymbolArgument, how: WriteOptions, amount: AmountOption, force: ForceOption = False
) -> None:
    """Destroy units of your own balance (an issuer redeeming them); the supply falls by as much."""
    from chain.address import encode_address
    from cli.amounts import format_amount, parse_amount
    from cli.market_tx import send_market_tx
    from cli.remote import fetch_account
    from market.assets.bodies import AssetBurn

    app_ctx = app_context(ctx)
    code = _symbol(symbol)

    async def build(client: NodeClient, key: PrivateKey) -> AssetBurn:
        asset = await fetch_asset(client, code)
        d = int(asset["decimals"])
        units = parse_amount(amount, decimals=d)
        held = int((await fetch_account(client, encode_address(key.public_key)))["balances"].get(code, 0))
        if held < units:
            _refuse(force, f"you hold {format_amount(held, d)} {code}, less than {format_amount(units, d)}")
        return AssetBurn(code, units)

    send_market_tx(app_ctx, how, build)


def _freeze(ctx: typer.Context, symbol: str, account: str, frozen: bool, force: bool, how: WriteOptions) -> None:
    from chain.address import decode_address, encode_address
    from cli.market_tx import send_market_tx
    from cli.wallets import resolve_account
    from market.assets.bodies import AssetFreeze

    how.fee_units()  # a bad --fee is refused before a bad account, as it always was
    app_ctx = app_context(ctx)
    code = _symbol(symbol)
    holder = decode_address(resolve_account(app_ctx.resolve_home(how.home), account))

    async def build(client: NodeClient, key: PrivateKey) -> AssetFreeze:
        asset = await fetch_asset(client, code)
        if asset.get("freeze_authority") is None:
            _refuse(force, f"{code} was issued with no freeze authority: nobody can freeze it")
        elif asset["freeze_authority"] != encode_address(key.public_key):
            _refuse(force, f"only {code}'s freeze authority ({asset['freeze_authority']}) may freeze it")
        return AssetFreeze(code, holder, frozen)

    send_market_tx(app_ctx, how, build)


@app.command("freeze")
@write_command()
def freeze(
    ctx: typer.Context,
    symbol: SymbolArgument,
    account: Annotated[str, typer.Argument(help="The holder: a wallet name or an address.")],
    how: WriteOptions,
    force: ForceOption = False,
) -> None:
    """Freeze a holder's balance of the asset: it cannot be spent until unfrozen (freeze authority only)."""
    _freeze(ctx, symbol, account, True, force, how)


@app.command("unfreeze")
@write_command()
def unfreeze(
    ctx: typer.Context,
    symbol: SymbolArgument,
    account: Annotated[str, typer.Argument(help="The holder: a wallet name or an address.")],
    how: WriteOptions,
    force: ForceOption = False,
) -> None:
    """Unfreeze a holder's balance of the asset (freeze authority only)."""
    _freeze(ctx, symbol, account, False, force, how)


def _asset_rows(asset: dict[str, Any]) -> list[tuple[str, Any]]:
    from cli.amounts import format_amount

    d = int(asset["decimals"])
    cap = asset.get("max_supply")
    return [
        ("symbol", asset["symbol"]),
        ("name", asset["name"]),
        ("supply", f"{format_amount(int(asset['supply']), d)} {asset['symbol']}"),
        ("max supply", "none" if not cap else f"{format_amount(int(cap), d)} {asset['symbol']}"),
        ("decimals", d),
        ("issuer", asset["issuer"]),
        ("freeze authority", asset.get("freeze_authority") or "none"),
        ("purpose", asset.get("purpose") or ""),
        ("issued at block", asset["created_height"]),
    ]


@app.command("show")
def show(ctx: typer.Context, symbol: SymbolArgument, node: NodeOption = None, json_: JsonOption = False) -> None:
    """Show an asset: supply, maximum, issuer, freeze authority and stated purpose."""
    from cli.remote import call

    app_ctx = app_context(ctx)
    code = _symbol(symbol)
    asset = call(app_ctx.resolve_node(node), lambda client: fetch_asset(client, code))
    if json_:
        app_ctx.output.json(asset)
    else:
        app_ctx.output.fields(f"Asset {code}", _asset_rows(asset))


@app.command("list")
def list_(ctx: typer.Context, node: NodeOption = None, json_: JsonOption = False) -> None:
    """List every issued asset with its supply (AGR, the native asset, is not issued and not listed)."""
    from cli.amounts import format_amount
    from cli.remote import call

    app_ctx = app_context(ctx)

    async def every(client: NodeClient) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        after: str | None = ""
        while after is not None and len(items) < 10_000:
            page = await client.assets(after=after or None)
            items.extend(page["items"])
            after = page.get("next")
        return items

    assets = call(app_ctx.resolve_node(node), every)
    if json_:
        app_ctx.output.json(assets)
        return
    rows = [(a["symbol"], a["name"], format_amount(int(a["supply"]), int(a["decimals"])), a["issuer"]) for a in assets]
    app_ctx.output.table("Issued assets", ["symbol", "name", "supply", "issuer"], rows)
