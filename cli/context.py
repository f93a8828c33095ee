"""The typed context object every command receives through ``ctx.obj``."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import typer

from cli.output import Output

DEFAULT_NODE: Final = "http://127.0.0.1:26657"
HOME_ENV: Final = "AGORA_HOME"
NODE_ENV: Final = "AGORA_NODE"
PASSWORD_ENV: Final = "AGORA_PASSWORD"


def default_home() -> Path:
    """~/.agora: where keys and the default node datadir live unless --home/AGORA_HOME says otherwise."""
    return Path(os.path.expanduser("~")) / ".agora"


@dataclass(slots=True)
class AppContext:
    """Settings given on the root command (or by environment) plus the output helpers."""

    home: Path
    """The Agora home directory: keys/ and the default node datadir node/."""
    node_url: str
    """Base URL of the node to talk to."""
    output: Output = field(default_factory=Output)

    def resolve_home(self, override: Path | None) -> Path:
        """The home directory: a command's own --home wins over the root one."""
        return (override or self.home).expanduser()

    def resolve_node(self, override: str | None) -> str:
        """The node URL: a command's own --node wins over the root one; CliError if it is not a usable URL."""
        from cli.node_url import check_node_url

        return check_node_url(override or self.node_url)


def app_context(ctx: typer.Context) -> AppContext:
    """Return the AppContext set by the root callback (or a default one, for a bare sub-app)."""
    obj = ctx.find_object(AppContext)
    if obj is None:
        home = Path(os.environ.get(HOME_ENV) or default_home())
        obj = AppContext(home=home, node_url=os.environ.get(NODE_ENV) or DEFAULT_NODE)
        ctx.obj = obj
    return obj
