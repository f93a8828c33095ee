"""Local commands through CliRunner: init, wallets, passwords and input errors (no node needed)."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cli_testkit import PASSWORD, run_cli

from chain.address import decode_address, encode_address
from node.keystore import load_key


def _init(home: Path, *extra: str) -> None:
    result = run_cli(["init", "--home", str(home), *extra], env={"AGORA_PASSWORD": PASSWORD})
    assert result.exit_code == 0, result.output


def _one_error_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got: {text!r}"
    assert "Traceback" not in text
    return lines[0]


def test_init_creates_a_funded_wallet_a_validator_and_a_datadir(tmp_path: Path) -> None:
    home = tmp_path / "home"
    password_file = tmp_path / "pw"
    password_file.write_text(PASSWORD + "\n")
    result = run_cli(["--home", str(home), "init", "--password-file", str(password_file), "--chain-id", "my-chain"])
    assert result.exit_code == 0, result.output

    key = load_key(home / "keys" / "default.json", PASSWORD)
    address = encode_address(key.public_key)
    assert address in result.stdout
    assert str(home / "node") in result.stdout
    assert "agora node run" in result.stderr
    assert stat.S_IMODE((home / "keys" / "default.json").stat().st_mode) == 0o600
    genesis = json.loads((home / "node" / "genesis.json").read_text())
    assert genesis["chain_id"] == "my-chain"
    assert genesis["balances"] == [{"address": address, "asset": "AGR", "amount": 10**12}]
    validator = load_key(home / "node" / "keys" / "validator.json", PASSWORD)
    assert [v["public_key"] for v in genesis["validators"]] == [validator.public_key.hex()]


def test_init_refuses_an_existing_home_and_changes_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _init(home)
    before = {p: p.read_bytes() for p in home.rglob("*") if p.is_file()}
    result = run_cli(["init", "--home", str(home)], env={"AGORA_PASSWORD": PASSWORD})
    assert result.exit_code == 1
    assert "already an Agora home" in _one_error_line(result.stderr)
    assert {p: p.read_bytes() for p in home.rglob("*") if p.is_file()} == before


def test_init_rejects_a_bad_chain_id(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = run_cli(["init", "--home", str(home), "--chain-id", "Bad Chain!"], env={"AGORA_PASSWORD": PASSWORD})
    assert result.exit_code == 1
    assert "chain_id" in _one_error_line(result.stderr)
    assert not (home / "keys").exists()


def test_wallet_new_list_show_with_password_from_env_and_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    password_file = tmp_path / "pw"
    password_file.write_text("file password\n")
    assert run_cli(["wallet", "new", "bob", "--home", str(home)], env={"AGORA_PASSWORD": "env password"}).exit_code == 0
    made = run_cli(["wallet", "new", "carol", "--home", str(home), "--password-file", str(password_file)])
    assert made.exit_code == 0, made.output

    bob = load_key(home / "keys" / "bob.json", "env password")
    carol = load_key(home / "keys" / "carol.json", "file password")
    listed = run_cli(["wallet", "list", "--json"], env={"AGORA_HOME": str(home)})
    assert listed.exit_code == 0
    assert [(w["name"], w["address"]) for w in json.loads(listed.stdout)] == [
        ("bob", encode_address(bob.public_key)),
        ("carol", encode_address(carol.public_key)),
    ]
    table = run_cli(["--home", str(home), "wallet", "list"])
    assert encode_address(carol.public_key) in table.stdout

    shown = run_cli(["wallet", "show", "carol", "--home", str(home), "--json"])
    assert json.loads(shown.stdout)["public_key"] == carol.public_key.hex()
    human = run_cli(["wallet", "show", "carol", "--home", str(home)])
    assert carol.public_key.hex() in human.stdout


def test_wallet_new_refuses_a_taken_or_bad_name(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"AGORA_PASSWORD": PASSWORD, "AGORA_HOME": str(home)}
    assert run_cli(["wallet", "new", "bob"], env=env).exit_code == 0
    before = (home / "keys" / "bob.json").read_bytes()
    again = run_cli(["wallet", "new", "bob"], env=env)
    assert again.exit_code == 1
    assert "already exists" in _one_error_line(again.stderr)
    assert (home / "keys" / "bob.json").read_bytes() == before
    for bad in ["../evil", ".hidden", "a/b", "x" * 65]:
        result = run_cli(["wallet", "new", bad], env=env)
        assert result.exit_code == 1
        assert "bad wallet name" in _one_error_line(result.stderr)
    assert sorted(p.name for p in (home / "keys").iterdir()) == ["bob.json"]


def test_missing_password_without_a_terminal_is_one_line(tmp_path: Path) -> None:
    result = run_cli(["wallet", "new", "bob", "--home", str(tmp_path)])
    assert result.exit_code == 1
    assert "--password-file" in _one_error_line(result.stderr)


@pytest.mark.parametrize("content", [b"", b"\n", b"x" * 5000, b"\xff\xfe"])
def test_unusable_password_files_are_refused(tmp_path: Path, content: bytes) -> None:
    password_file = tmp_path / "pw"
    password_file.write_bytes(content)
    result = run_cli(["wallet", "new", "bob", "--home", str(tmp_path), "--password-file", str(password_file)])
    assert result.exit_code == 1
    assert "password" in _one_error_line(result.stderr)
    assert not (tmp_path / "keys" / "bob.json").exists()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A home initialised with wallet "default" (password PASSWORD) and wallet "bob"."""
    home = tmp_path / "home"
    _init(home)
    assert run_cli(["wallet", "new", "bob", "--home", str(home)], env={"AGORA_PASSWORD": "bob"}).exit_code == 0
    return home


