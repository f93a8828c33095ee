"""A real in-process node running the market, driven only through its public HTTP API.

The node's block clock is injected (:class:`ManualClock`), so tests cross the market's
one-minute deadline windows by advancing it instead of waiting.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import aiohttp

from chain.address import encode_address
from chain.encoding import sha256
from chain.keys import PrivateKey
from chain.transfer import Transfer
from chain.tx import sign_transaction
from market.bodies import ListingCreate
from market.records import ArbiterTerms, ShippingOption, Windows
from node.client import NodeClient
from node.datadir import dev_genesis, init_datadir, open_datadir
from node.extensions import ApiExtension
from node.service import DEFAULT_REGISTRY, Node
from storage.store import ChainStore

CHAIN: Final = "market-api-test"
FEE: Final = 10
START_BALANCE: Final = 10**12
START_MS: Final = 1_700_000_000_000
MINUTE: Final = 60_000
WINDOWS: Final = Windows(MINUTE, MINUTE, MINUTE, MINUTE)


def key(name: str) -> PrivateKey:
    """A deterministic key per name (failures replay)."""
    return PrivateKey(sha256(b"market-api-" + name.encode()))


def addr(k: PrivateKey) -> str:
    """The agora1... address of a key."""
    return encode_address(k.public_key)


class ManualClock:
    """Block time in ms that only moves when the test says so."""

    def __init__(self, now_ms: int = START_MS) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, ms: int) -> None:
        self.now_ms += ms


PARTIES: Final = ("validator", "merchant", "buyer", "buyer2", "arbiter", "arbiter2", "ticker")


@dataclass
class MarketNode:
    """The running node, its HTTP client and the parties' keys and nonces."""

    node: Node
    url: str
    clock: ManualClock
    http: aiohttp.ClientSession
    client: NodeClient
    keys: dict[str, PrivateKey]
    nonces: dict[bytes, int] = field(default_factory=dict)

    def __getitem__(self, name: str) -> PrivateKey:
        return self.keys[name]

    async def get(self, path: str, **params: Any) -> tuple[int, Any]:
        """GET ``path`` with query ``params``; (status, decoded JSON)."""
        async with self.http.get(self.url + path, params=params) as r:
            body = await r.read()
            if r.status >= 400:
                assert r.content_type == "application/problem+json", body
            return r.status, json.loads(body)

    async def ok(self, path: str, **params: Any) -> Any:
        """GET that must answer 200; the decoded JSON."""
        status, body = await self.get(path, **params)
        assert status == 200, body
        return body

    async def send(self, who: str, body: Any) -> dict[str, Any]:
        """Sign ``body`` as ``who``, submit it through the API, wait for it; the committed record."""
        signer = self.keys[who]
        nonce = self.nonces.get(signer.public_key, 0)
        tx = sign_transaction(signer, CHAIN, nonce, FEE, body)
        self.nonces[signer.public_key] = nonce + 1
        async with self.http.post(self.url + "/api/v1/txs", json={"tx": tx.raw.hex()}) as r:
            assert r.status == 202, await r.text()
        record = await self.client.wait_for_tx(tx.hash.hex(), 20)
        return record

    async def do(self, who: str, body: Any) -> dict[str, Any]:
        """``send`` that must succeed; the receipt."""
        record = await self.send(who, body)
        receipt: dict[str, Any] = record["receipt"]
        assert receipt["code"] == "ok", receipt
        return receipt

    async def fails(self, who: str, body: Any, code: str) -> None:
        """``send`` whose receipt must carry the failure ``code`` (only fee and nonce change)."""
        before = await self.balance(who)
        record = await self.send(who, body)
        assert record["receipt"]["code"] == code, record["receipt"]
        assert record["receipt"]["events"] == []
        assert await self.balance(who) == before - FEE

    async def balance(self, who: str) -> int:
        """The committed AGR balance of ``who``."""
        status, body = await self.get(f"/api/v1/accounts/{addr(self.keys[who])}")
        return int(body["balances"]["AGR"]) if status == 200 else 0

    async def tick(self) -> None:
        """Commit one more block (a tiny transfer between bystanders) so that due deadlines run."""
        await self.do("ticker", Transfer(self.keys["validator"].public_key, 1))

    async def order(self, order_id: str) -> dict[str, Any]:
        """GET /api/v1/orders/{id}."""
        result: dict[str, Any] = await self.ok(f"/api/v1/orders/{order_id}")
        return result

    async def create_listing(
        self,
        who: str = "merchant",
        *,
        title: str = "Hand-made oak chair",
        description: str = "Solid oak, oiled.",
        price: int = 1_000,
        stock: int = 5,
        shipping: tuple[tuple[str, int], ...] = (("standard", 100), ("express", 300)),
        arbiters: tuple[tuple[str, int], ...] = (("arbiter", 500),),
    ) -> str:
        """Create a listing; its id."""
        body = ListingCreate(
            title,
            description,
            price,
            stock,
            tuple(ShippingOption(n, p) for n, p in shipping),
            tuple(ArbiterTerms(self.keys[a].public_key, bps) for a, bps in arbiters),
            WINDOWS,
        )
        receipt = await self.do(who, body)
        listing_id: str = receipt["events"][0]["attrs"]["listing_id"]
        return listing_id


@asynccontextmanager
async def market_node(
    tmp_path: Path, clock: ManualClock | None = None, api_extensions: Sequence[ApiExtension] = (), **config: object
) -> AsyncIterator[MarketNode]:
    """Start (or restart) a one-validator node on port 0 with a manual clock; stop it on exit.
    ``api_extensions`` are mounted on its client API (tests/web/ mounts the pages)."""
    keys = {name: key(name) for name in PARTIES}
    balances = {k.public_key: START_BALANCE for n, k in keys.items() if n != "validator"}
    genesis = dev_genesis(CHAIN, [keys["validator"].public_key], balances, time_ms=1)
    settings: dict[str, object] = {"api_port": 0, "min_block_interval_ms": 5, "heartbeat_interval_ms": 3_600_000}
    settings.update(config)
    datadir = tmp_path / "node"
    if not datadir.exists():
        init_datadir(datadir, genesis, keys["validator"], "pw", settings)
    clock = clock or ManualClock()
    node = Node(open_datadir(datadir), keys["validator"], clock=clock, api_extensions=api_extensions)
    url = await node.start()
    try:
        async with aiohttp.ClientSession() as http, NodeClient(url) as client:
            running = MarketNode(node, url, clock, http, client, keys)
            for k in keys.values():
                status, body = await running.get(f"/api/v1/accounts/{addr(k)}")
                running.nonces[k.public_key] = int(body["nonce"]) if status == 200 else 0
            yield running
    finally:
        await node.stop()


def forget_index(tmp_path: Path, meta_key: bytes) -> None:
    """Delete a node-side index's height record in the stopped node's store: its next start rebuilds it."""
    datadir = open_datadir(tmp_path / "node")
    store = ChainStore.open(datadir.db_path, datadir.genesis, DEFAULT_REGISTRY)
    try:
        store.write_index({meta_key: None})
    finally:
        store.close()
