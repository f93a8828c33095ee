"""`python -m bench`: the same commands as `agora bench` (kept as an alias)."""

from __future__ import annotations

from bench.cli import app

if __name__ == "__main__":
    app(prog_name="python -m bench")
