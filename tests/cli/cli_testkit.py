"""Helpers shared by the CLI tests (imported by name: conftest.py puts this directory on sys.path)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner, Result

from cli.main import app

PASSWORD = "correct horse battery staple"
CLEAN_ENV: Mapping[str, str | None] = {"AGORA_HOME": None, "AGORA_NODE": None, "AGORA_PASSWORD": None}


def run_cli(args: Sequence[str], env: Mapping[str, str | None] | None = None) -> Result:
    """Invoke ``agora ARGS`` in-process with the Agora environment variables cleared (plus ``env``)."""
    return CliRunner().invoke(app, list(args), env={**CLEAN_ENV, **(env or {})})


@dataclass(frozen=True)
class RunningNode:
    """A real ``agora node run`` child process serving a freshly initialised home."""

    home: Path
    url: str
    alice: str
    """Address of the funded wallet "alice"."""
