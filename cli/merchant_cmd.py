"""``agora merchant``: a merchant's standing as the chain records it (reputation and ratings)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.context import app_context
from cli.options import HomeOption, JsonOption, NodeOption

if TYPE_CHECKING:
    from node.client import NodeClient

app = typer.Typer(help="Merchants: reputation and ratings, as the chain records them.", no_args_is_help=True)


async def ratings_of(client: NodeClient, merchant: str) -> dict[str, Any]:
    """How many of ``merchant``'s reviews gave each rating 1..5, from the node's KPI counters
    (GET /api/v1/market/stats?merchant=: kept block by block, so always complete)."""
    stats = await client.market_stats(merchant, days=1)
    distribution = (stats.get("ratings") or {}).get("distribution") or {}
    return {"counts": {str(r): int(distribution.get(str(r), 0)) for r in range(1, 6)}, "complete": True}


@app.command("show")
def show(
    ctx: typer.Context,
    merchant: Annotated[str, typer.Argument(metavar="MERCHANT", help="The merchant: an address or a wallet name.")],
    home: HomeOption = None,
    node: NodeOption = None,
    json_: JsonOption = False,
) -> None:
    """A merchant's reputation (reviews, mean rating, closed, settled, refunded and disputed orders,
    dispute rate) and how many reviews gave each rating."""
    from cli.market_render import show_ratings, show_reputation
    from cli.remote import call
    from cli.wallets import resolve_account

    app_ctx = app_context(ctx)
    address = resolve_account(app_ctx.resolve_home(home), merchant)

    async def fetch(client: NodeClient) -> tuple[dict[str, Any], dict[str, Any]]:
        return await client.reputation(address), await ratings_of(client, address)

    reputation, ratings = call(app_ctx.resolve_node(node), fetch)
    if json_:
        app_ctx.output.json({**reputation, "ratings": ratings})
        return
    show_reputation(app_ctx.output, reputation)
    show_ratings(app_ctx.output, ratings)
