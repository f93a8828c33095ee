"""Node settings a benchmark passes to every node it starts (config.toml keys, checked as a node would)."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from node.config import ConfigError, load_config

BENCH_DEFAULTS: Mapping[str, object] = {"log_level": "warning"}


def parse_sets(items: Sequence[str]) -> dict[str, str]:
    """``KEY=VALUE`` pairs (node config keys); ValueError on a malformed one."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set {item!r}: expected KEY=VALUE (a node config key, e.g. block_budget_ms=600)")
        out[key.strip()] = value.strip()
    return out


def node_settings(*layers: Mapping[str, object | None]) -> dict[str, object]:
    """Merge ``layers`` (later wins, None skipped) over the bench defaults and check them as a node would.

    Raises ValueError naming the key when one is unknown or out of bounds, so a bad option
    fails before any node starts.
    """
    values: dict[str, object] = dict(BENCH_DEFAULTS)
    for layer in layers:
        values.update({k: v for k, v in layer.items() if v is not None})
    with tempfile.TemporaryDirectory(prefix="agora-bench-cfg-") as tmp:
        try:
            config = load_config(Path(tmp), values, environ={})
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
    return {key: getattr(config, key) for key in values}
