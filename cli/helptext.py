"""Help text as the terminal should show it: a docstring's paragraphs, not its source lines."""

from __future__ import annotations

import inspect
from typing import Any

_KEEP_LINES = ("\b", "- ", "* ", "|", " ")
"""A paragraph whose lines start with one of these is a list, table or verbatim block: kept as written."""


def reflow(help_text: str) -> str:
    """``help_text`` dedented, each prose paragraph joined onto one line (the terminal wraps it).

    Typer's rich help keeps a docstring's single line breaks, so a paragraph wrapped at 100
    columns in the source prints broken mid-sentence at any other width. Blank lines still
    separate paragraphs; a paragraph that starts with ``\\b`` or has a line that begins like a
    list item, table row or indented block is left exactly as written.
    """
    paragraphs = inspect.cleandoc(help_text).split("\n\n")
    return "\n\n".join(_reflow_paragraph(paragraph) for paragraph in paragraphs)


def _reflow_paragraph(paragraph: str) -> str:
    lines = paragraph.split("\n")
    if any(line.startswith(_KEEP_LINES) for line in lines):
        return paragraph
    return " ".join(line.strip() for line in lines)


def reflow_command_tree(command: Any) -> None:
    """Reflow the help of ``command`` (a click command or group) and of every command under it."""
    if command.help:
        command.help = reflow(command.help)
    for sub in getattr(command, "commands", {}).values():
        reflow_command_tree(sub)
