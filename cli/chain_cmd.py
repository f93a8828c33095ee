"""``agora chain``: the chain as a node sees it — head, status, blocks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.context import app_context
from cli.options import JsonOption, NodeOption

if TYPE_CHECKING:
    from node.client import NodeClient

app = typer.Typer(help="Inspect the chain: status, blocks, supply; replay it.", no_args_is_help=True)


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


@app.command("replay")
def replay(
    ctx: typer.Context,
    to: Annotated[int | None, typer.Option("--to", min=0, help="Replay up to this height (default: the head).")] = None,
    node: NodeOption = None,
    json_: JsonOption = False,
) -> None:
    """Re-execute the node's chain from its genesis using only its public API, and compare.

    Every block is executed again here (signatures, rules, state and results roots), its
    receipts and block events compared with the node's; at the head, every balance and nonce
    the node lists is compared with the replayed state. Exits 1 at the first difference.
    The replayed state is held in memory.
    """
    from cli.errors import CliError
    from cli.remote import call
    from cli.render import show_replay
    from cli.replay import ReplayMismatch, replay_chain

    app_ctx = app_context(ctx)
    try:
        report = call(app_ctx.resolve_node(node), lambda client: replay_chain(client, to))
    except ReplayMismatch as exc:
        raise CliError(f"the chain does not replay: {exc}") from None
    if json_:
        app_ctx.output.json(report.to_json())
    else:
        show_replay(app_ctx.output, report.to_json())
    if report.mismatches:
        app_ctx.output.fail(f"{len(report.mismatches)} account(s) differ from the replay: {report.mismatches[0]}")
