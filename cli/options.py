"""Option types shared by the commands (Annotated, with help text), and the write commands' common options.

Every command that signs and sends a transaction takes the same options: ``--from`` (where
its ``how: WriteOptions`` parameter stands) and, after its own, ``--fee``,
``--wait/--no-wait``, ``--timeout``, ``--home``, ``--node``, ``--password-file`` and
``--json``. :func:`write_command` adds them to the command's signature (typer reads the
signature) and hands the command one :class:`WriteOptions`, so they are written once here.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

HomeOption = Annotated[
    Path | None,
    typer.Option("--home", help="Agora home: keys/ and node/ (env AGORA_HOME, default ~/.agora).", show_default=False),
]
NodeOption = Annotated[
    str | None,
    typer.Option(
        "--node", help="URL of the node (env AGORA_NODE, default http://127.0.0.1:26657).", show_default=False
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts) instead of tables.")]
PasswordFileOption = Annotated[
    Path | None,
    typer.Option(
        "--password-file",
        help="Read the password from the first line of this file (else $AGORA_PASSWORD, else a prompt).",
        show_default=False,
    ),
]
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


@dataclass(frozen=True, slots=True)
class WriteOptions:
    """A write command's common options as given (the fee still text: it is parsed when sending)."""

    sender: str
    """The wallet name that signs and pays the fee (``--from``)."""
    fee: str | None
    """As typed: AGR (1.5) or minor units (1500u); None = the chain's minimum fee."""
    wait: bool
    timeout: float
    home: Path | None
    node: str | None
    password_file: Path | None
    json: bool

    def fee_units(self) -> int | None:
        """The fee in minor units (None: the chain's minimum); CliError if it is not an amount."""
        from cli.amounts import parse_amount

        return None if self.fee is None else parse_amount(self.fee, allow_zero=True)


NO_SENDER = WriteOptions(
    sender="", fee=None, wait=True, timeout=30.0, home=None, node=None, password_file=None, json=False
)
"""The default of ``how`` where --from follows an optional argument, so needs a default: --from
then defaults to "" (and the command refuses it)."""


def _option(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default, annotation=annotation)


_TAIL = (
    _option("fee", FeeOption, None),
    _option("wait", WaitOption, True),
    _option("timeout", TimeoutOption, 30.0),
    _option("home", HomeOption, None),
    _option("node", NodeOption, None),
    _option("password_file", PasswordFileOption, None),
    _option("json_", JsonOption, False),
)
"""The options after a write command's own, in the order its help lists them."""


def _sender_default(default: Any) -> Any:
    return default.sender if isinstance(default, WriteOptions) else default


def write_command(*, wait_option: bool = True) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a write command the common options and pass them to it as ``how: WriteOptions``.

    The command declares ``how: WriteOptions`` where ``--from`` is to stand (``= NO_SENDER``
    after an optional argument: ``--from`` then defaults to ""); the rest follow its own
    options. Without ``wait_option`` there is no ``--wait/--no-wait`` and ``how.wait`` is
    True. Apply it below ``@app.command``.
    """

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        signature = inspect.signature(command, eval_str=True)
        if "how" not in signature.parameters:
            raise TypeError(f"{command.__name__}: a write command takes how: WriteOptions")
        tail = [p for p in _TAIL if wait_option or p.name != "wait"]
        params = [
            p.replace(name="sender", annotation=FromOption, default=_sender_default(p.default))
            if p.name == "how"
            else p
            for p in signature.parameters.values()
        ]

        @functools.wraps(command)
        def run(**kwargs: Any) -> None:
            how = WriteOptions(
                sender=kwargs.pop("sender"),
                fee=kwargs.pop("fee"),
                wait=kwargs.pop("wait", True),
                timeout=kwargs.pop("timeout"),
                home=kwargs.pop("home"),
                node=kwargs.pop("node"),
                password_file=kwargs.pop("password_file"),
                json=kwargs.pop("json_"),
            )
            command(**kwargs, how=how)

        new = signature.replace(parameters=[*params, *tail])
        run.__signature__ = new  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in new.parameters.values()} | {"return": None}
        return run

    return decorate
