"""A real chain for market tests: genesis, signed transactions, build_block + execute_block.

Every block is built by the proposer side (build_block) and then re-executed by the
verifier side (execute_block) over the same parent state, so every test also checks that
both sides agree on the app hash.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pytest

from chain.accounts import BALANCE_PREFIX, NATIVE_ASSET, SUPPLY_PREFIX, balance_key, get_supply, nonce_key
from chain.block import Header
from chain.encoding import decode, sha256
from chain.execution import BlockResult, Event, Receipt, build_block, execute_block
from chain.genesis import Genesis, genesis_from_json
from chain.keys import PrivateKey
from chain.state import MemoryState, Overlay
from chain.transfer import CORE_KINDS
from chain.tx import sign_transaction
from chain.votes import Commit, Vote, VoteType, verify_commit
from market import MARKET_KINDS
from market.assets.offers import offer_total_key
from market.bodies import Conversion, ListingCreate, OrderPlace
from market.finance import fin_total_key
from market.funds import fund_total_key
from market.keys import DUE_CURSOR_KEY, ESCROW_PREFIX
from market.queries import escrow_total, get_listing, get_order
from market.records import ArbiterTerms, AssetPrice, Listing, Order, ShippingOption, Windows

REGISTRY = CORE_KINDS.merged(MARKET_KINDS)
CHAIN_ID = "agora-market-test"
T0 = 1_700_000_000_000
FEE = 10
FUNDS = 10**12
MINUTE = 60_000
WINDOWS = Windows(accept_ms=10 * MINUTE, ship_ms=20 * MINUTE, confirm_ms=30 * MINUTE, ruling_ms=40 * MINUTE)


def key(name: str) -> PrivateKey:
    """A deterministic key per name, so failures replay."""
    return PrivateKey(sha256(b"agora-market-test/" + name.encode()))


class MarketChain:
    """A single-validator chain whose blocks are built and re-verified in process."""

    def __init__(self, funded: dict[str, int] | None = None) -> None:
        self.validator = key("validator")
        funded = funded or {n: FUNDS for n in ("m1", "m2", "b1", "b2", "b3", "a1", "a2")}
        self.keys = {name: key(name) for name in funded}
        self.genesis: Genesis = genesis_from_json(
            {
                "chain_id": CHAIN_ID,
                "genesis_time_ms": T0,
                "validators": [{"public_key": self.validator.public_key.hex(), "power": 1}],
                "balances": [
                    {"address": self.keys[n].public_key.hex(), "amount": amount} for n, amount in funded.items()
                ],
            }
        )
        self.state: MemoryState = self.genesis.initial_state()
        self.parent: Header | None = None
        self.time_ms = T0
        self.block_events: list[Event] = []

    # --- blocks -----------------------------------------------------------------

    def block(self, txs: Sequence[Any] = (), advance_ms: int = 1) -> BlockResult:
        """Build a block at now + advance_ms with ``txs``, re-execute it, and commit it."""
        block, result, rejected = build_block(
            self.state,
            REGISTRY,
            self.parent,
            self.genesis.hash,
            CHAIN_ID,
            self.time_ms + advance_ms,
            self.validator.public_key,
            txs,
            self._last_commit(),
        )
        if rejected:
            raise AssertionError(f"transactions rejected: {[(t.kind, e.code) for t, e in rejected]}")
        verified = execute_block(self.state, REGISTRY, block, self.parent, self.genesis.hash, chain_id=CHAIN_ID)
        if verified.state_root != result.state_root or dict(verified.writes) != dict(result.writes):
            raise AssertionError("build_block and execute_block disagree")
        self.state.apply(result.writes)
        self.parent = block.header
        self.time_ms = block.header.time_ms
        self.block_events = list(result.block_events)
        return result

    def _last_commit(self) -> Commit | None:
        """The single validator's certificate of the parent block (None at height 1)."""
        if self.parent is None:
            return None
        vote = Vote.create(self.validator, CHAIN_ID, VoteType.PRECOMMIT, self.parent.height, 0, self.parent.hash)
        commit = Commit.from_votes([vote])
        verify_commit(CHAIN_ID, commit, self.genesis.validators, self.parent.height, self.parent.hash)
        return commit

    def tx(self, name: str, body: Any) -> Any:
        """Sign ``body`` as ``name`` with its next nonce (as of committed state)."""
        signer = self.keys[name]
        nonce = Overlay(self.state).get_int(nonce_key(signer.public_key))
        return sign_transaction(signer, CHAIN_ID, nonce, FEE, body)

    def send(self, name: str, body: Any, advance_ms: int = 1) -> Receipt:
        """Include one transaction in its own block and return its receipt."""
        return self.block([self.tx(name, body)], advance_ms).receipts[0]

    def ok(self, name: str, body: Any, advance_ms: int = 1) -> Receipt:
        """Send and require success."""
        receipt = self.send(name, body, advance_ms)
        if not receipt.ok:
            raise AssertionError(f"{body.KIND} by {name} failed: {receipt.code}: {receipt.message}")
        return receipt

    def advance_to(self, time_ms: int) -> BlockResult:
        """An empty block at ``time_ms``."""
        return self.block((), time_ms - self.time_ms)

    # --- reads ------------------------------------------------------------------

    def pub(self, name: str) -> bytes:
        """The account of ``name``."""
        return self.keys[name].public_key

    def balance(self, name: str) -> int:
        """AGR balance of ``name``."""
        return Overlay(self.state).get_int(balance_key(self.pub(name), NATIVE_ASSET))

    def nonce(self, name: str) -> int:
        """The nonce ``name``'s next transaction carries (the number it has sent)."""
        return Overlay(self.state).get_int(nonce_key(self.pub(name)))

    def held(self, name: str, asset: str) -> int:
        """``name``'s balance in ``asset``."""
        return Overlay(self.state).get_int(balance_key(self.pub(name), asset))

    def listing(self, listing_id: bytes) -> Listing:
        """A listing that must exist."""
        listing = get_listing(self.state, listing_id)
        if listing is None:
            raise AssertionError("no such listing")
        return listing

    def order(self, order_id: bytes) -> Order:
        """An order that must exist."""
        order = get_order(self.state, order_id)
        if order is None:
            raise AssertionError("no such order")
        return order

    def balances_total(self, asset: str = NATIVE_ASSET) -> int:
        """Sum of every balance in ``asset``."""
        suffix = b"/" + asset.encode()
        return sum(decode(v) for k, v in self.state.items() if k.startswith(BALANCE_PREFIX) and k.endswith(suffix))

    def escrow_sum(self, asset: str = NATIVE_ASSET) -> int:
        """Sum of the per-order escrows of the orders in ``asset``."""
        return sum(
            decode(v)
            for k, v in self.state.items()
            if k.startswith(ESCROW_PREFIX) and self.order(k[len(ESCROW_PREFIX) :]).asset == asset
        )

    def assets(self) -> list[str]:
        """Every asset with a supply record (AGR and each issued asset)."""
        return sorted(k[len(SUPPLY_PREFIX) :].decode() for k, _ in self.state.items() if k.startswith(SUPPLY_PREFIX))

    def check_conservation(self) -> None:
        """For every asset: balances + escrow + conversion offers + funds + financing offers =
        supply, and the asset's escrow total matches the escrows of its orders."""
        view = Overlay(self.state)
        for asset in self.assets():
            escrow = escrow_total(self.state, asset)
            offers = view.get_int(offer_total_key(asset))
            funds = view.get_int(fund_total_key(asset))
            financing = view.get_int(fin_total_key(asset))
            if self.balances_total(asset) + escrow + offers + funds + financing != get_supply(view, asset):
                raise AssertionError(f"{asset}: balances + escrow + offers + funds + financing offers != supply")
            if escrow != self.escrow_sum(asset):
                raise AssertionError(f"{asset}: escrow total != sum of escrows")

    def refused(self, name: str, body: Any, code: str) -> None:
        """Send ``body`` as ``name``; it must fail with ``code`` and change nothing but the fee
        (the sender's AGR, the proposer's AGR, the fees counter) and the sender's nonce."""
        before = self.snapshot()
        receipt = self.send(name, body)
        assert (receipt.code, receipt.ok) == (code, False), receipt.message
        sender = self.pub(name)
        allowed = {
            balance_key(sender, NATIVE_ASSET),
            nonce_key(sender),
            balance_key(self.validator.public_key, NATIVE_ASSET),
        }
        changed = {k for k in self.changed_keys(before) if k not in allowed and not k.startswith(b"fees/")}
        assert changed == set(), changed

    def snapshot(self) -> dict[bytes, bytes]:
        """Every key and value (for nothing-changed checks)."""
        return dict(self.state.items())

    def changed_keys(self, before: dict[bytes, bytes]) -> set[bytes]:
        """Keys whose value differs from ``before`` (ignoring the deadline cursor)."""
        after = self.snapshot()
        keys = set(before) | set(after)
        return {k for k in keys if before.get(k) != after.get(k) and k != DUE_CURSOR_KEY}

    # --- market shortcuts ---------------------------------------------------------

    def create_listing(
        self,
        merchant: str = "m1",
        price: int = 1_000,
        stock: int = 5,
        shipping: Iterable[tuple[str, int]] = (("post", 50),),
        arbiters: Iterable[tuple[str, int]] = (("a1", 500),),
        windows: Windows = WINDOWS,
        asset: str = NATIVE_ASSET,
        alt_prices: Iterable[AssetPrice] = (),
    ) -> bytes:
        """Create a listing (priced in ``asset``, and in each of ``alt_prices``) and return its id."""
        body = ListingCreate(
            title="Olive oil, 1 l",
            description="Cold pressed.",
            price=price,
            stock=stock,
            shipping=tuple(ShippingOption(n, p) for n, p in shipping),
            arbiters=tuple(ArbiterTerms(self.pub(a), bps) for a, bps in arbiters),
            windows=windows,
            media=(sha256(b"photo"),),
            asset=asset,
            alt_prices=tuple(alt_prices),
        )
        return self.ok(merchant, body).tx_hash

    def place_body(
        self,
        listing_id: bytes,
        quantity: int = 1,
        arbiter: str | None = "a1",
        asset: str = "",
        conversion: Conversion | None = None,
        redeem: int = 0,
    ) -> OrderPlace:
        """An order at the listing's current prices in ``asset`` (default: the listing's own),
        spending ``redeem`` loyalty points."""
        listing = self.listing(listing_id)
        terms = listing.terms_in(asset or listing.asset)
        unit, shipping = terms if terms is not None else (listing.price, (listing.shipping[0].price,))
        return OrderPlace(
            listing_id,
            quantity,
            0,
            unit,
            shipping[0],
            b"" if arbiter is None else self.pub(arbiter),
            b"",
            asset,
            conversion,
            redeem,
        )

    def place(
        self,
        buyer: str,
        listing_id: bytes,
        quantity: int = 1,
        arbiter: str | None = "a1",
        asset: str = "",
        conversion: Conversion | None = None,
        redeem: int = 0,
    ) -> bytes:
        """Place an order at the listing's current prices (spending ``redeem`` points) and return its id."""
        return self.ok(buyer, self.place_body(listing_id, quantity, arbiter, asset, conversion, redeem)).tx_hash


@pytest.fixture
def chain() -> MarketChain:
    """A fresh chain with funded merchants m1, m2, buyers b1..b3 and arbiters a1, a2."""
    return MarketChain()


@pytest.fixture
def make_chain() -> Callable[..., MarketChain]:
    """A factory for fresh chains (for hypothesis state machines and custom funding)."""
    return MarketChain
