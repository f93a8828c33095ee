"""End to end: a real node process, driven only through the `agora` CLI."""

from __future__ import annotations

import json
from pathlib import Path

from cli_testkit import PASSWORD, RunningNode, run_cli

from cli.init_cmd import initialize
from cli.process import start_node

AGR = 10**6


def _cli(node: RunningNode, *args: str) -> tuple[int, str, str]:
    result = run_cli(["--home", str(node.home), "--node", node.url, *args], env={"AGORA_PASSWORD": PASSWORD})
    return result.exit_code, result.stdout, result.stderr


def _balance(node: RunningNode, who: str) -> dict[str, object]:
    code, out, err = _cli(node, "wallet", "balance", who, "--json")
    assert code == 0, err
    account: dict[str, object] = json.loads(out)
    return account


def test_transfer_shows_up_in_a_block_and_in_both_balances(running_node: RunningNode) -> None:
    node = running_node
    code, out, err = _cli(node, "wallet", "new", "bob")
    assert code == 0, err
    bob = json.loads(_cli(node, "wallet", "show", "bob", "--json")[1])["address"]
    assert _balance(node, "bob")["balances"] in ({}, {"AGR": 0})

    code, out, err = _cli(node, "tx", "transfer", "--from", "alice", "--to", bob, "--amount", "12.5", "--json")
    assert code == 0, err
    record = json.loads(out)
    assert record["status"] == "committed"
    assert record["receipt"]["code"] == "ok"
    fee = record["tx"]["fee"]

    alice_after = _balance(node, "alice")
    assert alice_after["balances"] == {"AGR": 10**12 - 12_500_000 - fee}
    assert alice_after["nonce"] == 1
    assert _balance(node, bob)["balances"] == {"AGR": 12_500_000}

    code, out, err = _cli(node, "chain", "block", str(record["height"]), "--json")
    assert code == 0, err
    block = json.loads(out)
    assert record["hash"] in block["txs"]
    code, out, err = _cli(node, "chain", "block", block["hash"])
    assert code == 0, err
    assert record["hash"] in out

    code, out, err = _cli(node, "tx", "show", record["hash"])
    assert code == 0, err
    assert "12.5 AGR" in out and "ok" in out

    code, out, err = _cli(node, "chain", "status", "--json")
    assert code == 0, err
    status = json.loads(out)
    assert status["chain_id"] == "agora-test" and status["head"]["height"] >= record["height"]
    code, out, err = _cli(node, "node", "status")
    assert code == 0, err
    assert "agora-test" in out


def test_failed_receipt_exits_non_zero_with_the_reason(running_node: RunningNode) -> None:
    node = running_node
    # Without the local checks the node admits a transfer to oneself; the chain fails it and keeps the fee.
    code, out, err = _cli(node, "tx", "transfer", "--from", "alice", "--to", node.alice, "--amount", "1", "--no-check")
    assert code == 1
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "transaction failed: self_transfer" in err
    assert "FAILED: self_transfer" in out
    alice = _balance(node, "alice")
    min_fee = json.loads(_cli(node, "chain", "status", "--json")[1])["min_fee"]
    assert alice["nonce"] == 1
    assert alice["balances"] == {"AGR": 10**12 - min_fee}


def test_local_checks_refuse_what_the_chain_would_fail(running_node: RunningNode) -> None:
    node = running_node
    code, _, err = _cli(node, "tx", "transfer", "--from", "alice", "--to", "alice", "--amount", "1")
    assert code == 1 and "yourself" in err
    code, _, err = _cli(node, "tx", "transfer", "--from", "alice", "--to", "agora1" + "q" * 58, "--amount", "1")
    assert code == 1 and "bad address" in err
    assert _cli(node, "wallet", "new", "bob")[0] == 0
    code, _, err = _cli(node, "tx", "transfer", "--from", "alice", "--to", "bob", "--amount", "2000000")
    assert code == 1 and "insufficient funds" in err
    code, _, err = _cli(node, "tx", "transfer", "--from", "alice", "--to", "bob", "--amount", "1", "--fee", "1u")
    assert code == 1 and "fee 0.000001 AGR (1u) is below the chain's minimum fee of" in err
    code, _, err = _cli(node, "chain", "block", "999999")
    assert code == 1 and "not_found" in err
    assert _balance(node, "alice")["nonce"] == 0


