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


def test_offers_and_a_swap_through_the_cli_with_refusals_before_signing(running_node: RunningNode) -> None:
    node = running_node
    assert _cli(node, "wallet", "new", "bob")[0] == 0
    assert _cli(node, "tx", "transfer", "--from", "alice", "--to", "bob", "--amount", "1")[0] == 0
    for symbol in ("USDX", "EURS"):
        assert _cli(node, "asset", "create", symbol, "--from", "alice", "--name", symbol, "--decimals", "2")[0] == 0
    assert _cli(node, "asset", "mint", "EURS", "--from", "alice", "--to", "alice", "--amount", "1000")[0] == 0
    assert _cli(node, "asset", "mint", "USDX", "--from", "alice", "--to", "bob", "--amount", "100")[0] == 0
    made = _json(
        node,
        "offer",
        "create",
        "--from",
        "alice",
        "--sell",
        "EURS",
        "--buy",
        "USDX",
        "--rate",
        "1.08",
        "--amount",
        "500",
    )
    assert isinstance(made, dict) and made["receipt"]["code"] == "ok"
    book = _json(node, "offer", "list", "--sell", "EURS", "--buy", "USDX")
    assert isinstance(book, dict) and [o["remaining"] for o in book["items"]] == [50_000]
    code, out, _ = _cli(node, "offer", "list", "--sell", "EURS", "--buy", "USDX")
    assert "1.08 USDX" in out and "500 EURS" in out

    swap = ["offer", "swap", "--from", "bob", "--pay", "USDX", "--want", "EURS", "--amount", "50"]
    code, _, err = _cli(node, *swap, "--max-rate", "1.05")
    assert code == 1 and "cannot supply" in err and "nothing was signed" in err, err
    code, _, err = _cli(node, *[*swap[:-1], "200"], "--max-rate", "1.1")
    assert code == 1 and "the swap costs 216 USDX" in err, err
    assert _cli(node, *swap, "--max-rate", "1.1")[0] == 0
    bob = _json(node, "wallet", "balance", "bob")
    assert isinstance(bob, dict) and (bob["balances"]["EURS"], bob["balances"]["USDX"]) == (5_000, 10_000 - 5_400)

    supply = _json(node, "chain", "supply")
    assert isinstance(supply, dict)
    assert {a["asset"]: (a["in_offers"], a["balanced"]) for a in supply["assets"]}["EURS"] == (45_000, True)
    code, _, err = _cli(node, "offer", "cancel", made["hash"], "--from", "bob")
    assert code == 1 and "only the offer's maker" in err, err
    assert _cli(node, "offer", "cancel", made["hash"], "--from", "alice")[0] == 0
    alice = _json(node, "wallet", "balance", "alice")
    assert isinstance(alice, dict) and alice["balances"]["EURS"] == 100_000 - 5_000
    assert alice["balances"]["USDX"] == 5_400


def test_a_fund_takes_donations_disburses_with_a_reason_and_traces_each_donation(running_node: RunningNode) -> None:
    node = running_node
    for name in ("org", "bob"):
        assert _cli(node, "wallet", "new", name)[0] == 0
        assert _cli(node, "tx", "transfer", "--from", "alice", "--to", name, "--amount", "1")[0] == 0
    opened = _json(node, "fund", "open", "--from", "org", "--name", "Wells", "--purpose", "two wells in 2027")
    assert isinstance(opened, dict)
    fund = opened["hash"]
    assert _cli(node, "fund", "donate", fund, "--from", "alice", "--amount", "100", "--memo", "good luck")[0] == 0
    assert _cli(node, "fund", "donate", fund, "--from", "alice", "--amount", "50")[0] == 0
    code, _, err = _cli(node, "fund", "donate", fund, "--from", "bob", "--amount", "5")
    assert code == 1 and "less than 5" in err and "nothing was signed" in err, err
    pay = ["fund", "disburse", fund, "--to", "bob", "--amount", "120", "--reason", "drilling"]
    code, _, err = _cli(node, *pay, "--from", "alice")
    assert code == 1 and "only the fund's organisation" in err, err
    code, _, err = _cli(node, *[*pay[:-2], "--reason", " "], "--from", "org")
    assert code == 1 and "--reason" in err, err
    code, _, err = _cli(node, *[*pay[:6], "151", *pay[7:]], "--from", "org")
    assert code == 1 and "less than 151" in err, err
    assert _cli(node, *pay, "--from", "org")[0] == 0
    trace = _json(node, "fund", "trace", fund, "1")
    assert isinstance(trace, dict)
    assert [x["from_this_donation"] for x in trace["went_to"]] == [20_000_000] and trace["still_held"] == 30_000_000
    shown = _json(node, "fund", "show", fund)
    assert isinstance(shown, dict) and shown["holdings"] == {"AGR": 30_000_000}
    supply = _json(node, "chain", "supply")
    assert isinstance(supply, dict)
    agr = next(a for a in supply["assets"] if a["asset"] == "AGR")
    assert (agr["in_funds"], agr["balanced"]) == (30_000_000, True)
    code, out, _ = _cli(node, "fund", "trace", fund, "0")
    assert code == 0 and "drilling" in out and "drilling" in out and "0u AGR" in out
    code, _, err = _cli(node, "fund", "trace", fund, "9")
    assert code == 1 and "donations 0..1" in err, err


