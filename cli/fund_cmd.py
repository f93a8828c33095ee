"""``agora fund``: transparent funds. An organisation opens one, anyone donates in any asset,
the organisation disburses with a stated reason (naming the order it paid for, if any), and
``trace`` shows where a donation went, first in, first out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.context import app_context
from cli.options import ForceOption, JsonOption, NodeOption, WriteOptions, write_command

if TYPE_CHECKING:
    from chain.keys import PrivateKey
    from node.client import NodeClient

app = typer.Typer(help="Transparent funds: open, donate, disburse, show, trace.", no_args_is_help=True)

FundId = Annotated[str, typer.Argument(metavar="FUND_ID", help="The fund's id (64 hex), printed by fund open.")]
AssetOption = Annotated[str, typer.Option("--asset", help="AGR or an issued asset's symbol.")]


async def fetch_fund(client: NodeClient, fund_id: str) -> dict[str, Any]:
    """The fund as the node sees it (all its entries); CliError if there is none."""
    from cli.remote import found_or_fail

    return await found_or_fail(client.fund(fund_id), f"no fund {fund_id} on this chain")


def _fund_id(text: str) -> str:
    from cli.market_tx import parse_id

    return parse_id(text, "fund id").hex()


@app.command("open")
@write_command()
def open_(
    ctx: typer.Context,
    how: WriteOptions,
    name: Annotated[str, typer.Option("--name", help="The fund's name.")],
    purpose: Annotated[str, typer.Option("--purpose", help="What the money is for, as donors should read it.")],
) -> None:
    """Open a fund that you (the --from wallet) run: only you disburse from it."""
    from cli.market_tx import send_market_tx
    from market.funds import FundOpen

    body = FundOpen(name, purpose)

    async def build(_client: NodeClient, _key: PrivateKey) -> FundOpen:
        return body

    send_market_tx(app_context(ctx), how, build, "fund")


@app.command("donate")
@write_command()
def donate(
    ctx: typer.Context,
    fund_id: FundId,
    how: WriteOptions,
    amount: Annotated[str, typer.Option("--amount", help="How much, in the asset's unit.")],
    asset: AssetOption = "AGR",
    memo: Annotated[str, typer.Option("--memo", help="A public note with the donation.")] = "",
    force: ForceOption = False,
) -> None:
    """Give to a fund, in AGR or any issued asset."""
    from cli.amounts import parse_amount
    from cli.market_tx import send_market_tx
    from cli.offer_cmd import _asset, decimals_of
    from market.funds import FundDonate

    fid, code = _fund_id(fund_id), _asset(asset, "--asset")

    async def build(client: NodeClient, key: PrivateKey) -> FundDonate:
        from chain.address import encode_address
        from cli.amounts import format_amount
        from cli.errors import CliError
        from cli.remote import fetch_account

        await fetch_fund(client, fid)
        decimals = await decimals_of(client, code)
        units = parse_amount(amount, decimals=decimals)
        held = int((await fetch_account(client, encode_address(key.public_key)))["balances"].get(code, 0))
        if held < units and not force:
            raise CliError(
                f"you hold {format_amount(held, decimals)} {code}, less than {format_amount(units, decimals)} "
                "(nothing was signed; --force sends it anyway)"
            )
        return FundDonate(bytes.fromhex(fid), code, units, memo)

    send_market_tx(app_context(ctx), how, build)


@app.command("disburse")
@write_command()
def disburse(
    ctx: typer.Context,
    fund_id: FundId,
    how: WriteOptions,
    to: Annotated[str, typer.Option("--to", help="Who is paid: a wallet name or an address.")],
    amount: Annotated[str, typer.Option("--amount", help="How much, in the asset's unit.")],
    reason: Annotated[str, typer.Option("--reason", help="Why, as donors will read it (required).")],
    asset: AssetOption = "AGR",
    order: Annotated[
        str | None, typer.Option("--order", help="The order this pays for (64 hex), if any.", show_default=False)
    ] = None,
    force: ForceOption = False,
) -> None:
    """Pay out of the fund you run, with a reason (and the order it paid for)."""
    from chain.address import decode_address, encode_address
    from cli.amounts import format_amount, parse_amount
    from cli.errors import CliError
    from cli.market_tx import parse_id, send_market_tx
    from cli.offer_cmd import _asset, decimals_of
    from cli.wallets import resolve_account
    from market.funds import FundDisburse, RefKind

    app_ctx = app_context(ctx)
    fid, code = _fund_id(fund_id), _asset(asset, "--asset")
    if not reason.strip():
        raise CliError("--reason must say what the money paid for")
    recipient = decode_address(resolve_account(app_ctx.resolve_home(how.home), to))
    ref = b"" if order is None else parse_id(order, "order id")

    async def build(client: NodeClient, key: PrivateKey) -> FundDisburse:
        fund = await fetch_fund(client, fid)
        decimals = await decimals_of(client, code)
        units = parse_amount(amount, decimals=decimals)
        if not force:
            if fund["organisation"] != encode_address(key.public_key):
                raise CliError(f"only the fund's organisation ({fund['organisation']}) may disburse from it")
            held = int(fund["holdings"].get(code, 0))
            if units > held:
                raise CliError(
                    f"the fund holds {format_amount(held, decimals)} {code}, less than "
                    f"{format_amount(units, decimals)} (nothing was signed; --force sends it anyway)"
                )
            if ref:
                await client.order(ref.hex())  # NodeApiError not_found names a missing order
        return FundDisburse(
            bytes.fromhex(fid), code, units, recipient, reason, RefKind.ORDER if ref else RefKind.NONE, ref
        )

    send_market_tx(app_ctx, how, build)


@app.command("show")
def show(ctx: typer.Context, fund_id: FundId, node: NodeOption = None, json_: JsonOption = False) -> None:
    """A fund's purpose, holdings, and every donation and disbursement."""
    from cli.remote import call

    app_ctx = app_context(ctx)
    fid = _fund_id(fund_id)
    fund = call(app_ctx.resolve_node(node), lambda client: fetch_fund(client, fid))
    if json_:
        app_ctx.output.json(fund)
        return
    out = app_ctx.output
    holdings = ", ".join(f"{units}u {asset}" for asset, units in sorted(fund["holdings"].items())) or "nothing"
    out.fields(
        f"Fund {fund['name']}",
        [
            ("id", fund["id"]),
            ("organisation", fund["organisation"]),
            ("purpose", fund["purpose"]),
            ("holds (minor units)", holdings),
            ("donations", fund["donation_count"]),
            ("disbursements", fund["disbursement_count"]),
        ],
    )
    out.table(
        "Donations",
        ["#", "donor", "amount", "block", "memo"],
        [(d["index"], d["donor"], f"{d['amount']}u {d['asset']}", d["height"], d["memo"]) for d in fund["donations"]],
    )
    out.table(
        "Disbursements",
        ["#", "to", "amount", "block", "reason", "paid for"],
        [
            (
                x["index"],
                x["to"],
                f"{x['amount']}u {x['asset']}",
                x["height"],
                x["reason"],
                "" if x["paid_for"] is None else f"{x['paid_for']['kind']} {x['paid_for']['id'][:16]}…",
            )
            for x in fund["disbursements"]
        ],
    )


