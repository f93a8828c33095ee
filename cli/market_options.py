"""Option types shared by the ``listing`` and ``order`` commands (Annotated, with help text)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.amounts import parse_amount
from cli.market_tx import Sending

FromOption = Annotated[str, typer.Option("--from", help="Name of the wallet that signs and pays the fee.")]
FeeOption = Annotated[
    str | None,
    typer.Option(
        "--fee", help="Fee in AGR (1.5) or minor units (1500u); default: the chain's minimum.", show_default=False
    ),
]
WaitOption = Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for the block and show the receipt.")]
ForceOption = Annotated[
    bool,
    typer.Option("--force", help="Sign and send even if the order's state or your role says the chain will refuse it."),
]
TimeoutOption = Annotated[float, typer.Option("--timeout", min=0.1, max=3600, help="Seconds to wait for the block.")]


def sending(
    sender: str,
    fee: str | None,
    wait: bool,
    timeout: float,
    home: Path | None,
    node: str | None,
    password_file: Path | None,
    json_: bool,
) -> Sending:
    """The Sending of a write command's common options (the fee parsed to minor units)."""
    return Sending(
        sender=sender,
        fee=None if fee is None else parse_amount(fee, allow_zero=True),
        wait=wait,
        timeout=timeout,
        home=home,
        node=node,
        password_file=password_file,
        json=json_,
    )
