"""The node's data directory: config.toml, genesis.json, keys/validator.json, db/, node.log.

:func:`init_datadir` creates one; :func:`open_datadir` reads its genesis and config and
checks it is a datadir at all. The database itself is opened by storage/.
"""

from __future__ import annotations

import json
import time
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from chain.address import encode_address
from chain.genesis import Genesis, GenesisError, genesis_from_json
from chain.keys import PrivateKey
from chain.params import ChainParams
from node.config import CONFIG_FILE, ConfigError, NodeConfig, load_config, render_config
from node.keystore import KeystoreError, save_key

GENESIS_FILE: Final = "genesis.json"
DB_DIR: Final = "db"
KEYS_DIR: Final = "keys"
VALIDATOR_KEY_FILE: Final = "validator.json"
WAL_DIR: Final = "wal"
LOG_FILE: Final = "node.log"
MAX_GENESIS_FILE_BYTES: Final = 64 * 1024 * 1024


class DatadirError(Exception):
    """A datadir is missing, corrupt, foreign, or cannot be created; the message says which."""


@dataclass(frozen=True, slots=True)
class Datadir:
    """An opened datadir: its paths, genesis and configuration."""

    path: Path
    genesis: Genesis
    config: NodeConfig

    @property
    def db_path(self) -> Path:
        """The LevelDB directory."""
        return self.path / DB_DIR

    @property
    def validator_key_path(self) -> Path:
        """The encrypted validator key (may not exist on a follower)."""
        return self.path / KEYS_DIR / VALIDATOR_KEY_FILE

    @property
    def log_path(self) -> Path:
        """The node's log file."""
        return self.path / LOG_FILE


def dev_genesis(
    chain_id: str,
    validators: Sequence[bytes],
    balances: Mapping[bytes, int],
    time_ms: int | None = None,
    params: ChainParams | None = None,
) -> Genesis:
    """A dev-chain genesis: ``validators`` with equal power, AGR ``balances``; GenesisError if invalid."""
    doc = {
        "chain_id": chain_id,
        "genesis_time_ms": int(time.time() * 1000) if time_ms is None else time_ms,
        "params": (params or ChainParams()).to_json(),
        "validators": [{"public_key": v.hex(), "power": 1} for v in validators],
        "balances": [{"address": encode_address(a), "asset": "AGR", "amount": n} for a, n in balances.items()],
    }
    return genesis_from_json(doc)


def init_datadir(
    datadir: Path,
    genesis: Genesis,
    validator_key: PrivateKey | None,
    password: str,
    config: Mapping[str, object] | None = None,
) -> None:
    """Create a datadir: config.toml, genesis.json, keys/validator.json (if a key), empty db/.

    Refuses (DatadirError) a datadir that exists and is not empty; bad config values raise
    DatadirError before anything is written.
    """
    if datadir.exists() and (not datadir.is_dir() or any(datadir.iterdir())):
        raise DatadirError(f"{datadir} exists and is not an empty directory")
    try:
        config_text = render_config(config or {})
        load_config_from_text(config_text)
    except ConfigError as exc:
        raise DatadirError(f"bad configuration: {exc}") from None
    try:
        datadir.mkdir(parents=True, exist_ok=True)
        (datadir / CONFIG_FILE).write_text(config_text)
        (datadir / GENESIS_FILE).write_text(json.dumps(genesis.to_json(), indent=2) + "\n")
        (datadir / DB_DIR).mkdir()
        (datadir / WAL_DIR).mkdir()
        (datadir / KEYS_DIR).mkdir(mode=0o700)
        if validator_key is not None:
            save_key(datadir / KEYS_DIR / VALIDATOR_KEY_FILE, validator_key, password, "validator")
    except OSError as exc:
        raise DatadirError(f"cannot create {datadir}: {exc.strerror}") from None
    except KeystoreError as exc:
        raise DatadirError(str(exc)) from None


def load_config_from_text(text: str) -> None:
    """Check that ``text`` is a valid config file (raises ConfigError)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}") from None
    known = {name for name in NodeConfig.__dataclass_fields__}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")
    NodeConfig(**data)


def read_genesis(path: Path) -> Genesis:
    """Read and validate a genesis file; DatadirError on any problem."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_GENESIS_FILE_BYTES + 1)
    except FileNotFoundError:
        raise DatadirError(f"{path} is missing (is this a datadir? run `agora init`)") from None
    except OSError as exc:
        raise DatadirError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > MAX_GENESIS_FILE_BYTES:
        raise DatadirError(f"{path} is too large")
    try:
        return genesis_from_json(json.loads(data))
    except (ValueError, UnicodeDecodeError) as exc:
        raise DatadirError(f"{path} is not a valid genesis file: {exc}") from None
    except GenesisError as exc:
        raise DatadirError(f"{path}: {exc}") from None


def open_datadir(datadir: Path, overrides: Mapping[str, object] | None = None) -> Datadir:
    """Open an existing datadir: read and validate its genesis and configuration."""
    if not datadir.is_dir():
        raise DatadirError(f"{datadir} is not a datadir (run `agora init` first)")
    genesis = read_genesis(datadir / GENESIS_FILE)
    try:
        config = load_config(datadir, overrides)
    except ConfigError as exc:
        raise DatadirError(str(exc)) from None
    return Datadir(datadir, genesis, config)
