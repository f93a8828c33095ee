"""The p2p and consensus settings refuse garbage with a message naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from chain.keys import PrivateKey
from node.config import ConfigError, NodeConfig, load_config
from node.daemon import with_extra_seeds
from node.datadir import DatadirError, dev_genesis, init_datadir, open_datadir


def test_seeds_are_parsed_and_trailing_slashes_dropped() -> None:
    config = NodeConfig(seeds=" http://127.0.0.1:5 , http://localhost:7/ ,")
    assert config.seed_urls == ("http://127.0.0.1:5", "http://localhost:7")
    assert config.p2p_enabled and config.p2p_address == ("127.0.0.1", 0)


def test_no_listen_address_and_no_seeds_means_no_p2p() -> None:
    assert not NodeConfig().p2p_enabled


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("seeds", "ftp://x:1", "seed"),
        ("seeds", "http://no-port", "seed"),
        ("seeds", ",".join(f"http://127.0.0.1:{1000 + i}" for i in range(65)), "at most 64 seeds"),
        ("p2p_listen", "127.0.0.1", "p2p_listen"),
        ("p2p_listen", "127.0.0.1:99999", "p2p_listen"),
        ("p2p_listen", ":26656", "p2p_listen"),
        ("p2p_external_url", "127.0.0.1:5", "p2p_external_url"),
        ("timeout_propose_ms", 0, "timeout_propose_ms"),
        ("timeout_vote_ms", 600_001, "timeout_vote_ms"),
        ("timeout_delta_ms", -1, "timeout_delta_ms"),
    ],
)
def test_bad_p2p_and_consensus_settings_are_refused_by_name(setting: str, value: object, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        NodeConfig(**{setting: value})  # type: ignore[arg-type]


def test_a_bad_seed_in_the_environment_names_its_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="seed"):
        load_config(tmp_path, environ={"AGORA_SEEDS": "not a url"})


def test_peer_flags_add_to_the_configured_seeds_and_garbage_is_refused(tmp_path: Path) -> None:
    genesis = dev_genesis("agora-test", [PrivateKey.generate().public_key], {})
    init_datadir(tmp_path / "d", genesis, None, "", {"seeds": "http://127.0.0.1:1"})
    datadir = open_datadir(tmp_path / "d")
    joined = with_extra_seeds(datadir, "http://127.0.0.1:2")
    assert joined.config.seed_urls == ("http://127.0.0.1:1", "http://127.0.0.1:2")
    with pytest.raises(DatadirError, match="--peer"):
        with_extra_seeds(datadir, "garbage")


def test_edge_limit_settings_are_parsed_and_bounded() -> None:
    friend = "ab" * 32
    config = NodeConfig(p2p_reserved_peers=f" {friend} ,", p2p_max_connections=64, p2p_reserved_connections=8)
    assert config.reserved_peer_ids == (bytes.fromhex(friend),)
    bad = {
        "p2p_reserved_peers": ("abc", "64 hex digits"),
        "p2p_reserved_connections": (200, "half of p2p_max_connections"),
        "api_body_budget_bytes": (1024 * 1024, "api_body_budget_bytes must be"),
        "p2p_body_budget_bytes": (1024 * 1024, "p2p_body_budget_bytes must be"),
        "api_max_connections": (3, "api_max_connections must be"),
        "body_read_timeout_ms": (0, "body_read_timeout_ms must be"),
        "idle_timeout_ms": (10**9, "idle_timeout_ms must be"),
    }
    for name, (value, message) in bad.items():
        with pytest.raises(ConfigError, match=message):
            NodeConfig(**{name: value})  # type: ignore[arg-type]