def test_a_transfer_survives_a_node_restart(tmp_path: Path) -> None:
    home = tmp_path / "home"
    alice = initialize(home, "agora-test", "alice", PASSWORD).wallet.address
    record: dict[str, object] = {}
    for round_ in range(2):
        process = start_node(home, PASSWORD, tmp_path / f"logs{round_}")
        try:
            node = RunningNode(home, process.wait_listening(30), alice)
            code, out, err = _cli(node, "node", "status", "--json")
            assert code == 0, err
            if round_ == 0:
                assert _cli(node, "wallet", "new", "bob")[0] == 0
                code, out, err = _cli(
                    node, "tx", "transfer", "--from", "alice", "--to", "bob", "--amount", "7", "--json"
                )
                assert code == 0, err
                record = json.loads(out)
            else:
                code, out, err = _cli(node, "tx", "show", str(record["hash"]), "--json")
                assert code == 0, err
                assert json.loads(out)["height"] == record["height"]
                assert _balance(node, "bob")["balances"] == {"AGR": 7 * AGR}
        finally:
            assert process.stop() == 0, process.log_tail()


def test_a_second_node_on_the_same_datadir_names_the_process_holding_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    initialize(home, "agora-test", "alice", PASSWORD)
    first = start_node(home, PASSWORD, tmp_path / "logs1")
    try:
        first.wait_listening(30)
        second = start_node(home, PASSWORD, tmp_path / "logs2")
        try:
            code = second.process.wait(30)
        finally:
            second.stop()
        err = (tmp_path / "logs2" / "node.stderr").read_text()
        assert code == 2, err
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1, err
        assert f"in use by another process (pid {first.pid}: " in lines[0] and "-m node" in lines[0]
        assert "b'" not in lines[0] and "Traceback" not in err
    finally:
        assert first.stop() == 0, first.log_tail()


def test_chain_supply_shows_where_every_unit_is(running_node: RunningNode) -> None:
    node = running_node
    code, out, err = _cli(node, "wallet", "new", "carol")
    assert code == 0, err
    carol = json.loads(_cli(node, "wallet", "show", "carol", "--json")[1])["address"]
    code, out, err = _cli(node, "tx", "transfer", "--from", "alice", "--to", carol, "--amount", "3", "--json")
    assert code == 0, err
    fee = json.loads(out)["tx"]["fee"]

    code, out, err = _cli(node, "chain", "supply", "--json")
    assert code == 0, err
    supply = json.loads(out)
    (agr,) = supply["assets"]
    assert agr["asset"] == "AGR" and agr["balanced"] is True and agr["fees_paid"] == fee
    assert agr["total_supply"] == agr["in_accounts"] + agr["in_escrow"] and agr["in_escrow"] == 0

    code, out, err = _cli(node, "chain", "supply")
    assert code == 0, err
    assert "Supply at height" in out and "in accounts" in out and "yes" in out
    assert "total_supply = in_accounts + in_escrow" in err


def test_chain_replay_recomputes_the_chain_from_the_api(running_node: RunningNode) -> None:
    node = running_node
    code, out, err = _cli(node, "wallet", "new", "dave")
    assert code == 0, err
    dave = json.loads(_cli(node, "wallet", "show", "dave", "--json")[1])["address"]
    code, out, err = _cli(node, "tx", "transfer", "--from", "alice", "--to", dave, "--amount", "2", "--json")
    assert code == 0, err
    height = json.loads(out)["height"]

    code, out, err = _cli(node, "chain", "replay", "--to", str(height), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["ok"] is True and report["height"] == height and report["txs"] == 1
    block = json.loads(_cli(node, "chain", "block", str(height), "--json")[1])
    assert report["state_root"] == block["state_root"]

    code, out, err = _cli(node, "chain", "replay")
    assert code == 0, err
    assert "Replay" in out and "accounts compared" in out
