"""The chain's totals in the open, against a real node: genesis, supply, every account, blocks
with receipts and raw bytes (replayed from the API alone), and many transactions at once."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from node_market_kit import FEE, MINUTE, START_BALANCE, MarketNode, addr, market_node

from chain.accounts import balance_key, nonce_key, supply_key
from chain.block import decode_block
from chain.encoding import encode, sha256
from chain.errors import InvalidTransaction
from chain.execution import BlockBuilder, execute_block, result_leaves
from chain.genesis import genesis_from_json
from chain.keys import PrivateKey
from chain.merkle import merkle_root
from chain.state import MemoryState
from chain.transfer import Transfer
from chain.tx import sign_transaction
from chain.votes import CommitSig
from cli.replay import REGISTRY as REPLAY_REGISTRY
from cli.replay import ReplayMismatch, apply_block, replay_chain, start
from market.assets.bodies import AssetBurn, AssetCreate, AssetMint
from market.assets.offers import OfferCancel, OfferCreate, OfferSwap, Rate
from market.bodies import ListingCreate, OrderAccept, OrderPlace, OrderShip
from market.finance import FinanceAccept, FinanceOffer, FinanceWithdraw
from market.funds import FundDisburse, FundDonate, FundOpen
from market.keys import ESCROW_TOTAL_KEY, escrow_key
from market.privacy import seal_for
from market.queries import escrow_total
from market.records import ShippingOption, Windows
from node import audit_api
from node.audit import account_page, supply_totals
from node.datadir import dev_genesis
from node.service import DEFAULT_REGISTRY

PRICE = 1_000
SHIP = 100
TAMPER_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "tamper_state.py"


@pytest.fixture(autouse=True)
def _supply_recounted_at_every_height(monkeypatch: pytest.MonkeyPatch) -> None:
    """The supply answer is throttled (a recount that took t waits 4t before the next): on a
    busy machine a second read soon after a slow first one is the cached, older height.
    These tests read the supply right after a block and mean that block's; the throttle's
    own test sets the factor back."""
    monkeypatch.setattr(audit_api, "SUPPLY_DUTY_FACTOR", 0.0)


async def _place(m: MarketNode, listing: str, buyer: str = "buyer") -> str:
    body = OrderPlace(
        bytes.fromhex(listing),
        1,
        0,
        PRICE,
        SHIP,
        m["arbiter"].public_key,
        seal_for(m["merchant"].public_key, b"1 Audit Lane"),
    )
    receipt = await m.do(buyer, body)
    order_id: str = next(e for e in receipt["events"] if e["type"] == "order")["attrs"]["order_id"]
    return order_id


async def _all_accounts(m: MarketNode, limit: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": str(limit)}
        if cursor is not None:
            params["cursor"] = cursor
        page = await m.ok("/api/v1/accounts", **params)
        assert len(page["items"]) <= limit
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def _check_supply(m: MarketNode, escrow: int, txs: int) -> dict[str, Any]:
    supply = await m.ok("/api/v1/supply")
    (agr,) = supply["assets"]
    assert agr["asset"] == "AGR" and agr["balanced"] is True
    assert agr["total_supply"] == agr["in_accounts"] + agr["in_escrow"]
    assert agr["total_supply"] == START_BALANCE * 6  # six funded parties at genesis; nothing is created
    assert agr["in_escrow"] == agr["escrow_counter"] == escrow
    assert agr["fees_paid"] == FEE * txs and agr["fees_burned"] == 0
    # the accounts list, walked page by page, adds up to the same amount in accounts
    accounts = await _all_accounts(m, 2)
    assert len({a["address"] for a in accounts}) == len(accounts) == agr["accounts"]
    assert sum(a["balances"].get("AGR", 0) for a in accounts) == agr["in_accounts"]
    return agr


async def test_supply_adds_up_over_blocks_and_the_accounts_list_agrees(tmp_path: Path) -> None:
    async with market_node(tmp_path) as m:
        genesis = await m.ok("/api/v1/genesis")
        status = await m.ok("/api/v1/status")
        assert genesis_from_json(genesis).hash.hex() == status["genesis_hash"]
        await _check_supply(m, escrow=0, txs=0)
        await m.do("buyer", Transfer(m["buyer2"].public_key, 12_345))
        listing = await m.create_listing()
        first = await _place(m, listing)
        second = await _place(m, listing, buyer="buyer2")
        agr = await _check_supply(m, escrow=2 * (PRICE + SHIP), txs=4)
        # the validator earned every fee: the fees are inside the accounts, not beside them
        validator = await m.ok(f"/api/v1/accounts/{addr(m['validator'])}")
        assert validator["balances"]["AGR"] == agr["fees_paid"]
        await m.do("merchant", OrderAccept(bytes.fromhex(first)))
        await m.do("merchant", OrderShip(bytes.fromhex(first)))
        m.clock.advance(2 * MINUTE + 1)  # the first settles to the merchant, the second expires
        await m.tick()
        assert (await m.order(first))["state"] == "settled"
        assert (await m.order(second))["state"] == "expired"
        await _check_supply(m, escrow=0, txs=7)


async def test_accounts_and_supply_refuse_bad_input(tmp_path: Path) -> None:
    async with market_node(tmp_path) as m:
        for params, reason in (
            ({"limit": "0"}, "bad_limit"),
            ({"limit": "1001"}, "bad_limit"),
            ({"limit": "-1"}, "bad_limit"),
            ({"limit": "1e3"}, "bad_limit"),
            ({"cursor": "zz"}, "bad_cursor"),
            ({"cursor": "00" * 31}, "bad_cursor"),
            ({"page": "2"}, "unknown_parameter"),
        ):
            status, problem = await m.get("/api/v1/accounts", **params)
            assert (status, problem["reason"]) == (400, reason), params
        status, problem = await m.get("/api/v1/supply", asset="AGR")
        assert (status, problem["reason"]) == (400, "unknown_parameter")
        page = await m.ok("/api/v1/accounts", limit="1000")
        assert page["next_cursor"] is None and len(page["items"]) == 6
        last = await m.ok("/api/v1/accounts", cursor="ff" * 32)
        assert last["items"] == [] and last["next_cursor"] is None


async def test_the_chain_replays_from_the_api_alone(tmp_path: Path) -> None:
    async with market_node(tmp_path) as m:
        listing = await m.create_listing()
        order = await _place(m, listing)
        await m.do("merchant", OrderAccept(bytes.fromhex(order)))
        await m.do("merchant", OrderShip(bytes.fromhex(order)))
        await m.fails("buyer", OrderAccept(bytes.fromhex(order)), "not_merchant")
        m.clock.advance(2 * MINUTE + 1)
        await m.tick()  # begins with the automatic release of the escrow to the merchant
        head = (await m.ok("/api/v1/head"))["height"]

        genesis = genesis_from_json(await m.ok("/api/v1/genesis"))
        state = MemoryState(dict(genesis.initial_state().items()))
        parent = None
        released = []
        for height in range(1, head + 1):
            answer = await m.ok(f"/api/v1/blocks/{height}", receipts="true", raw="true")
            block = decode_block(bytes.fromhex(answer["raw_block"]), DEFAULT_REGISTRY)
            assert [tx.raw.hex() for tx in block.txs] == answer["raw_txs"]
            result = execute_block(state, DEFAULT_REGISTRY, block, parent, genesis.hash, chain_id=genesis.chain_id)
            state.apply(result.writes)
            assert state.root == block.header.state_root
            assert [r.encode().hex() for r in result.receipts] == answer["raw_receipts"]
            leaves = [bytes.fromhex(answer["raw_block_events"]), *(bytes.fromhex(r) for r in answer["raw_receipts"])]
            assert leaves == result_leaves(result.block_events, result.receipts)
            assert merkle_root(leaves).hex() == answer["results_root"] == block.header.results_root.hex()
            assert [r["code"] for r in answer["receipts"]] == [r.code for r in result.receipts]
            released += [e for e in answer["block_events"] if e["type"] == "escrow"]
            parent = block.header
        assert [(e["attrs"]["movement"], e["attrs"]["account"]) for e in released] == [("release", addr(m["merchant"]))]
        assert state.root.hex() == (await m.ok("/api/v1/head"))["state_root"]
        by_height = await m.ok(f"/api/v1/blocks/{head}", receipts="true", raw="true")
        assert await m.ok(f"/api/v1/blocks/hash/{by_height['hash']}", receipts="true", raw="true") == by_height
        plain = await m.ok(f"/api/v1/blocks/{head}")
        assert "receipts" not in plain and "raw_block" not in plain
        for params in ({"raw": "yes"}, {"receipts": "2"}, {"extra": "1"}):
            status, problem = await m.get(f"/api/v1/blocks/{head}", **params)
            assert status == 400 and problem["reason"] in ("bad_bool", "unknown_parameter"), params


async def test_many_transactions_are_looked_up_at_once_and_the_bounds_hold(tmp_path: Path) -> None:
    async with market_node(tmp_path) as m:
        record = await m.send("buyer", Transfer(m["buyer2"].public_key, 5))
        pending = sign_transaction(m["buyer2"], "market-api-test", 7, FEE, Transfer(m["buyer"].public_key, 1))
        async with m.http.post(m.url + "/api/v1/txs", json={"tx": pending.raw.hex()}) as r:
            assert r.status == 202  # nonce 7 waits behind a gap: pending for good
        hashes = [record["hash"], pending.hash.hex(), "00" * 32]
        async with m.http.post(m.url + "/api/v1/txs/lookup", json={"hashes": hashes}) as r:
            assert r.status == 200
            results = (await r.json())["results"]
        assert [x["status"] for x in results] == ["committed", "pending", "unknown"]
        assert [x["hash"] for x in results] == hashes
        assert results[0]["receipt"]["code"] == "ok" and results[0]["height"] == record["height"]
        async with m.http.post(m.url + "/api/v1/txs/lookup", json={"hashes": ["ab" * 32] * 1000}) as r:
            assert r.status == 200 and len((await r.json())["results"]) == 1000
        for body, status, reason in (
            ({"hashes": ["ab" * 32] * 1001}, 413, "batch_too_large"),
            ({"hashes": ["zz" * 32]}, 400, "bad_hex"),
            ({"hashes": ["ab" * 31]}, 400, "bad_hex"),
            ({"hashes": [5]}, 400, "bad_hex"),
            ({"hashes": "ab"}, 400, "malformed_body"),
            ({"hashes": [], "more": 1}, 400, "malformed_body"),
            ({"hashes": ["ab" * 32 + " " * 200_000]}, 413, "body_too_large"),
        ):
            async with m.http.post(m.url + "/api/v1/txs/lookup", json=body) as r:
                assert r.status == status, body
                assert (await r.json())["reason"] == reason, body


# --- the pure recount over an in-memory ordered state ------------------------------------------


class SortedState:
    """Committed state in memory with ordered prefix scans (the shape of a store snapshot)."""

    def __init__(self, items: dict[bytes, bytes], height: int = 0) -> None:
        self._items = dict(sorted(items.items()))
        self.height = height

    def get(self, key: bytes) -> bytes | None:
        return self._items.get(key)

    def items(self, prefix: bytes, start: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
        for key, value in self._items.items():
            if key.startswith(prefix) and (start is None or key >= start):
                yield key, value


_accounts = st.dictionaries(
    st.binary(min_size=32, max_size=32),
    st.dictionaries(st.sampled_from(["AGR", "GOLD"]), st.integers(0, 2**40), min_size=1),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(_accounts, st.integers(0, 2**40), st.integers(1, 7))
def test_pages_partition_every_account_and_the_recount_matches(
    accounts: dict[bytes, dict[str, int]], escrow: int, limit: int
) -> None:
    items: dict[bytes, bytes] = {}
    supply: dict[str, int] = {"AGR": escrow}
    for account, balances in accounts.items():
        items[nonce_key(account)] = encode(3)
        for asset, amount in balances.items():
            items[balance_key(account, asset)] = encode(amount)
            supply[asset] = supply.get(asset, 0) + amount
    for asset, total in supply.items():
        items[supply_key(asset)] = encode(total)
    items[escrow_key(b"\x01" * 32)] = encode(escrow)
    items[ESCROW_TOTAL_KEY] = encode(escrow)
    items[b"bal/short"] = encode(1)  # not a balance key of the shape bal/<32>/<asset>: ignored
    state = SortedState(items)
    totals = {a.asset: a for a in supply_totals(state).assets}
    assert all(a.balanced for a in totals.values())
    assert totals["AGR"].in_escrow == escrow
    seen: list[bytes] = []
    cursor = None
    while True:
        page = account_page(state, cursor, limit)
        assert len(page.items) <= limit
        for entry in page.items:
            assert entry.balances == accounts[entry.account] and entry.nonce == 3
        seen += [e.account for e in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == sorted(accounts)
    # one unit too many in any account breaks the identity
    if accounts:
        victim = sorted(accounts)[0]
        asset = sorted(accounts[victim])[0]
        items[balance_key(victim, asset)] = encode(accounts[victim][asset] + 1)
        assert not {a.asset: a for a in supply_totals(SortedState(items)).assets}[asset].balanced


async def test_a_tampered_balance_shows_as_unbalanced_supply(tmp_path: Path) -> None:
    async with market_node(tmp_path) as m:
        await m.do("buyer", Transfer(m["buyer2"].public_key, 7))
        assert (await m.ok("/api/v1/supply"))["assets"][0]["balanced"] is True
        buyer = addr(m["buyer"])
    script = TAMPER_SCRIPT
    done = subprocess.run(  # noqa: ASYNC221 (the node is stopped; nothing else runs)
        [sys.executable, str(script), "--datadir", str(tmp_path / "node"), "--address", buyer, "--amount", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    async with market_node(tmp_path) as m:
        (agr,) = (await m.ok("/api/v1/supply"))["assets"]
        assert agr["balanced"] is False
        assert agr["total_supply"] - agr["in_accounts"] - agr["in_escrow"] == START_BALANCE - 7 - FEE - 1


# --- random activity over many blocks, executed by the chain's own rules --------------------------

_PARTIES = [PrivateKey(sha256(b"audit-party-" + bytes([i]))) for i in range(4)]
_PROPOSER = PrivateKey(sha256(b"audit-proposer"))
_AUDIT_CHAIN = "audit-random"
_WINDOWS = Windows(MINUTE, MINUTE, MINUTE, MINUTE)

_op = st.one_of(
    st.tuples(st.just("transfer"), st.integers(0, 3), st.integers(0, 3), st.integers(0, 2_000_000)),
    st.tuples(st.just("list"), st.integers(0, 3), st.integers(1, 50_000), st.integers(0, 5)),
    st.tuples(st.just("place"), st.integers(0, 3), st.integers(0, 20), st.integers(1, 3)),
    st.tuples(st.just("accept"), st.integers(0, 3), st.integers(0, 20), st.just(0)),
    st.tuples(st.just("issue"), st.integers(0, 3), st.integers(0, 1), st.just(0)),
    st.tuples(st.just("mint"), st.integers(0, 3), st.integers(0, 3), st.integers(0, 10**6)),
    st.tuples(st.just("burn"), st.integers(0, 3), st.integers(0, 1), st.integers(1, 10**6)),  # 0 never decodes
    st.tuples(st.just("offer"), st.integers(0, 3), st.integers(0, 1), st.integers(1, 10**5)),
    st.tuples(st.just("swap"), st.integers(0, 3), st.integers(0, 1), st.integers(1, 10**5)),
    st.tuples(st.just("cancel"), st.integers(0, 3), st.integers(0, 20), st.just(0)),
    st.tuples(st.just("fund"), st.integers(0, 3), st.just(0), st.just(0)),
    st.tuples(st.just("donate"), st.integers(0, 3), st.integers(0, 20), st.integers(1, 10**5)),
    st.tuples(st.just("disburse"), st.integers(0, 3), st.integers(0, 20), st.integers(1, 10**5)),
    st.tuples(st.just("finance"), st.integers(0, 3), st.integers(0, 20), st.integers(1, 10**4)),
    st.tuples(st.just("take"), st.integers(0, 3), st.integers(0, 20), st.just(0)),
    st.tuples(st.just("withdraw"), st.integers(0, 3), st.integers(0, 20), st.just(0)),
)
_SYMBOLS = ("GOLD", "SILK")
_blocks = st.lists(st.tuples(st.lists(_op, max_size=6), st.sampled_from([1, 30_000, 2 * MINUTE + 1])), max_size=12)


@settings(max_examples=25, deadline=None)
@given(_blocks)
@example(  # pinned: escrow locked by two orders, then released by an expiry and a refund at deadlines
    [
        ([("list", 1, 500, 5)], 1),
        ([("place", 2, 0, 2), ("place", 3, 0, 1)], 1),
        ([("accept", 1, 0, 0)], 30_000),
        ([], 2 * MINUTE + 1),
        ([("transfer", 0, 1, 5)], 1),
    ]
)
@example(  # pinned: an issued asset minted to two holders, then partly burned
    [
        ([("issue", 1, 0, 0), ("mint", 1, 2, 5_000), ("mint", 1, 3, 700)], 1),
        ([("burn", 2, 0, 1_200), ("transfer", 2, 3, 10)], 1),
    ]
)
@example(  # pinned: units locked in offers (one partly taken, one cancelled) and held by a fund
    [
        ([("issue", 1, 0, 0), ("mint", 1, 2, 5_000)], 1),
        ([("offer", 2, 1, 3_000), ("offer", 3, 0, 2_000), ("fund", 0, 0, 0)], 1),
        ([("swap", 3, 1, 1_000), ("cancel", 3, 1, 0), ("donate", 3, 0, 4_000)], 1),
        ([("disburse", 0, 0, 1_500)], 1),
    ]
)
@example(  # pinned: orders escrowed in an issued asset, one refunded at its deadline
    [
        ([("issue", 1, 0, 0), ("mint", 1, 2, 50_000), ("mint", 1, 3, 50_000)], 1),
        ([("list", 1, 500, 5)], 1),
        ([("place", 2, 0, 2), ("place", 3, 0, 1)], 1),
        ([("accept", 1, 0, 0)], 30_000),
        ([], 2 * MINUTE + 1),
    ]
)
@example(  # pinned: advances in financing offers: one accepted (its rival goes back), one left open
    [
        ([("list", 1, 5_000, 5)], 1),
        ([("place", 2, 0, 1), ("place", 3, 0, 1)], 1),
        ([("accept", 1, 0, 0), ("accept", 1, 1, 0)], 1),
        ([("finance", 0, 0, 3_000), ("finance", 3, 0, 2_000), ("finance", 2, 1, 4_000)], 1),
        ([("take", 1, 0, 0)], 1),
    ]
)
def test_supply_adds_up_after_every_block_of_random_activity(blocks: list[tuple[list[Any], int]]) -> None:
    genesis = dev_genesis(_AUDIT_CHAIN, [_PROPOSER.public_key], {k.public_key: 10**7 for k in _PARTIES}, time_ms=1)
    state = genesis.initial_state()
    nonces = [0] * len(_PARTIES)
    listings: list[tuple[bytes, int, bytes]] = []  # (id, price, merchant)
    orders: list[tuple[bytes, int]] = []  # (id, merchant index)
    fees = 0
    time_ms = 1
    issued: list[str] = []
    offers: list[bytes] = []
    funds: list[bytes] = []
    advances: list[bytes] = []
    supply: dict[str, int] = {}  # issued assets: minted minus burned
    for height, (ops, advance) in enumerate(blocks, start=1):
        time_ms += advance
        builder = BlockBuilder(state, DEFAULT_REGISTRY, _AUDIT_CHAIN, height, time_ms, _PROPOSER.public_key)
        for name, who, a, b in ops:
            body: Any
            if name == "transfer":
                body = Transfer(_PARTIES[a].public_key, b)
            elif name == "list":  # an odd lister prices in an issued asset once there is one
                asset = issued[0] if issued and who % 2 else "AGR"
                body = ListingCreate("Lamp", "", a, b, (ShippingOption("post", 10),), (), _WINDOWS, (), asset)
            elif name == "place" and listings:
                listing_id, price, _ = listings[a % len(listings)]
                body = OrderPlace(listing_id, b, 0, price, 10, b"", seal_for(_PARTIES[0].public_key, b"x"))
            elif name == "accept" and orders:
                body = OrderAccept(orders[a % len(orders)][0])
            elif name == "issue":
                body = AssetCreate(_SYMBOLS[a], "Token", 2)
            elif name == "mint" and issued:
                symbol = issued[who % len(issued)]
                body = AssetMint(symbol, _PARTIES[a].public_key, b)
            elif name == "burn":
                body = AssetBurn(_SYMBOLS[a], b)
            elif name in ("offer", "swap") and issued:
                # offers sell AGR for an issued asset or the other way round; swaps take them
                pair = ("AGR", issued[0]) if a == 0 else (issued[0], "AGR")
                if name == "offer":
                    body = OfferCreate(pair[0], pair[1], Rate(1, 1), b, time_ms + 100 * MINUTE)
                else:
                    body = OfferSwap(pair[1], pair[0], b, Rate(2, 1))
            elif name == "cancel" and offers:
                body = OfferCancel(offers[a % len(offers)])
            elif name == "fund":
                body = FundOpen("Relief", "blankets")
            elif name == "donate" and funds:
                body = FundDonate(funds[a % len(funds)], "AGR", b)
            elif name == "disburse" and funds:
                body = FundDisburse(funds[a % len(funds)], "AGR", b, _PARTIES[0].public_key, "blankets")
            elif name == "finance" and orders:
                body = FinanceOffer(orders[a % len(orders)][0], b, time_ms + 100 * MINUTE)
            elif name in ("take", "withdraw") and advances:
                body = (FinanceAccept if name == "take" else FinanceWithdraw)(advances[a % len(advances)])
            else:
                continue
            tx = sign_transaction(_PARTIES[who], _AUDIT_CHAIN, nonces[who], FEE, body)
            try:
                receipt = builder.apply_tx(tx)
            except InvalidTransaction:
                continue
            nonces[who] += 1
            fees += FEE
            if receipt.ok and name == "list":
                listings.append((tx.hash, a, _PARTIES[who].public_key))
            if receipt.ok and name == "place":
                orders.append((tx.hash, who))
            if receipt.ok and name == "offer":
                offers.append(tx.hash)
            if receipt.ok and name == "fund":
                funds.append(tx.hash)
            if receipt.ok and name == "finance":
                advances.append(tx.hash)
            if receipt.ok and name == "issue":
                issued.append(_SYMBOLS[a])
            if receipt.ok and name == "mint":
                supply[body.symbol] = supply.get(body.symbol, 0) + b
            if receipt.ok and name == "burn":
                supply[_SYMBOLS[a]] -= b
        result = builder.finish()
        state.apply(result.writes)
        totals = {a.asset: a for a in supply_totals(SortedState(dict(state.items()), height)).assets}
        agr = totals["AGR"]
        assert agr.balanced, agr
        assert agr.total_supply == 4 * 10**7 and agr.fees_paid == fees
        assert agr.in_escrow == escrow_total(state)
        for symbol, total in supply.items():  # an issued asset: minted - burned, wherever it is
            if total:
                t = totals[symbol]
                assert (
                    t.total_supply == t.in_accounts + t.in_escrow + t.in_offers + t.in_funds + t.in_financing == total
                )
                assert t.balanced and t.in_escrow == escrow_total(state, symbol) and t.fees_paid == 0
        walked = []
        cursor = None
        while True:
            page = account_page(SortedState(dict(state.items()), height), cursor, 2)
            walked += page.items
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        for asset, t in totals.items():
            assert sum(e.balances.get(asset, 0) for e in walked) == t.in_accounts


async def test_a_throttled_supply_answer_names_the_height_it_was_counted_at(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_api, "SUPPLY_DUTY_FACTOR", 1e9)  # one recount, then only the cached one
    async with market_node(tmp_path) as m:
        first = await m.ok("/api/v1/supply")
        await m.do("buyer", Transfer(m["buyer2"].public_key, 7))
        head = (await m.ok("/api/v1/head"))["height"]
        again = await m.ok("/api/v1/supply")
        assert head > first["height"] and again == first
    monkeypatch.setattr(audit_api, "SUPPLY_DUTY_FACTOR", 0.0)
    async with market_node(tmp_path) as m:
        await m.do("buyer", Transfer(m["buyer2"].public_key, 7))
        first = await m.ok("/api/v1/supply")
        await m.do("buyer", Transfer(m["buyer2"].public_key, 7))
        again = await m.ok("/api/v1/supply")
        assert again["height"] == first["height"] + 1 == (await m.ok("/api/v1/head"))["height"]
        assert again["assets"][0]["fees_paid"] == first["assets"][0]["fees_paid"] + FEE


# --- agora chain replay's library, against a real node --------------------------------------------


async def test_cli_replay_recomputes_the_chain_and_finds_a_tampered_balance(tmp_path: Path) -> None:
    assert set(REPLAY_REGISTRY.kinds) == set(DEFAULT_REGISTRY.kinds)
    assert REPLAY_REGISTRY.begin_block_hooks == DEFAULT_REGISTRY.begin_block_hooks
    async with market_node(tmp_path) as m:
        listing = await m.create_listing()
        order = await _place(m, listing)
        await m.do("merchant", OrderAccept(bytes.fromhex(order)))
        m.clock.advance(2 * MINUTE + 1)
        await m.tick()  # the accepted order was never shipped: refunded to the buyer at its deadline
        seen: list[int] = []
        report = await replay_chain(m.client, progress=seen.append)
        head = await m.ok("/api/v1/head")
        assert report.mismatches == () and report.height == head["height"] == seen[-1]
        assert report.state_root == head["state_root"] and report.block_events >= 1
        assert report.accounts_checked == len(await _all_accounts(m, 1000))
        partial = await replay_chain(m.client, to_height=2)
        assert partial.height == 2 and partial.accounts_checked is None
        # a node that answers with other receipts, events or block bytes than its chain's is caught
        answer = await m.client.block_for_replay(1)
        flipped = answer["raw_receipts"][0][:-1] + ("0" if answer["raw_receipts"][0][-1] != "0" else "1")
        for bad, reason in (
            ({**answer, "raw_receipts": [flipped]}, "receipts differ"),
            ({**answer, "raw_receipts": []}, "receipts differ"),
            ({**answer, "raw_block_events": "90"}, "block events differ"),
            ({**answer, "raw_block": answer["raw_block"][:-2]}, "does not decode"),
            ({**answer, "hash": "00" * 32}, "not the block the node names"),
            ({**answer, "raw_receipts": "ab"}, "not a list"),
        ):
            with pytest.raises(ReplayMismatch, match=reason):
                apply_block(await start(m.client), bad)
        # a certificate that the validators did not sign is caught (block 2 carries block 1's)
        replay = await start(m.client)
        apply_block(replay, await m.client.block_for_replay(1))
        answer = await m.client.block_for_replay(2)
        block = decode_block(bytes.fromhex(answer["raw_block"]), DEFAULT_REGISTRY)
        assert block.last_commit is not None
        sig = block.last_commit.signatures[0]
        forged_sig = CommitSig(sig.validator, bytes([sig.signature[0] ^ 1]) + sig.signature[1:])
        forged = replace(block, last_commit=replace(block.last_commit, signatures=(forged_sig,)))
        with pytest.raises(ReplayMismatch, match="block 1 is not certified"):
            apply_block(replay, {**answer, "raw_block": forged.encode().hex()})
        buyer = addr(m["buyer"])
    done = subprocess.run(  # noqa: ASYNC221 (the node is stopped; nothing else runs)
        [sys.executable, str(TAMPER_SCRIPT), "--datadir", str(tmp_path / "node"), "--address", buyer, "--amount", "5"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    async with market_node(tmp_path) as m:
        report = await replay_chain(m.client)
        assert len(report.mismatches) == 1 and report.mismatches[0].startswith(f"{buyer}: the node says 5 AGR")


async def test_an_expired_offer_is_returned_in_a_block_event_the_api_shows(tmp_path: Path) -> None:
    async with market_node(tmp_path) as m:
        await m.do("merchant", AssetCreate("USDX", "dollar", 2))
        before = await m.balance("buyer")
        receipt = await m.do("buyer", OfferCreate("AGR", "USDX", Rate(1, 1), 5_000, m.clock.now_ms + MINUTE // 2))
        offer_id = receipt["events"][0]["attrs"]["offer_id"]
        (agr,) = [a for a in (await m.ok("/api/v1/supply"))["assets"] if a["asset"] == "AGR"]
        assert agr["in_offers"] == 5_000 and agr["balanced"]
        m.clock.advance(2 * MINUTE)
        record = await m.send("ticker", Transfer(m["validator"].public_key, 1))
        block = await m.ok(f"/api/v1/blocks/{record['height']}", receipts="true")
        expired = [e["attrs"] for e in block["block_events"] if e["type"] == "offer"]
        assert len(expired) == 1 and expired[0]["action"] == "expire" and expired[0]["offer_id"] == offer_id
        assert int(expired[0]["returned"]) == 5_000
        assert await m.balance("buyer") == before - FEE
        (agr,) = [a for a in (await m.ok("/api/v1/supply"))["assets"] if a["asset"] == "AGR"]
        assert agr["in_offers"] == 0 and agr["balanced"]
        assert (await m.get(f"/api/v1/offers/{offer_id}"))[0] == 404
        await m.fails("buyer", OfferCancel(bytes.fromhex(offer_id)), "unknown_offer")
