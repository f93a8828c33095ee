"""End to end through the `agora` CLI on a real node process: a merchant opens a points
programme, a shopper earns points and redeems them on a second order; a financier reads the
order and the merchant's record, offers an advance, the merchant accepts it and the settlement
pays the financier. What the chain would refuse is refused before signing (--force sends it)."""

from __future__ import annotations

import json
import time
from typing import Any

from cli_testkit import PASSWORD, RunningNode, run_cli

from cli.init_cmd import node_datadir

AGR = 10**6


def _cli(node: RunningNode, *args: str) -> tuple[int, str, str]:
    result = run_cli(["--home", str(node.home), "--node", node.url, *args], env={"AGORA_PASSWORD": PASSWORD})
    return result.exit_code, result.stdout, result.stderr


def _json(node: RunningNode, *args: str) -> Any:
    code, out, err = _cli(node, *args, "--json")
    assert code == 0, err or out
    return json.loads(out)


def _nonce(node: RunningNode, wallet: str) -> int:
    return int(_json(node, "wallet", "balance", wallet)["nonce"])


def _buy_and_settle(node: RunningNode, listing: str, *extra: str) -> str:
    order: str = _json(node, "order", "place", listing, "--from", "alice", "--deliver-to", "A", *extra)["hash"]
    assert _cli(node, "order", "accept", order, "--from", "shop")[0] == 0
    assert _cli(node, "order", "ship", order, "--from", "shop")[0] == 0
    assert _cli(node, "order", "confirm", order, "--from", "alice")[0] == 0
    return order


def test_points_and_financing_through_the_cli_with_refusals_before_signing(running_node: RunningNode) -> None:
    node = running_node
    for name in ("shop", "fin"):
        assert _cli(node, "wallet", "new", name)[0] == 0
        assert _cli(node, "tx", "transfer", "--from", "alice", "--to", name, "--amount", "100")[0] == 0
    args = ["--rate", "1", "--per", "1", "--point-value", "0.01", "--max-share", "50%", "--expiry", "30d"]
    code, out, err = _cli(node, "points", "open", "--from", "shop", *args, "--tier", "10=2")
    assert code == 0, err
    code, _, err = _cli(node, "points", "open", "--from", "shop", *args)
    assert code == 1 and "already run a points programme" in err, err
    listing = _json(node, "listing", "create", "--from", "shop", "--title", "Lamp", "--price", "4", "--stock", "9")
    listing_id = listing["hash"]

    _buy_and_settle(node, listing_id)  # 4 AGR + free shipping: 4 points
    balance = _json(node, "points", "balance", "shop", "alice")
    assert (balance["balance"], balance["programme"]["earned"]) == (4, 4)
    before = _nonce(node, "alice")
    code, _, err = _cli(node, "order", "place", listing_id, "--from", "alice", "--deliver-to", "A", "--redeem", "5")
    assert code == 1 and "fewer than 5" in err and "--force" in err, err
    assert _nonce(node, "alice") == before, "refused before signing"
    code, out, err = _cli(
        node, "order", "place", listing_id, "--from", "alice", "--deliver-to", "A", "--redeem", "5", "--force"
    )
    assert code == 1 and "insufficient_points" in err, err
    shop_before = int(_json(node, "wallet", "balance", "shop")["balances"]["AGR"])
    second = _buy_and_settle(node, listing_id, "--redeem", "4")
    order = _json(node, "order", "show", second)
    assert order["total"] == 4 * AGR - 4 * 10_000, "4 points took 0.04 AGR off"
    code, out, err = _cli(node, "order", "show", second)
    assert code == 0 and "points redeemed" in out and "4 points, 0.04 AGR" in out, err
    shop_after = int(_json(node, "wallet", "balance", "shop")["balances"]["AGR"])
    assert shop_after - shop_before == order["total"] - 2 * int(_json(node, "chain", "status")["min_fee"])
    history = _json(node, "points", "history", "shop", "alice")
    assert [e["kind"] for e in history["history"]] == ["earn", "redeem", "earn"]
    code, out, err = _cli(node, "points", "history", "shop", "alice")
    assert code == 0 and "redeem" in out, err
    code, out, err = _cli(node, "points", "balance", "shop")
    assert code == 0 and "0.01 AGR" in out and "50 %" in out and "from 10: 2" in out, err
    genesis = str(node_datadir(node.home) / "genesis.json")
    verified = _json(node, "verify", "points", "shop", "alice", "--genesis", genesis)
    assert verified["verified"] and verified["balance"] == history["balance"] == 3

    # financing: a third order, accepted and funded
    third: str = _json(node, "order", "place", listing_id, "--from", "alice", "--deliver-to", "A")["hash"]
    code, _, err = _cli(node, "finance", "offer", third, "--from", "fin", "--advance", "3")
    assert code == 1 and "only an accepted, funded order" in err, err
    assert _cli(node, "order", "accept", third, "--from", "shop")[0] == 0
    code, _, err = _cli(node, "finance", "offer", third, "--from", "fin", "--advance", "4")
    assert code == 1 and "below the order's payout" in err, err
    listed = _json(node, "finance", "list", "shop")
    assert [(v["order_id"], v["financeable"]) for v in listed] == [(third, True)]
    record = _json(node, "finance", "record", "shop")
    assert record["settled_orders"] == 2 and record["outstanding_debt"] == {}
    short = _json(node, "finance", "offer", third, "--from", "fin", "--advance", "3", "--expires", "1s")["hash"]
    offer = _json(node, "finance", "offer", third, "--from", "fin", "--advance", "3.5")["hash"]
    time.sleep(1.5)
    code, _, err = _cli(node, "finance", "accept", short, "--from", "shop")
    assert code == 1 and "expired" in err, err
    code, _, err = _cli(node, "finance", "accept", offer, "--from", "fin")
    assert code == 1 and "only the order's merchant" in err, err
    fin_before = int(_json(node, "wallet", "balance", "fin")["balances"]["AGR"])
    assert _cli(node, "finance", "accept", offer, "--from", "shop")[0] == 0
    shown = _json(node, "finance", "show", third)
    assert shown["payee"] == _json(node, "wallet", "show", "fin")["address"] and shown["offers"] == []
    code, _, err = _cli(node, "finance", "offer", third, "--from", "fin", "--advance", "1")
    assert code == 1 and "already financed" in err, err
    code, out, err = _cli(node, "order", "show", third)
    assert code == 0 and "financed by" in out, err
    code, out, err = _cli(node, "finance", "show", third)
    assert code == 0 and "3.5 AGR" in out and "not yet" in out, err
    assert _cli(node, "order", "ship", third, "--from", "shop")[0] == 0
    assert _cli(node, "order", "confirm", third, "--from", "alice")[0] == 0
    fin_after = int(_json(node, "wallet", "balance", "fin")["balances"]["AGR"])
    assert fin_after - fin_before == 4 * AGR + 3 * AGR, "the payout and the expired offer's 3 AGR came back"
    code, out, err = _cli(node, "finance", "record", "shop")
    assert code == 0 and "open financings" in out, err
    supply = _json(node, "chain", "supply")
    assert all(a["balanced"] for a in supply["assets"])