@app.command("trace")
def trace(
    ctx: typer.Context,
    fund_id: FundId,
    donation: Annotated[
        int, typer.Argument(metavar="DONATION", min=0, help="The donation's index (fund show lists them).")
    ],
    node: NodeOption = None,
    json_: JsonOption = False,
) -> None:
    """Where a donation went, first in, first out: each disbursement that spent it, and what is still held."""
    from cli.errors import CliError
    from cli.remote import call
    from node.client import NodeApiError

    app_ctx = app_context(ctx)
    fid = _fund_id(fund_id)

    async def read(client: NodeClient) -> dict[str, Any]:
        try:
            return await client.fund_trace(fid, donation)
        except NodeApiError as exc:
            if exc.reason == "not_found":
                raise CliError(exc.detail) from None
            raise

    result = call(app_ctx.resolve_node(node), read)
    if json_:
        app_ctx.output.json(result)
        return
    d = result["donation"]
    out = app_ctx.output
    out.fields(
        f"Donation {d['index']}",
        [
            ("donor", d["donor"]),
            ("amount", f"{d['amount']}u {d['asset']}"),
            ("still held by the fund", f"{result['still_held']}u {d['asset']}"),
        ],
    )
    out.table(
        "went to",
        ["disbursement", "to", "from this donation", "reason", "block"],
        [(x["index"], x["to"], f"{x['from_this_donation']}u", x["reason"], x["height"]) for x in result["went_to"]],
    )
