"""``agora init``: a wallet key, a validator key and a dev-chain node datadir in one go."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Final

import typer

from cli.amounts import format_amount
from cli.context import app_context, default_home
from cli.errors import CliError
from cli.options import HomeOption, PasswordFileOption
from cli.passwords import get_password
from cli.wallets import Wallet, check_name, wallet_path

NODE_DIR: Final = "node"
GENESIS_FUNDS: Final = 10**12
"""1,000,000 AGR (in minor units) for the first wallet of a dev chain."""


@dataclass(frozen=True, slots=True)
class InitResult:
    """What ``agora init`` created."""

    home: Path
    wallet: Wallet
    datadir: Path
    validator_address: str
    chain_id: str


def node_datadir(home: Path) -> Path:
    """The default node datadir of ``home``."""
    return home / NODE_DIR


def initialize(home: Path, chain_id: str, name: str, password: str) -> InitResult:
    """Create wallet ``name`` and a single-validator dev chain datadir under ``home``.

    Refuses (CliError) a home that already holds this wallet or a node datadir; nothing is
    written unless the checks pass. The wallet is funded with GENESIS_FUNDS minor units of AGR.
    """
    from chain.address import encode_address
    from chain.keys import PrivateKey
    from cli.wallets import create_wallet
    from node.datadir import dev_genesis, init_datadir

    check_name(name)
    datadir = node_datadir(home)
    key_file = wallet_path(home, name)
    for existing in (key_file, datadir):
        if _occupied(existing):
            raise CliError(f"{home} is already an Agora home ({existing} exists); use another --home or remove it")
    wallet_key = PrivateKey.generate()
    validator_key = PrivateKey.generate()
    genesis = dev_genesis(chain_id, [validator_key.public_key], {wallet_key.public_key: GENESIS_FUNDS})
    init_datadir(datadir, genesis, validator_key, password)
    wallet = create_wallet(home, name, password, key=wallet_key)
    return InitResult(home, wallet, datadir, encode_address(validator_key.public_key), chain_id)


def _occupied(path: Path) -> bool:
    return path.exists() and (not path.is_dir() or any(path.iterdir()))


def home_flag(home: Path) -> str:
    """`` --home H`` when ``home`` is not the default, so printed commands work as shown."""
    return "" if home == default_home() else f" --home {home}"


def init(
    ctx: typer.Context,
    home: HomeOption = None,
    chain_id: Annotated[str, typer.Option("--chain-id", help="Chain id of the new dev chain.")] = "agora-dev",
    name: Annotated[str, typer.Option("--name", help="Name of the first wallet.")] = "default",
    password_file: PasswordFileOption = None,
) -> None:
    """Create a wallet, a validator key and a dev-chain node datadir (wallet funded with 1,000,000 AGR)."""
    app = app_context(ctx)
    home_dir = app.resolve_home(home)
    password = get_password(password_file, confirm=True, what="new keys")
    result = initialize(home_dir, chain_id, name, password)
    out = app.output
    out.fields(
        "Agora home initialised",
        [
            ("chain id", result.chain_id),
            ("wallet", result.wallet.name),
            ("address", result.wallet.address),
            ("balance", f"{format_amount(GENESIS_FUNDS)} AGR"),
            ("validator", result.validator_address),
            ("keys", str(result.wallet.path.parent)),
            ("datadir", str(result.datadir)),
        ],
    )
    from rich.markup import escape

    from cli.invocation import agora_command

    out.info(f"next: start the node with  [bold]{escape(agora_command())} node run{escape(home_flag(home_dir))}[/]")
