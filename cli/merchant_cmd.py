"""``agora merchant``: a merchant's standing as the chain records it (reputation and ratings)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Final

import typer

from cli.context import app_context
from cli.options import HomeOption, JsonOption, NodeOption

if TYPE_CHECKING:
    from node.client import NodeClient

app = typer.Typer(help="Merchants: reputation and ratings, as the chain records them.", no_args_is_help=True)

MAX_ORDER_PAGES: Final = 10
"""Rating counts read at most this many pages of 100 orders; beyond that they are marked partial."""


async def ratings_of(client: NodeClient, merchant: str) -> dict[str, Any]:
    """How many of ``merchant``'s reviews gave each rating 1..5, from its orders' reviews.

    ``complete`` is False when the merchant has more than MAX_ORDER_PAGES pages of orders
    (the counts then cover only the oldest of them).
    """
    counts = {str(r): 0 for r in range(1, 6)}
    cursor: str | None = None
    for _ in range(MAX_ORDER_PAGES):
        page = await client.orders(merchant=merchant, limit=100, cursor=cursor)
        for order in page.get("items") or []:
            review = order.get("review")
            if review and str(review.get("rating")) in counts:
                counts[str(review["rating"])] += 1
        cursor = page.get("next_cursor")
        if not cursor:
            return {"counts": counts, "complete": True}
    return {"counts": counts, "complete": False}


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
