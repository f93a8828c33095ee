"""Node configuration: defaults < datadir/config.toml < environment (AGORA_*) < overrides.

Every setting is a field of :class:`NodeConfig`; the environment variable of a field is
``AGORA_`` + its upper-case name (``api_port`` -> ``AGORA_API_PORT``).
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

CONFIG_FILE: Final = "config.toml"
ENV_PREFIX: Final = "AGORA_"
LOG_LEVELS: Final = ("debug", "info", "warning", "error")
LEVELDB_MAX_OPEN_FILES_RANGE: Final = (74, 50_000)
"""What LevelDB accepts (it clips other values silently); storage.store.MAX_OPEN_FILES_RANGE."""
LEVELDB_BLOCK_CACHE_RANGE: Final = (1024 * 1024, 16 * 1024**3)
"""Accepted block cache sizes; storage.store.BLOCK_CACHE_RANGE."""
LEVELDB_COMPRESSIONS: Final = ("snappy", "none")
"""storage.store.COMPRESSIONS."""


class ConfigError(Exception):
    """A configuration value is unknown or invalid; the message names the key."""


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """Everything a node can be configured with."""

    api_host: str = "127.0.0.1"
    """Address the client API listens on."""
    api_port: int = 26657
    """Port of the client API (0 = pick a free port)."""
    min_block_interval_ms: int = 100
    """Two blocks are at least this far apart."""
    heartbeat_interval_ms: int = 5000
    """An empty block is produced after this long without transactions."""
    mempool_max_txs: int = 20_000
    """Most transactions the mempool holds."""
    mempool_max_bytes: int = 64 * 1024 * 1024
    """Most bytes of transactions the mempool holds."""
    mempool_max_nonce_gap: int = 64
    """How far ahead of an account's nonce a pending transaction may be."""
    mempool_expiry_blocks: int = 0
    """A transaction still pending this many blocks after it was admitted is dropped, with
    the reason ``expired`` (shown by GET /api/v1/txs/HASH), so its client knows to send it
    again; its sender's later pending nonces go with it. 0 (the default) = no limit by
    blocks: blocks come every 100 ms under load, so a block count is no measure of patience."""
    mempool_expiry_seconds: int = 600
    """Likewise, by time since admission (checked at each commit). 0 = no limit by time."""
    verify_workers: int = -1
    """Signature verification threads: -1 = one per core (up to 8), 0 = inline on the event
    loop in chunks (cheapest where several nodes share the cores, e.g. a local testnet, which
    `agora testnet init` sets up so), 1..64 = that many (node/sigverify.py)."""
    block_budget_ms: int = 600
    """A proposal holds as many transactions as this node builds and commits in this time
    (measured; node/block_budget.py), within the chain's max_block_txs. 600 ms: a loaded
    4-validator round takes 2-3 times one node's build+commit (the others validate on shared
    cores, then vote), so this keeps rounds near 1.5 s under overload; 1500 ms let them grow to
    3.5-4.6 s with no more goodput: measured back to back, 1,121 vs 993 tx/s for transfers and
    382 vs 379 for the market mix at twice capacity (docs/PERFORMANCE.md, session 8)."""
    admission_queue_blocks: int = 4
    """The client API refuses (429) once this many blocks of pending work wait (node/admission.py)."""
    state_versions_kept: int = 10_000
    """How many recent heights of state stay readable and provable (older state-tree
    versions are pruned in the background); 0 keeps every version (an archive node)."""
    api_max_body_bytes: int = 16 * 1024 * 1024
    """Largest request body the API reads (also the most one API connection holds: one request at a time)."""
    api_body_budget_bytes: int = 64 * 1024 * 1024
    """Bytes of request bodies the API port holds at once; beyond it a request is refused (503) unread."""
    api_max_connections: int = 1024
    """Cap on open API connections; a new one beyond it closes the oldest idle one, else gets a 503."""
    idle_timeout_ms: int = 15_000
    """A connection (either port) with no complete request for this long (idle, or slow headers) is closed."""
    body_read_timeout_ms: int = 30_000
    """A request body (either port) must arrive within this long of its request, else 408 and close."""
    p2p_body_budget_bytes: int = 64 * 1024 * 1024
    """Bytes of request bodies the p2p port holds at once (at least one largest request, 12 MiB)."""
    p2p_max_connections: int = 256
    """Cap on open connections to the p2p port."""
    api_max_connections_per_host: int = 256
    """Most open API connections from one IP."""
    p2p_max_connections_per_host: int = 128
    """Most open p2p connections from one IP (a testnet on one host needs about 2 per node)."""
    p2p_reserved_connections: int = 32
    """The last this many p2p connections are for reserved peers only (seeds and p2p_reserved_peers)."""
    p2p_reserved_peers: str = ""
    """Comma-separated node ids (64 hex) always given room on the p2p port and in the peer table."""
    leveldb_max_open_files: int = 256
    """LevelDB's table cache holds this many minus 10 table files open, each with its index
    block in the heap (~1.5 % of the table's bytes: ~30 KiB for a 2 MiB table) and its file
    mapped: the bound of that memory, which otherwise grows with the chain on disk up to
    LevelDB's default of 1,000. A table read after it left the cache is opened again (its
    footer and index read, checksummed). 74..50000 (docs/PERFORMANCE.md, session 8, h-mem8)."""
    leveldb_block_cache_bytes: int = 8 * 1024 * 1024
    """LevelDB's cache of decompressed data blocks (its default, 8 MiB). 1 MiB..16 GiB."""
    leveldb_compression: str = "none"
    """How LevelDB writes new table blocks: none, or snappy (LevelDB's own default). The state
    tree's hashes do not compress and snappy is about two thirds of a compaction's CPU: on a
    20-minute soak none kept the p50 under 1.1 s where snappy let it reach 4-6 s, for about
    10 % more disk (docs/PERFORMANCE.md, session 9). Either reads what the other wrote."""
    log_level: str = "info"
    """debug, info, warning or error."""
    p2p_listen: str = ""
    """HOST:PORT the node-to-node endpoints (/p2p/) listen on. Empty: no p2p unless ``seeds``
    are given, in which case 127.0.0.1 on any free port (a follower that only dials out)."""
    p2p_external_url: str = ""
    """The URL announced to peers (default: http://HOST:PORT of the listen address)."""
    seeds: str = ""
    """Comma-separated base URLs of peers to dial (http://127.0.0.1:26656,...)."""
    timeout_propose_ms: int = 2000
    """Consensus: how long to wait for a proposal in round 0 (grows by timeout_delta_ms a round)."""
    timeout_vote_ms: int = 1000
    """Consensus: how long to wait for more prevotes/precommits once 2/3+ arrived (grows too)."""
    timeout_delta_ms: int = 500
    """Consensus: how much each timeout grows per round."""
    digital_link_base: str = ""
    """The base of the GS1 Digital Link URIs the node prints (a resolver such as
    https://id.example.com); empty: the URL a client reached the node at."""

    def __post_init__(self) -> None:
        _check(0 <= self.api_port <= 65535, "api_port must be 0..65535")
        _check(bool(self.api_host), "api_host must not be empty")
        _check(1 <= self.min_block_interval_ms <= 3_600_000, "min_block_interval_ms must be 1..3600000")
        _check(
            self.min_block_interval_ms <= self.heartbeat_interval_ms <= 3_600_000,
            "heartbeat_interval_ms must be between min_block_interval_ms and 3600000",
        )
        _check(1 <= self.mempool_max_txs <= 10_000_000, "mempool_max_txs must be 1..10000000")
        _check(64 * 1024 <= self.mempool_max_bytes <= 2**34, "mempool_max_bytes must be 64 KiB..16 GiB")
        _check(0 <= self.mempool_max_nonce_gap <= 10_000, "mempool_max_nonce_gap must be 0..10000")
        _check(0 <= self.mempool_expiry_blocks <= 10**9, "mempool_expiry_blocks must be 0..1000000000")
        _check(0 <= self.mempool_expiry_seconds <= 10**9, "mempool_expiry_seconds must be 0..1000000000")
        _check(-1 <= self.verify_workers <= 64, "verify_workers must be -1 (one per core), 0 (inline) or 1..64")
        _check(10 <= self.block_budget_ms <= 60_000, "block_budget_ms must be 10..60000")
        _check(
            self.state_versions_kept == 0 or 2 <= self.state_versions_kept <= 10**9,
            "state_versions_kept must be 0 (keep all) or 2..1000000000",
        )
        _check(1 <= self.admission_queue_blocks <= 1_000, "admission_queue_blocks must be 1..1000")
        _check(64 * 1024 <= self.api_max_body_bytes <= 256 * 1024 * 1024, "api_max_body_bytes must be 64 KiB..256 MiB")
        _check(
            self.api_max_body_bytes <= self.api_body_budget_bytes <= 2**34,
            "api_body_budget_bytes must be api_max_body_bytes..16 GiB",
        )
        _check(12 * 1024 * 1024 <= self.p2p_body_budget_bytes <= 2**34, "p2p_body_budget_bytes must be 12 MiB..16 GiB")
        for name in ("api_max_connections", "p2p_max_connections"):
            _check(16 <= getattr(self, name) <= 1_000_000, f"{name} must be 16..1000000")
        for side in ("api", "p2p"):
            per_host = getattr(self, f"{side}_max_connections_per_host")
            _check(1 <= per_host <= 1_000_000, f"{side}_max_connections_per_host must be 1..1000000")
        _check(
            0 <= self.p2p_reserved_connections <= self.p2p_max_connections // 2,
            "p2p_reserved_connections must be 0..half of p2p_max_connections",
        )
        for name in ("idle_timeout_ms", "body_read_timeout_ms"):
            _check(100 <= getattr(self, name) <= 3_600_000, f"{name} must be 100..3600000")
        _check(len(self.reserved_peer_ids) <= 256, "at most 256 p2p_reserved_peers")
        lo, hi = LEVELDB_MAX_OPEN_FILES_RANGE
        _check(lo <= self.leveldb_max_open_files <= hi, f"leveldb_max_open_files must be {lo}..{hi}")
        lo, hi = LEVELDB_BLOCK_CACHE_RANGE
        _check(lo <= self.leveldb_block_cache_bytes <= hi, "leveldb_block_cache_bytes must be 1 MiB..16 GiB")
        _check(
            self.leveldb_compression in LEVELDB_COMPRESSIONS,
            f"leveldb_compression must be one of {', '.join(LEVELDB_COMPRESSIONS)}",
        )
        _check(self.log_level in LOG_LEVELS, f"log_level must be one of {', '.join(LOG_LEVELS)}")
        if self.p2p_listen:
            parse_listen(self.p2p_listen)
        if self.p2p_external_url:
            _check(_URL_RE.fullmatch(self.p2p_external_url) is not None, "p2p_external_url must be http://HOST:PORT")
        for seed in self.seed_urls:
            _check(_URL_RE.fullmatch(seed) is not None, f"seed {seed!r} must be http://HOST:PORT")
        _check(len(self.seed_urls) <= 64, "at most 64 seeds")
        for name in ("timeout_propose_ms", "timeout_vote_ms", "timeout_delta_ms"):
            _check(1 <= getattr(self, name) <= 600_000, f"{name} must be 1..600000")
        if self.digital_link_base:
            from market.provenance.identifiers import IdentifierError, check_base

            try:
                check_base(self.digital_link_base)
            except IdentifierError as exc:
                raise ConfigError(f"digital_link_base: {exc}") from None

    @property
    def seed_urls(self) -> tuple[str, ...]:
        """The configured seeds as a tuple of URLs."""
        return tuple(part.strip().rstrip("/") for part in self.seeds.split(",") if part.strip())

    @property
    def reserved_peer_ids(self) -> tuple[bytes, ...]:
        """The configured reserved peers as node ids; ConfigError if one is not 64 hex digits."""
        out = []
        for part in self.p2p_reserved_peers.split(","):
            text = part.strip()
            if not text:
                continue
            _check(re.fullmatch(r"[0-9a-fA-F]{64}", text) is not None, f"reserved peer {text!r} must be 64 hex digits")
            out.append(bytes.fromhex(text))
        return tuple(out)

    @property
    def p2p_enabled(self) -> bool:
        """True if the node talks to peers (it listens, or has seeds to dial)."""
        return bool(self.p2p_listen or self.seed_urls)

    @property
    def p2p_address(self) -> tuple[str, int]:
        """Where the p2p endpoints listen (127.0.0.1:0 for a dial-out-only node)."""
        return parse_listen(self.p2p_listen) if self.p2p_listen else ("127.0.0.1", 0)


