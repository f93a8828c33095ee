"""``agora chain``: the chain as a node sees it — head, status, blocks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.context import app_context
from cli.options import JsonOption, NodeOption

if TYPE_CHECKING:
    from node.client import NodeClient

app = typer.Typer(help="Inspect the chain: status, blocks and supply.", no_args_is_help=True)


async def _status_and_head(client: NodeClient) -> tuple[dict[str, Any], dict[str, Any]]:
    return await client.status(), await client.head()


@app.command("status")
def status(ctx: typer.Context, node: NodeOption = None, json_: JsonOption = False) -> None:
    """Show the chain id, height, head block and mempool of a node."""
    from cli.remote import call
    from cli.render import show_chain

    app_ctx = app_context(ctx)
    status, head = call(app_ctx.resolve_node(node), _status_and_head)
    if json_:
        app_ctx.output.json({**status, "head": head})
    else:
        show_chain(app_ctx.output, status, head)


@app.command("block")
def block(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(metavar="HEIGHT|HASH", help="Block height, or block hash (64 hex digits).")],
    node: NodeOption = None,
    json_: JsonOption = False,
) -> None:
    """Show one block: its header and transaction hashes."""
    from cli.errors import CliError
    from cli.remote import call
    from cli.render import show_block

    cleaned = ref.strip().lower()
    target: int | str
    if cleaned.isascii() and cleaned.isdigit() and len(cleaned) <= 20:
        target = int(cleaned)
    elif len(cleaned) == 64 and all(c in "0123456789abcdef" for c in cleaned):
        target = cleaned
    else:
        raise CliError(f"bad block reference {ref!r}: give a height or a 64-hex-digit block hash")
    app_ctx = app_context(ctx)
    result = call(app_ctx.resolve_node(node), lambda client: client.block(target))
    if json_:
        app_ctx.output.json(result)
    else:
        show_block(app_ctx.output, result)


@app.command("supply")
def supply(ctx: typer.Context, node: NodeOption = None, json_: JsonOption = False) -> None:
    """Show, per asset, the total supply and where it is: in accounts, in escrow; and the fees paid.

    The node recounts every balance and escrow; the command fails (exit 1) if they do not add
    up to the supply.
    """
    from cli.remote import call
    from cli.render import show_supply

    app_ctx = app_context(ctx)
    result = call(app_ctx.resolve_node(node), lambda client: client.supply())
    if json_:
        app_ctx.output.json(result)
    else:
        show_supply(app_ctx.output, result)
    unbalanced = [a.get("asset") for a in result.get("assets") or [] if a.get("balanced") is not True]
    if unbalanced:
        app_ctx.output.fail(f"the totals do not add up for {', '.join(map(str, unbalanced))}")
