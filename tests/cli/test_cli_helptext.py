"""cli/helptext.py: every command's help prints as paragraphs, not as the docstring's source lines."""

from __future__ import annotations

from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from cli.helptext import reflow
from cli.main import app


def test_prose_paragraphs_are_joined_and_blank_lines_kept() -> None:
    text = """First line
        goes on.

        Second paragraph, wrapped
        in the source
        at some width.
        """
    assert reflow(text) == "First line goes on.\n\nSecond paragraph, wrapped in the source at some width."
    assert reflow("Offers --share of\n--rate, wrapped.") == "Offers --share of --rate, wrapped."  # not a list


@pytest.mark.parametrize(
    "paragraph",
    ["\bverbatim\n  kept", "- one item\n- another", "Steps:\n  1. indented\n  2. kept", "| a | b |\n|---|---|"],
)
def test_lists_tables_and_verbatim_blocks_are_kept_as_written(paragraph: str) -> None:
    assert reflow(f"Summary.\n\n{paragraph}") == f"Summary.\n\n{paragraph}"


def _commands(command: Any, path: str) -> list[tuple[str, Any]]:
    found = [(path, command)]
    for name, sub in getattr(command, "commands", {}).items():
        found += _commands(sub, f"{path} {name}")
    return found


def test_no_command_of_agora_keeps_a_line_break_inside_a_prose_paragraph() -> None:
    commands = _commands(get_command(app), "agora")
    assert len(commands) > 50 and any(path == "agora bench soak" for path, _ in commands)
    for path, command in commands:
        help_text = command.help or ""
        assert reflow(help_text) == help_text, path  # a prose paragraph left broken would be joined here


def test_bench_soak_help_wraps_at_the_terminal_width_not_the_source() -> None:
    result = CliRunner().invoke(app, ["bench", "soak", "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "RssFile (page cache of the LevelDB table files it reads) go to --rss-file." in result.output