_URL_RE: Final = re.compile(r"https?://[A-Za-z0-9.\-\[\]:]+:\d{1,5}")


def parse_listen(text: str) -> tuple[str, int]:
    """Parse HOST:PORT; ConfigError if malformed."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"p2p_listen must be HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise ConfigError(message)


_FIELDS: Final = {f.name: f for f in dataclasses.fields(NodeConfig)}


def _coerce(name: str, value: object, source: str) -> object:
    field = _FIELDS.get(name)
    if field is None:
        raise ConfigError(f"unknown setting {name!r} in {source}")
    kind = field.type if isinstance(field.type, type) else {"int": int, "str": str}[str(field.type)]
    if kind is int:
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                raise ConfigError(f"{name} in {source} must be an integer, got {value!r}") from None
        if type(value) is not int:
            raise ConfigError(f"{name} in {source} must be an integer")
        return value
    if not isinstance(value, str):
        raise ConfigError(f"{name} in {source} must be a string")
    return value


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    return data


def load_config(
    datadir: Path, overrides: Mapping[str, object] | None = None, environ: Mapping[str, str] | None = None
) -> NodeConfig:
    """Merge defaults, ``datadir/config.toml``, the environment and ``overrides``.

    Later sources win; None values in ``overrides`` are ignored (a flag not given).
    Unknown keys or bad values raise ConfigError naming the key and its source.
    """
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    path = datadir / CONFIG_FILE
    for key, value in _read_file(path).items():
        values[key] = _coerce(key, value, str(path))
    for name in _FIELDS:
        env_name = ENV_PREFIX + name.upper()
        if env_name in env:
            values[name] = _coerce(name, env[env_name], f"environment variable {env_name}")
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = _coerce(key, value, "overrides")
    try:
        return NodeConfig(**values)  # type: ignore[arg-type]
    except ConfigError as exc:
        raise ConfigError(f"{exc} (in {path}, environment or flags)") from None


def render_config(values: Mapping[str, object]) -> str:
    """Render settings as TOML (flat keys of ints and strings only); ConfigError if invalid."""
    lines = []
    for key, value in values.items():
        coerced = _coerce(key, value, "config")
        if isinstance(coerced, int):
            lines.append(f"{key} = {coerced}")
        else:
            escaped = str(coerced).replace("\\", "\\\\").replace('"', '\\"')
            lines.append(f'{key} = "{escaped}"')
    return "\n".join(lines) + ("\n" if lines else "")
