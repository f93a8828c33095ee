"""Former home of the write options; they live in :mod:`cli.options` (this goes once no command imports it)."""

from __future__ import annotations

from pathlib import Path

from cli.market_tx import Sending
from cli.options import FeeOption, ForceOption, FromOption, TimeoutOption, WaitOption, WriteOptions

__all__ = ["FeeOption", "ForceOption", "FromOption", "Sending", "TimeoutOption", "WaitOption", "sending"]


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
    return WriteOptions(sender, fee, wait, timeout, home, node, password_file, json_).sending()
