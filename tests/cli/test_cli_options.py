"""cli/options.py write_command: where the common write options stand, and what the command receives."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pytest
import typer
from typer.main import get_command
from typer.testing import CliRunner

from cli.amounts import AmountError
from cli.options import NO_SENDER, ForceOption, WriteOptions, write_command

app = typer.Typer()
received: list[tuple[str, WriteOptions, bool]] = []

TAIL = ["fee", "wait", "timeout", "home", "node", "password_file", "json_"]


@app.command("plain")
@write_command()
def plain(
    thing: Annotated[str, typer.Argument()],
    how: WriteOptions,
    colour: Annotated[str, typer.Option("--colour")] = "red",
    force: ForceOption = False,
) -> None:
    """A write command."""
    received.append((thing, how, force))


@app.command("nowait")
@write_command(wait_option=False)
def nowait(
    items: Annotated[list[str] | None, typer.Argument()] = None,
    how: WriteOptions = NO_SENDER,
) -> None:
    """A write command that always waits, with --from after an optional argument."""
    received.append((",".join(items or []), how, False))


def _names(name: str) -> list[str]:
    return [p.name or "" for p in get_command(app).commands[name].params]  # type: ignore[attr-defined]


def test_from_stands_where_how_is_and_the_common_options_follow_the_commands_own() -> None:
    assert _names("plain") == ["thing", "sender", "colour", "force", *TAIL]
    assert _names("nowait") == ["items", "sender", *[n for n in TAIL if n != "wait"]]


def test_the_command_gets_one_write_options_of_what_was_typed(tmp_path: Path) -> None:
    received.clear()
    args = ["plain", "x", "--from", "alice", "--fee", "1.5", "--no-wait", "--timeout", "7", "--json", "--force"]
    result = CliRunner().invoke(app, [*args, "--home", str(tmp_path), "--node", "http://h:1"])
    assert result.exit_code == 0, result.output
    ((thing, how, force),) = received
    assert (thing, force) == ("x", True)
    assert how == WriteOptions("alice", "1.5", False, 7.0, tmp_path, "http://h:1", None, True)
    assert how.fee_units() == 1_500_000


def test_defaults_and_the_missing_from() -> None:
    received.clear()
    assert CliRunner().invoke(app, ["plain", "x"]).exit_code == 2  # --from is required
    result = CliRunner().invoke(app, ["nowait", "a", "b"])
    assert result.exit_code == 0, result.output
    ((items, how, _),) = received
    assert items == "a,b"
    assert how == WriteOptions("", None, True, 30.0, None, None, None, False)
    assert how.fee_units() is None


def test_a_bad_fee_is_refused_when_it_is_read() -> None:
    with pytest.raises(AmountError, match="not a number"):
        WriteOptions("alice", "lots", True, 30.0, None, None, None, False).fee_units()


def test_a_command_without_how_is_a_programming_error() -> None:
    def broken(x: int) -> None:
        """No how."""

    with pytest.raises(TypeError, match="how: WriteOptions"):
        write_command()(broken)
