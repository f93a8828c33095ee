"""The ``agora`` command: a root Typer app joining one sub-app per command group."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from cli import (
    asset_cmd,
    chain_cmd,
    finance_cmd,
    fund_cmd,
    listing_cmd,
    market_cmd,
    merchant_cmd,
    node_cmd,
    offer_cmd,
    order_cmd,
    points_cmd,
    testnet_cmd,
    trace_cmd,
    tx_cmd,
    verify_cmd,
    wallet_cmd,
)
from cli.context import DEFAULT_NODE, HOME_ENV, NODE_ENV, AppContext, default_home
from cli.demo_cmd import demo
from cli.errors import describe
from cli.helptext import reflow_command_tree
from cli.init_cmd import init
from cli.output import Output


class AgoraGroup(TyperGroup):
    """Turns every expected error raised by any command into one line on stderr and exit code 1.

    Built once the whole command tree is, it reflows every command's help (:func:`cli.helptext.reflow`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        reflow_command_tree(self)

    def invoke(self, ctx: Any) -> Any:
        """Run the command; expected errors exit 1 with their message, bugs still raise."""
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            Output().info("interrupted")
            raise typer.Exit(130) from None
        except Exception as exc:
            message = describe(exc)
            if message is None:
                raise
            Output().fail(message)


app = typer.Typer(
    cls=AgoraGroup,
    name="agora",
    help="Agora: a peer-to-peer marketplace chain. Run `agora demo` for a tour.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
app.add_typer(node_cmd.app, name="node")
app.add_typer(wallet_cmd.app, name="wallet")
app.add_typer(tx_cmd.app, name="tx")
app.add_typer(chain_cmd.app, name="chain")
app.add_typer(listing_cmd.app, name="listing")
app.add_typer(order_cmd.app, name="order")
app.add_typer(merchant_cmd.app, name="merchant")
app.add_typer(market_cmd.app, name="market")
app.add_typer(testnet_cmd.app, name="testnet")
app.add_typer(verify_cmd.app, name="verify")
app.add_typer(asset_cmd.app, name="asset")
app.add_typer(offer_cmd.app, name="offer")
app.add_typer(fund_cmd.app, name="fund")
app.add_typer(points_cmd.app, name="points")
app.add_typer(finance_cmd.app, name="finance")
app.add_typer(trace_cmd.app, name="trace")
app.command("init")(init)
app.command("demo")(demo)

COMMANDS_GROUP = "agora.commands"
"""Entry points of command groups mounted by name (``agora bench``: the bench package, pyproject.toml)."""


def _mount_entry_points() -> None:
    """Add the Typer apps the installed distributions register under COMMANDS_GROUP.

    They are loaded by name, not imported here: bench/ sits beside cli/ and may use what the
    CLI may not (storage, in-process trees), so cli/ never depends on it.
    """
    from importlib.metadata import entry_points

    for ep in sorted(entry_points(group=COMMANDS_GROUP), key=lambda e: e.name):
        app.add_typer(ep.load(), name=ep.name)


_mount_entry_points()


@app.callback()
def root(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home", envvar=HOME_ENV, help="Agora home: wallet keys and the default node datadir (~/.agora)."
        ),
    ] = None,
    node: Annotated[str, typer.Option("--node", envvar=NODE_ENV, help="URL of the node to talk to.")] = DEFAULT_NODE,
) -> None:
    """Agora: a peer-to-peer marketplace chain. Start with `agora demo` or `agora init`."""
    ctx.obj = AppContext(home=(home or default_home()).expanduser(), node_url=node)


def main() -> None:
    """Console-script entry point (``agora``)."""
    app()
