"""A GS1 Digital Link opened in a browser shows the item's journey; API clients keep the JSON resolver."""

from __future__ import annotations

from pathlib import Path

from node_market_kit import START_MS, MarketNode, addr
from web_kit import page, place_order, redirect_of, text_of, web_node
from yarl import URL

from market.provenance.bodies import TraceCommission, TraceEvent, TraceGrant, TraceRegister, TraceSell
from market.provenance.identifiers import lot_of, with_check_digit
from market.provenance.records import Document, EventWhen, Location
from market.provenance.vocab import Role

GTIN = with_check_digit("0950600013430")
LOT = lot_of(GTIN, "A/1")
CERT = bytes(range(32))


async def _journey(m: MarketNode) -> None:
    where = Location(gln=with_check_digit("061414100001"))
    await m.do("merchant", TraceRegister(GTIN, "Green <b>coffee</b>"))
    await m.do("merchant", TraceCommission(LOT.key, 500, "KGM", EventWhen(START_MS, 60, where, Location())))
    await m.do("merchant", TraceGrant("01/" + GTIN, Role.CARRIER, m["buyer2"].public_key))
    with_doc = EventWhen(START_MS, 60, where, Location(), (Document("certificate", CERT),))
    await m.do("buyer2", TraceEvent(LOT.key, "shipping", "", with_doc, m["arbiter"].public_key))
    await m.do("arbiter", TraceEvent(LOT.key, "receiving", "", EventWhen(START_MS, 60, where, Location())))


async def test_a_digital_link_opens_the_items_journey_in_a_browser(tmp_path: Path) -> None:
    async with web_node(tmp_path) as m:
        await _journey(m)
        path = LOT.path()
        html = await page(m, path)
        text = text_of(html)
        assert "Green <b>coffee</b>" in text and "<b>coffee" not in html  # escaped
        assert LOT.key in text and "Lot A/1" in text and "500 of 500 KGM" in text
        assert addr(m["arbiter"])[:14] in text  # the custodian now
        journey = text[text.index("Journey") :]
        assert journey.index("commissioning") < journey.index("shipping") < journey.index("receiving")
        assert f"certificate sha-256 {CERT.hex()[:16]}" in journey
        async with m.http.get(URL(m.url + path, encoded=True), headers={"Accept": "application/json"}) as r:
            assert r.status == 200 and (await r.json())["item"]["key"] == LOT.key  # the resolver, unchanged
        assert await redirect_of(m, "/search?q=" + LOT.key.replace("/", "%2F")) == path
        assert await redirect_of(m, "/search?q=" + (m.url + path).replace("%", "%25")) == path
        missing = lot_of(GTIN, "B").path()
        assert "no item" in text_of(await page(m, missing, status=404))
        await page(m, "/01/123", status=400)


async def test_a_listing_and_its_order_link_to_the_item_they_are_traced_to(tmp_path: Path) -> None:
    async with web_node(tmp_path) as m:
        await _journey(m)
        listing = await m.create_listing()
        await m.do("merchant", TraceSell(bytes.fromhex(listing), LOT.key))
        order_id, _ = await place_order(m, listing)
        for path in (f"/listing/{listing}", f"/order/{order_id}"):
            html = await page(m, path)
            assert f'href="{LOT.path()}"' in html and "Traced to" in text_of(html), path
