"""Output helpers: rich tables for people on stdout, diagnostics on stderr, JSON for scripts."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

import typer

if TYPE_CHECKING:
    from rich.console import Console

WIDE_WHEN_PIPED = 200
"""Console width when stdout is not a terminal, so addresses and hashes never wrap."""


def _console(stderr: bool) -> Console:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else WIDE_WHEN_PIPED
    return Console(stderr=stderr, width=width, highlight=False, soft_wrap=False)


@dataclass(slots=True)
class Output:
    """Where a command writes: results to stdout, everything else to stderr."""

    _out: Console | None = field(default=None, repr=False)
    _err: Console | None = field(default=None, repr=False)

    @property
    def out(self) -> Console:
        """The stdout console (created on first use, so tests capture it)."""
        if self._out is None:
            self._out = _console(stderr=False)
        return self._out

    @property
    def err(self) -> Console:
        """The stderr console for progress, hints and errors."""
        if self._err is None:
            self._err = _console(stderr=True)
        return self._err

    def json(self, data: Any) -> None:
        """Print ``data`` as indented JSON on stdout (no colour, no wrapping)."""
        typer.echo(json.dumps(data, indent=2, sort_keys=False))

    def info(self, message: str) -> None:
        """Print a diagnostic line on stderr (rich markup allowed)."""
        self.err.print(message)

    def fail(self, message: str, code: int = 1) -> NoReturn:
        """Print one readable error line on stderr and exit with ``code``."""
        from rich.markup import escape

        self.err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
        raise typer.Exit(code)

    def fields(self, title: str | None, rows: Iterable[tuple[str, Any]]) -> None:
        """Print key/value pairs as a two-column table on stdout."""
        from rich.table import Table

        table = Table(title=title, show_header=False, box=None, pad_edge=False, title_justify="left")
        table.add_column("field", style="bold")
        table.add_column("value", overflow="fold")
        for key, value in rows:
            table.add_row(key, _cell(value))
        self.out.print(table)

    def table(self, title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Print rows under ``columns`` as a rich table on stdout."""
        from rich.table import Table

        table = Table(title=title, title_justify="left")
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(_cell(value) for value in row))
        self.out.print(table)


def _cell(value: Any) -> str:
    from rich.markup import escape

    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        return escape("\n".join(f"{k}={v}" for k, v in value.items()))
    return escape(str(value))