def _transfer(home: Path, *args: str, password: str = PASSWORD) -> tuple[int, str]:
    # Port 9 (discard) on loopback is closed: any command that reached the network would fail
    # with "cannot reach"; these errors must be found before that.
    result = run_cli(
        ["tx", "transfer", "--home", str(home), "--node", "http://127.0.0.1:9", *args],
        env={"AGORA_PASSWORD": password},
    )
    return result.exit_code, _one_error_line(result.stderr)


def test_wrong_password_is_one_line_and_exit_1(home: Path) -> None:
    code, line = _transfer(home, "--from", "default", "--to", "bob", "--amount", "1", password="not it")
    assert code == 1
    assert line == "error: wrong password"


@pytest.mark.parametrize(
    ("to", "expected"),
    [
        ("agora1qqqqqqq", "bad address"),
        ("agora1" + "q" * 58, "bad address"),
        ("nobody", "neither an agora1... address nor a wallet"),
        ("zz" * 32, "bad address"),
    ],
)
def test_bad_recipient_is_refused(home: Path, to: str, expected: str) -> None:
    code, line = _transfer(home, "--from", "default", "--to", to, "--amount", "1")
    assert code == 1
    assert expected in line


def test_mistyped_address_is_caught_by_its_checksum(home: Path) -> None:
    bob = json.loads(run_cli(["wallet", "show", "bob", "--home", str(home), "--json"]).stdout)["address"]
    last = bob[-1]
    mistyped = bob[:-1] + ("q" if last != "q" else "p")
    code, line = _transfer(home, "--from", "default", "--to", mistyped, "--amount", "1")
    assert code == 1
    assert "checksum" in line
    assert decode_address(bob)  # the real one is fine


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("1.0000001", "more than 6 decimals"),
        ("-5", "negative"),
        ("0", "greater than zero"),
        ("18446744073709.551616", "exceeds"),
        ("lots", "not a number"),
        ("1,5", "not a number"),
    ],
)
def test_bad_amounts_are_refused(home: Path, amount: str, expected: str) -> None:
    code, line = _transfer(home, "--from", "default", "--to", "bob", "--amount", amount)
    assert code == 1
    assert expected in line


def test_bad_fee_memo_asset_and_sender(home: Path) -> None:
    cases = [
        (["--fee", "0.0000001"], "more than 6 decimals"),
        (["--memo", "m" * 257], "memo"),
        (["--asset", "agr"], "bad asset"),
    ]
    for extra, expected in cases:
        code, line = _transfer(home, "--from", "default", "--to", "bob", "--amount", "1", *extra)
        assert code == 1
        assert expected in line
    code, line = _transfer(home, "--from", "ghost", "--to", "bob", "--amount", "1")
    assert code == 1
    assert "no wallet named 'ghost'" in line


def test_unreachable_node_is_one_line(home: Path) -> None:
    code, line = _transfer(home, "--from", "default", "--to", "bob", "--amount", "1")
    assert code == 1
    assert "cannot reach the node at http://127.0.0.1:9" in line
    status = run_cli(["chain", "status", "--node", "http://127.0.0.1:9"])
    assert status.exit_code == 1
    assert "cannot reach" in _one_error_line(status.stderr)


@pytest.mark.parametrize(
    ("args", "expected"), [(["tx", "show", "abc"], "64 hex"), (["chain", "block", "x1"], "height")]
)
def test_bad_hash_or_height_is_refused_locally(args: list[str], expected: str) -> None:
    result = run_cli([*args, "--node", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert expected in _one_error_line(result.stderr)


def test_node_run_on_a_missing_datadir_is_one_line(tmp_path: Path) -> None:
    result = run_cli(["node", "run", "--datadir", str(tmp_path / "nothing")])
    assert result.exit_code == 1
    assert "not a node datadir" in _one_error_line(result.stderr)


def test_node_run_with_a_wrong_password_is_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _init(home)
    result = run_cli(["node", "run", "--home", str(home), "--api-port", "0"], env={"AGORA_PASSWORD": "wrong"})
    assert result.exit_code == 1
    assert _one_error_line(result.stderr) == "error: wrong password"


def test_help_lists_every_group() -> None:
    result = run_cli(["--help"])
    assert result.exit_code == 0
    for group in ["init", "demo", "node", "wallet", "tx", "chain", "merchant"]:
        assert group in result.stdout


def test_help_does_not_import_the_heavy_parts() -> None:
    probe = (
        "import sys, cli.main; "
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in {'node', 'aiohttp', 'nacl', 'plyvel', 'rich'}); "
        "print(heavy)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


def test_node_init_from_a_genesis_file_and_garbage_genesis_is_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run_cli(["init", "--home", str(home)], env={"AGORA_PASSWORD": PASSWORD}).exit_code == 0
    genesis = home / "node" / "genesis.json"
    follower = tmp_path / "follower"
    result = run_cli(["node", "init", "--genesis", str(genesis), "--datadir", str(follower), "--api-port", "0"])
    assert result.exit_code == 0, result.stderr
    assert (follower / "genesis.json").read_bytes() == genesis.read_bytes()
    assert not (follower / "keys" / "validator.json").exists()  # a follower holds no validator key
    again = run_cli(["node", "init", "--genesis", str(genesis), "--datadir", str(follower)])
    assert again.exit_code == 1 and "not an empty directory" in _one_error_line(again.stderr)
    garbage = tmp_path / "garbage.json"
    garbage.write_text('{"chain_id": "x", "genesis_time_ms": 1, "validators": []}')
    bad = run_cli(["node", "init", "--genesis", str(garbage), "--datadir", str(tmp_path / "other")])
    assert bad.exit_code == 1 and "validators" in _one_error_line(bad.stderr)
    assert not (tmp_path / "other").exists()
