"""How to type ``agora`` again: the hints the CLI prints must work in the user's shell."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def _this_script() -> Path | None:
    """The ``agora`` script running now, or the one installed next to this Python (``python -m cli``)."""
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if argv0 is not None and argv0.name == "agora" and argv0.is_file():
        return argv0
    beside = Path(sys.executable).parent / "agora"
    return beside if beside.is_file() else None


def agora_command() -> str:
    """``agora`` if that name on the PATH runs this installation, else a path that does.

    The path is relative to the current directory when the script lies below it
    (``.venv/bin/agora`` after ``make demo``), absolute otherwise. Without an installed
    script at all, ``agora``.
    """
    script = _this_script()
    if script is None:
        return "agora"
    on_path = shutil.which("agora")
    if on_path is not None and Path(on_path).resolve() == script.resolve():
        return "agora"
    absolute = Path(os.path.abspath(script))
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


def activate_hint() -> str | None:
    """A line saying how to get ``agora`` on the PATH, or None when it already is."""
    command = agora_command()
    if command == "agora":
        return None
    activate = Path(command).parent / "activate"
    if activate.is_file():
        return f"agora is not on your PATH: type {command}, or run  source {activate}  first"
    return f"agora is not on your PATH: type {command}"


def agora_markup() -> str:
    """:func:`agora_command`, escaped for rich markup."""
    from rich.markup import escape

    return escape(agora_command())
