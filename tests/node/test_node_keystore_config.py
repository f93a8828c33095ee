"""Keystore files, configuration precedence and the datadir layout."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from chain.address import encode_address
from chain.keys import PrivateKey
from node.config import ConfigError, NodeConfig, load_config
from node.datadir import DatadirError, dev_genesis, init_datadir, open_datadir
from node.keystore import KeystoreError, decrypt_key, encrypt_key, load_key, read_key_info, save_key


def test_keystore_round_trip_and_file_properties(tmp_path: Path) -> None:
    key = PrivateKey.generate()
    path = tmp_path / "keys" / "alice.json"
    save_key(path, key, "correct horse", "alice")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    doc = json.loads(path.read_text())
    assert doc["kdf"] == "argon2id" and doc["version"] == 1
    assert key.seed.hex() not in path.read_text()
    assert load_key(path, "correct horse") == key
    info = read_key_info(path)
    assert (info.name, info.address) == ("alice", encode_address(key.public_key))
    assert [p.name for p in path.parent.iterdir()] == ["alice.json"]


def test_keystore_refusals(tmp_path: Path) -> None:
    key = PrivateKey.generate()
    path = tmp_path / "k.json"
    save_key(path, key, "pw", "k")
    with pytest.raises(KeystoreError, match="wrong password"):
        load_key(path, "not it")
    with pytest.raises(KeystoreError, match="refusing to overwrite"):
        save_key(path, PrivateKey.generate(), "pw", "k")
    assert load_key(path, "pw") == key
    with pytest.raises(KeystoreError, match="no keystore file"):
        load_key(tmp_path / "missing.json", "pw")
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    with pytest.raises(KeystoreError, match="not a keystore file"):
        load_key(garbage, "pw")
    doc = encrypt_key(key, "pw", "k")
    doc["address"] = encode_address(PrivateKey.generate().public_key)
    with pytest.raises(KeystoreError, match="tampered"):
        decrypt_key(doc, "pw")
    with pytest.raises(KeystoreError, match="not a keystore file"):
        decrypt_key({"version": 1, "kdf": "argon2id", "opslimit": "x"}, "pw")


def test_config_precedence_and_errors(tmp_path: Path) -> None:
    assert load_config(tmp_path, environ={}) == NodeConfig()
    (tmp_path / "config.toml").write_text('api_port = 1000\nlog_level = "debug"\nmin_block_interval_ms = 50\n')
    cfg = load_config(tmp_path, environ={"AGORA_API_PORT": "2000"})
    assert (cfg.api_port, cfg.log_level, cfg.min_block_interval_ms) == (2000, "debug", 50)
    cfg = load_config(tmp_path, {"api_port": 3000, "api_host": None}, environ={"AGORA_API_PORT": "2000"})
    assert cfg.api_port == 3000 and cfg.api_host == "127.0.0.1"
    with pytest.raises(ConfigError, match="AGORA_API_PORT"):
        load_config(tmp_path, environ={"AGORA_API_PORT": "eighty"})
    with pytest.raises(ConfigError, match="api_port must be"):
        load_config(tmp_path, {"api_port": 70000}, environ={})
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        load_config(tmp_path, {"colour": "red"}, environ={})
    (tmp_path / "config.toml").write_text("api_port = [\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(tmp_path, environ={})


def test_datadir_init_and_open(tmp_path: Path) -> None:
    key = PrivateKey.generate()
    genesis = dev_genesis("dev-1", [key.public_key], {key.public_key: 5 * 10**6}, time_ms=1)
    datadir = tmp_path / "node"
    init_datadir(datadir, genesis, key, "pw", {"api_port": 0})
    for name in ("config.toml", "genesis.json", "db", "wal", "keys/validator.json"):
        assert (datadir / name).exists(), name
    opened = open_datadir(datadir)
    assert opened.genesis == genesis and opened.genesis.hash == genesis.hash
    assert opened.config.api_port == 0
    assert load_key(opened.validator_key_path, "pw") == key
    with pytest.raises(DatadirError, match="not an empty directory"):
        init_datadir(datadir, genesis, key, "pw")
    with pytest.raises(DatadirError, match="bad configuration"):
        init_datadir(tmp_path / "other", genesis, None, "pw", {"api_port": "x"})
    assert not (tmp_path / "other").exists()
    with pytest.raises(DatadirError, match="not a datadir"):
        open_datadir(tmp_path / "nowhere")
    (datadir / "genesis.json").write_text('{"chain_id": "BAD"}')
    with pytest.raises(DatadirError, match="genesis"):
        open_datadir(datadir)
