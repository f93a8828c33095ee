"""End to end through the `agora` CLI on a real node process: issue an asset, mint it, send it
in its own unit, burn it; what the chain would refuse is refused before signing."""

from __future__ import annotations

import json

from cli_testkit import PASSWORD, RunningNode, run_cli


def _cli(node: RunningNode, *args: str) -> tuple[int, str, str]:
    result = run_cli(["--home", str(node.home), "--node", node.url, *args], env={"AGORA_PASSWORD": PASSWORD})
    return result.exit_code, result.stdout, result.stderr


def _json(node: RunningNode, *args: str) -> object:
    code, out, err = _cli(node, *args, "--json")
    assert code == 0, err or out
    return json.loads(out)


def test_issue_mint_send_and_burn_an_asset_with_refusals_before_signing(running_node: RunningNode) -> None:
    node = running_node
    assert _cli(node, "wallet", "new", "bob")[0] == 0
    assert _cli(node, "tx", "transfer", "--from", "alice", "--to", "bob", "--amount", "1")[0] == 0  # bob's fees
    args = ["asset", "create", "usdx", "--from", "alice", "--name", "US dollar token", "--decimals", "2"]
    code, out, err = _cli(node, *args, "--max-supply", "1000", "--purpose", "backed 1:1 by deposits")
    assert code == 0, err
    code, out, err = _cli(node, *args)
    assert code == 1 and "already issued" in err and "nothing was signed" in err, err

    assert _cli(node, "asset", "mint", "USDX", "--from", "alice", "--to", "alice", "--amount", "500")[0] == 0
    code, _, err = _cli(node, "asset", "mint", "USDX", "--from", "alice", "--to", "bob", "--amount", "600")
    assert code == 1 and "maximum supply of 1000" in err and "nothing was signed" in err, err
    code, _, err = _cli(node, "asset", "mint", "USDX", "--from", "bob", "--to", "bob", "--amount", "1")
    assert code == 1 and "only the issuer" in err, err
    code, _, err = _cli(node, "asset", "mint", "USDX", "--from", "alice", "--to", "bob", "--amount", "0.001")
    assert code == 1 and "more than 2 decimals" in err, err

    assert _cli(node, "tx", "transfer", "--from", "alice", "--to", "bob", "--amount", "12.5", "--asset", "USDX")[0] == 0
    bob = _json(node, "wallet", "balance", "bob")
    assert isinstance(bob, dict) and bob["balances"]["USDX"] == 1250
    code, out, err = _cli(node, "wallet", "balance", "bob")
    assert code == 0 and "12.5" in out and "USDX" in out, err

    code, _, err = _cli(node, "asset", "burn", "USDX", "--from", "bob", "--amount", "13")
    assert code == 1 and "less than 13" in err, err
    assert _cli(node, "asset", "burn", "USDX", "--from", "bob", "--amount", "2.5")[0] == 0
    shown = _json(node, "asset", "show", "USDX")
    assert isinstance(shown, dict)
    assert (shown["supply"], shown["max_supply"], shown["decimals"]) == (50_000 - 250, 100_000, 2)
    listed = _json(node, "asset", "list")
    assert isinstance(listed, list) and [a["symbol"] for a in listed] == ["USDX"]
    code, out, _ = _cli(node, "asset", "show", "USDX")
    assert "497.5 USDX" in out and "backed 1:1" in out
    code, _, err = _cli(node, "asset", "show", "NOPE")
    assert code == 1 and "no asset NOPE" in err, err
