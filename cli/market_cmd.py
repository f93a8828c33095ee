"""``agora market``: the marketplace's KPIs, chain-wide or of one merchant (GET /api/v1/market/stats)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.context import app_context
from cli.options import HomeOption, JsonOption, NodeOption

if TYPE_CHECKING:
    from node.client import NodeClient

app = typer.Typer(help="The marketplace as a whole: its KPIs.", no_args_is_help=True)


@app.command("stats")
def stats(
    ctx: typer.Context,
    merchant: Annotated[
        str | None, typer.Option("--merchant", "-m", help="One merchant's KPIs: an address or a wallet name.")
    ] = None,
    days: Annotated[int, typer.Option("--days", min=1, max=366, help="Days of sales per day to show.")] = 7,
    home: HomeOption = None,
    node: NodeOption = None,
    json_: JsonOption = False,
) -> None:
    """Sales volume, orders by state, time to settlement (mean, p90), return, refund, dispute and
    repeat-purchase rates, ratings and fees per order, as the node keeps them block by block."""
    from cli.market_render import show_stats
    from cli.remote import call
    from cli.wallets import resolve_account

    app_ctx = app_context(ctx)
    address = None if merchant is None else resolve_account(app_ctx.resolve_home(home), merchant)

    async def fetch(client: NodeClient) -> dict[str, Any]:
        return await client.market_stats(address, days)

    result = call(app_ctx.resolve_node(node), fetch)
    if json_:
        app_ctx.output.json(result)
        return
    show_stats(app_ctx.output, result)