def test_a_listing_priced_in_a_stable_asset_bought_through_a_conversion(running_node: RunningNode) -> None:
    """The README's "Pay in a stable asset": a listing in USDX (or EURX), bought paying EURX
    through an offer, all of it converted or nothing signed."""
    node = running_node
    for who in ("shop", "bob"):
        assert _cli(node, "wallet", "new", who)[0] == 0
        assert _cli(node, "tx", "transfer", "--from", "alice", "--to", who, "--amount", "1")[0] == 0
    for symbol in ("USDX", "EURX"):
        create = ["asset", "create", symbol, "--from", "alice", "--name", symbol, "--decimals", "2"]
        assert _cli(node, *create, "--freeze-authority", "alice")[0] == 0
    assert _cli(node, "asset", "mint", "USDX", "--from", "alice", "--to", "alice", "--amount", "1000")[0] == 0
    assert _cli(node, "asset", "mint", "EURX", "--from", "alice", "--to", "bob", "--amount", "100")[0] == 0
    listing = ["listing", "create", "--from", "shop", "--title", "Tea", "--stock", "5"]
    code, _, err = _cli(node, *listing, "--price", "12:USDX", "--price", "10:EURX", "--shipping", "post=0.5")
    assert code == 1 and "--shipping post has no price in EURX" in err, err
    made = _json(node, *listing, "--price", "12:USDX", "--shipping", "post=0.5", "--shipping", "pickup=0")
    assert isinstance(made, dict) and made["receipt"]["code"] == "ok"
    lid = made["hash"]
    code, out, err = _cli(node, "listing", "show", lid)
    assert code == 0 and "12 USDX (1200)" in out and "0.5 USDX (50)" in out, err
    code, out, err = _cli(node, "listing", "list")
    assert code == 0 and "12 USDX (1200)" in out, err

    place = ["order", "place", lid, "--from", "bob", "--deliver-to", "1 Tea Lane", "--shipping", "post"]
    code, _, err = _cli(node, *place)
    assert code == 1 and "insufficient funds" in err and "USDX" in err and "nothing was signed" in err, err
    code, _, err = _cli(node, *place, "--asset", "AGR")
    assert code == 1 and "the listing takes USDX, not AGR" in err, err
    code, _, err = _cli(node, *place, "--pay-with", "EURX", "--max-rate", "0.95")
    assert code == 1 and "conversion_unavailable" in err and "nothing was signed" in err, err
    offer = ["offer", "create", "--from", "alice", "--sell", "USDX", "--buy", "EURX", "--rate", "0.9"]
    assert _cli(node, *offer, "--amount", "500")[0] == 0
    code, _, err = _cli(node, *place, "--pay-with", "EURX", "--max-rate", "0.85")
    assert code == 1 and "rate_above_max" in err and "nothing was signed" in err, err
    code, _, err = _cli(node, *place, "--pay-with", "EURX", "--max-rate", "0.85", "--force")  # the chain refuses
    assert code == 1 and "rate_above_max" in err and "nothing was signed" not in err, err
    bob = _json(node, "wallet", "balance", "bob")
    assert isinstance(bob, dict) and bob["balances"]["EURX"] == 10_000 and "USDX" not in bob["balances"]
    bought = _json(node, *place, "--pay-with", "EURX", "--max-rate", "0.95")
    assert isinstance(bought, dict) and bought["receipt"]["code"] == "ok"
    bob = _json(node, "wallet", "balance", "bob")
    assert isinstance(bob, dict) and bob["balances"]["EURX"] == 10_000 - 1_125  # 12.50 USDX at 0.90
    order = _json(node, "order", "show", bought["hash"])
    assert isinstance(order, dict) and (order["asset"], order["total"], order["escrow"]) == ("USDX", 1_250, 1_250)
    code, out, err = _cli(node, "order", "show", bought["hash"])
    assert code == 0 and "12.5 USDX (1250)" in out and "USDX" in out, err
    update = ["listing", "update", lid, "--from", "shop", "--price", "11:EURX"]
    code, _, err = _cli(node, *update)
    assert code == 1 and "needs its shipping prices" in err, err
    shipping = ["--shipping", "post=0.5", "--shipping", "post=0.45:EURX", "--shipping", "pickup=0"]
    assert _cli(node, *update, *shipping)[0] == 0
    code, out, err = _cli(node, "listing", "show", lid)
    assert code == 0 and "12 USDX (1200) | 11 EURX (1100)" in out and "0.45 EURX (45)" in out, err

    def found(*filters: str) -> list[str]:
        page = _json(node, "listing", "list", *filters)
        assert isinstance(page, dict)
        return [i["id"] for i in page["items"]]

    assert found("--asset", "EURX") == [lid] == found("--asset", "usdx", "--max-price", "12")
    assert found("--asset", "USDX", "--max-price", "11.99") == [] == found("--asset", "AGR")
    assert found("--asset", "EURX", "--min-price", "11", "--max-price", "11") == [lid]
    assert found("--max-price", "12") == []  # without --asset the bound is 12 AGR: the listing takes no AGR
    code, _, err = _cli(node, "listing", "list", "--asset", "GBPX")
    assert code == 1 and "no asset GBPX" in err, err
    direct = _json(node, *place, "--asset", "EURX")
    assert isinstance(direct, dict) and direct["receipt"]["code"] == "ok"
    order = _json(node, "order", "show", direct["hash"])
    assert isinstance(order, dict) and (order["asset"], order["total"]) == ("EURX", 1_145)
    assert _cli(node, "asset", "freeze", "EURX", "bob", "--from", "alice")[0] == 0
    code, _, err = _cli(node, *place, "--pay-with", "EURX", "--max-rate", "0.95")
    assert code == 1 and "your EURX is frozen" in err and "nothing was signed" in err, err
    supply = _json(node, "chain", "supply")
    assert isinstance(supply, dict)
    usdx = {a["asset"]: a for a in supply["assets"]}["USDX"]
    assert usdx["balanced"] and usdx["in_escrow"] == usdx["escrow_counter"] == 1_250
    assert usdx["total_supply"] == usdx["in_accounts"] + usdx["in_escrow"] + usdx["in_offers"]
