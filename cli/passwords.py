"""Where a password comes from: --password-file, then AGORA_PASSWORD, then a hidden prompt.

There is deliberately no ``--password`` flag: it would end up in shell history and ``ps``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Final

import typer

from cli.context import PASSWORD_ENV
from cli.errors import CliError

MAX_PASSWORD_FILE: Final = 4096
MAX_PASSWORD: Final = 1024


def _checked(password: str, source: str) -> str:
    if not password:
        raise CliError(f"the password from {source} is empty")
    if len(password) > MAX_PASSWORD:
        raise CliError(f"the password from {source} is longer than {MAX_PASSWORD} characters")
    return password


def read_password_file(path: Path) -> str:
    """Return the first line of ``path`` without its line ending; CliError if missing, empty or huge."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_PASSWORD_FILE + 1)
    except OSError as exc:
        raise CliError(f"cannot read password file {path}: {exc.strerror}") from None
    if len(data) > MAX_PASSWORD_FILE:
        raise CliError(f"password file {path} is larger than {MAX_PASSWORD_FILE} bytes")
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise CliError(f"password file {path} is not UTF-8 text") from None
    return _checked(text.splitlines()[0] if text else "", f"file {path}")


def get_password(password_file: Path | None, *, confirm: bool, what: str = "key") -> str:
    """Return the password from the file, else $AGORA_PASSWORD, else a hidden (confirmed) prompt.

    ``confirm`` asks twice, for a password that is about to protect a new key.
    """
    if password_file is not None:
        return read_password_file(password_file)
    env = os.environ.get(PASSWORD_ENV)
    if env is not None:
        return _checked(env, f"${PASSWORD_ENV}")
    if not sys.stdin.isatty():
        raise CliError(f"a password is needed: use --password-file or ${PASSWORD_ENV} (no terminal to prompt on)")
    try:
        entered = typer.prompt(f"Password for the {what}", hide_input=True, confirmation_prompt=confirm)
    except typer.Abort:
        raise CliError(f"no password given (use a prompt, --password-file or ${PASSWORD_ENV})") from None
    return _checked(str(entered), "the prompt")
