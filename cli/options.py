"""Option types shared by the commands (Annotated, with help text)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
