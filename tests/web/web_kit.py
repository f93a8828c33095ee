"""A real in-process node with the pages mounted, and a small marketplace scenario on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Final

from node_market_kit import START_MS, MarketNode, market_node

from chain.transfer import Transfer
from market.assets.bodies import AssetCreate, AssetMint
from market.assets.offers import OfferCreate, Rate
from market.bodies import ListingCreate, OrderAccept, OrderPlace, OrderShip
from market.privacy import seal_for
from market.records import AssetPrice, ShippingOption, Windows
from web.mount import mount

PRICE: Final = 1_000
SHIP: Final = 100
MAX_PAGE_BYTES: Final = 100 * 1024
XSS_TITLE: Final = "<script>alert(1)</script> mug"
CONVERSION_WINDOWS: Final = Windows(3_600_000, 3_600_000, 3_600_000, 3_600_000)


@asynccontextmanager
async def web_node(tmp_path: Path) -> AsyncIterator[MarketNode]:
    """A one-validator node over real LevelDB on a free loopback port, serving the pages."""
    async with market_node(tmp_path, api_extensions=(mount,)) as m:
        yield m


@dataclass(frozen=True)
class Scenario:
    """What the scenario committed: a transfer, a listing and an order (accepted and shipped)."""

    transfer_tx: str
    transfer_height: int
    listing_id: str
    order_id: str
    order_tx: str


async def place_order(m: MarketNode, listing_id: str) -> tuple[str, str]:
    """The buyer orders one unit of ``listing_id`` with the first shipping option; (order id, tx hash)."""
    body = OrderPlace(
        bytes.fromhex(listing_id),
        1,
        0,
        PRICE,
        SHIP,
        m["arbiter"].public_key,
        seal_for(m["merchant"].public_key, b"Ada Lovelace, 12 Analytical St, London"),
    )
    record = await m.send("buyer", body)
    assert record["receipt"]["code"] == "ok", record["receipt"]
    event = next(e for e in record["receipt"]["events"] if e["type"] == "order")
    return event["attrs"]["order_id"], record["hash"]


async def conversion_shop(m: MarketNode) -> str:
    """USDX and EURX (2 decimals each; the merchant may freeze EURX), a tea listing at 12 USDX
    + 0.5 USDX post or 11 EURX + 0.45 EURX post (stock 3), the merchant's offers selling 20 USDX
    for EURX at 0.9 and 1 USDX at 0.8, and 20 EURX each for buyer and buyer2; the listing's id."""
    merchant = m["merchant"].public_key
    await m.do("merchant", AssetCreate("USDX", "US dollar token", 2))
    await m.do("merchant", AssetCreate("EURX", "Euro token", 2, 0, merchant))
    await m.do("merchant", AssetMint("USDX", merchant, 100_000))
    await m.do("merchant", AssetMint("EURX", m["buyer"].public_key, 2_000))
    await m.do("merchant", AssetMint("EURX", m["buyer2"].public_key, 2_000))
    await m.do("merchant", OfferCreate("USDX", "EURX", Rate(9, 10), 2_000, START_MS + 10**9))
    await m.do("merchant", OfferCreate("USDX", "EURX", Rate(8, 10), 100, START_MS + 10**9))
    alt = (AssetPrice("EURX", 1_100, (45,)),)
    tea = ListingCreate(
        "Green tea", "", 1_200, 3, (ShippingOption("post", 50),), (), CONVERSION_WINDOWS, (), "USDX", alt
    )
    return str((await m.send("merchant", tea))["hash"])


async def scenario(m: MarketNode) -> Scenario:
    """A transfer buyer -> buyer2, a listing, and an order accepted and shipped."""
    record = await m.send("buyer", Transfer(m["buyer2"].public_key, 12_345))
    assert record["receipt"]["code"] == "ok"
    listing_id = await m.create_listing(price=PRICE, stock=5, shipping=(("standard", SHIP), ("express", 300)))
    order_id, order_tx = await place_order(m, listing_id)
    await m.do("merchant", OrderAccept(bytes.fromhex(order_id)))
    await m.do("merchant", OrderShip(bytes.fromhex(order_id), seal_for(m["buyer"].public_key, b"TRACK-1")))
    return Scenario(record["hash"], record["height"], listing_id, order_id, order_tx)


class TextOf(HTMLParser):
    """The visible text of an HTML document (script and style contents left out)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def text_of(html: str) -> str:
    """The text a reader sees with JavaScript off, whitespace collapsed."""
    parser = TextOf()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


async def page(m: MarketNode, path: str, status: int = 200) -> str:
    """GET ``path`` as a browser would (no redirects followed); check status, type, CSP and size; the HTML."""
    async with m.http.get(m.url + path, allow_redirects=False, headers={"Accept": "text/html"}) as r:
        body = await r.read()
        assert r.status == status, (path, r.status, body[:500])
        assert r.content_type == "text/html", (path, r.content_type)
        csp = r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe-inline" not in csp
        assert len(body) < MAX_PAGE_BYTES, (path, len(body))
        return body.decode()


async def redirect_of(m: MarketNode, path: str) -> str:
    """The Location a GET of ``path`` redirects to (it must redirect)."""
    async with m.http.get(m.url + path, allow_redirects=False) as r:
        assert r.status == 303, (path, r.status, await r.text())
        return r.headers["Location"]
