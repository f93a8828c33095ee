"""Provenance over a real node's HTTP API: items, history, journey, EPCIS, the Digital Link resolver."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from node_market_kit import MINUTE, START_MS, MarketNode, addr, market_node
from yarl import URL

from market.bodies import OrderAccept, OrderPlace
from market.provenance.bodies import (
    TraceAggregate,
    TraceCommission,
    TraceEvent,
    TraceGrant,
    TraceRecall,
    TraceRegister,
    TraceSell,
    TraceShipOrder,
)
from market.provenance.identifiers import lot_of, with_check_digit
from market.provenance.records import Action, EventWhen, Location
from market.provenance.schema import schema_errors
from market.provenance.vocab import Role

GTIN = with_check_digit("0950600013430")
LOT = lot_of(GTIN, "A/1")
SSCC = "00/" + with_check_digit("10614141123456789"[:17])
WHEN = EventWhen(START_MS, 60, Location(gln=with_check_digit("061414100001")), Location())


async def raw(m: MarketNode, path: str) -> tuple[int, Any]:
    """GET a path exactly as written (percent-escapes kept)."""
    async with m.http.get(URL(m.url + path, encoded=True)) as r:
        body = await r.read()
        if r.status >= 400:
            assert r.content_type == "application/problem+json", body
        return r.status, json.loads(body)


async def _journey(m: MarketNode) -> None:
    await m.do("merchant", TraceRegister(GTIN, "Green coffee"))
    await m.do("merchant", TraceCommission(LOT.key, 500, "KGM", WHEN))
    await m.do("merchant", TraceGrant("01/" + GTIN, Role.CARRIER, m["buyer2"].public_key))
    await m.do("buyer2", TraceEvent(LOT.key, "shipping", "", WHEN, m["arbiter"].public_key))
    await m.do("arbiter", TraceEvent(LOT.key, "receiving", "", WHEN))
    await m.do("arbiter", TraceCommission(SSCC, 1, "H87", WHEN))
    await m.do("arbiter", TraceAggregate(SSCC, Action.ADD, (LOT.key,), WHEN))


async def test_item_history_journey_and_resolver(tmp_path: Path) -> None:
    async with market_node(tmp_path) as m:
        await _journey(m)
        path = LOT.path()
        assert "%2F" in path
        item = (await raw(m, "/api/v1/items" + path))[1]
        assert item["key"] == LOT.key and item["lot"] == "A/1"
        assert item["custodian"] == addr(m["arbiter"]) and item["parent"] == SSCC
        assert (item["remaining"], item["uom"], item["head"]["count"]) == ("500", "KGM", 4)
        assert item["digital_link"] == m.url + path
        proof = await m.ok("/api/v1/proofs/state", key=item["head"]["state_key"])
        assert proof["value"] is not None

        status, history = await raw(m, "/api/v1/items" + path + "/history?limit=2")
        assert status == 200 and history["count"] == 4 and history["next"] == 2
        assert [e["bizStep"] for e in history["events"]] == ["commissioning", "shipping"]
        assert history["events"][1]["agora:recipient"] == addr(m["arbiter"])

        status, journey = await raw(m, "/api/v1/items/" + SSCC + "/journey")
        assert status == 200
        assert journey["tree"]["upstream"][0]["item"]["key"] == LOT.key
        assert [e["type"] for e in journey["timeline"]][-1] == "AggregationEvent"

        status, document = await raw(m, "/api/v1/items/" + SSCC + "/epcis")
        assert status == 200 and schema_errors(document) == []

        status, resolved = await raw(m, path)
        assert status == 200 and resolved["item"]["key"] == LOT.key
        assert len(resolved["journey"]["timeline"]) == 4
        status, resolved = await raw(m, "/01/" + GTIN[1:])  # a GTIN-13 resolves to its class
        assert status == 200 and resolved["class"]["name"] == "Green coffee"


async def test_bad_and_unknown_identifiers(tmp_path: Path) -> None:
    async with market_node(tmp_path) as m:
        await m.do("merchant", TraceRegister(GTIN, "Green coffee"))
        cases = [
            ("/api/v1/items/01/09506000134353/10/A", 400, "bad_identifier"),
            ("/api/v1/items/01/" + GTIN + "/17/A", 400, "bad_identifier"),
            ("/api/v1/items/01/" + GTIN + "/10/%FF", 400, "bad_identifier"),
            ("/api/v1/items/00/106141411234567898", 400, "bad_identifier"),
            ("/api/v1/items/01/" + GTIN + "/10/NOPE", 404, "not_found"),
            ("/api/v1/items/01/" + with_check_digit("0950600013440"), 404, "not_found"),
            ("/api/v1/items/01/" + GTIN + "/10/A/history?limit=0", 400, "bad_parameter"),
            ("/api/v1/items/01/" + GTIN + "/10/A/history?limit=x", 400, "bad_parameter"),
            ("/api/v1/items/01/" + GTIN + "/10/A?x=1", 400, "unknown_parameter"),
            ("/01/" + GTIN + "/21/" + "x" * 21, 400, "bad_identifier"),
            ("/api/v1/orders/" + "00" * 32 + "/provenance", 404, "not_found"),
            ("/api/v1/listings/zz/provenance", 400, "bad_id"),
        ]
        for path, status, reason in cases:
            got, body = await raw(m, path)
            assert (got, body["reason"]) == (status, reason), path


async def test_order_provenance_and_recall(tmp_path: Path) -> None:
    async with market_node(tmp_path) as m:
        await _journey(m)
        await m.do("merchant", TraceGrant("01/" + GTIN, Role.MERCHANT, m["buyer2"].public_key))
        listing = await m.create_listing("buyer2", arbiters=())
        await m.do("buyer2", TraceSell(bytes.fromhex(listing), "01/" + GTIN))
        receipt = await m.do("buyer", OrderPlace(bytes.fromhex(listing), 1, 0, 1_000, 100))
        order = receipt["events"][-1]["attrs"]["order_id"]
        before = await m.ok(f"/api/v1/orders/{order}/provenance")
        assert before["shipped_with"] is False and before["item"]["key"] == "01/" + GTIN
        await m.do("buyer2", OrderAccept(bytes.fromhex(order)))
        shipped = await m.do("buyer2", TraceShipOrder(bytes.fromhex(order), LOT.key))
        status, history = await raw(m, "/api/v1/items" + LOT.path() + "/history?limit=100")
        assert status == 200
        last = history["events"][-1]  # the order's shipment is an EPCIS event of the lot
        assert (last["bizStep"], last["disposition"], last["agora:recipient"]) == (
            "shipping",
            "in_transit",
            addr(m["buyer"]),
        )
        assert [e["attrs"]["action"] for e in shipped["events"] if e["type"] == "provenance"] == ["ship_order"]
        status, document = await raw(m, "/api/v1/items" + LOT.path() + "/epcis")
        assert status == 200 and schema_errors(document) == []
        # the shipment is an event of the lot at the block time: the recall comes after it
        await m.do("merchant", TraceRecall(LOT.key, "mould", replace(WHEN, time_ms=START_MS + MINUTE)))
        after = await m.ok(f"/api/v1/orders/{order}/provenance")
        assert after["shipped_with"] is True
        assert (after["item"]["key"], after["item"]["recalled_by"]) == (LOT.key, LOT.key)
        listed = await m.ok(f"/api/v1/listings/{listing}/provenance")
        assert listed["item"]["recalled"] is False  # it sells the class; the shipped lot is recalled


async def test_item_event_stream_is_live(tmp_path: Path) -> None:
    import asyncio

    async with market_node(tmp_path) as m:
        await m.do("merchant", TraceRegister(GTIN, "Green coffee"))
        await m.do("merchant", TraceCommission(LOT.key, 500, "KGM", WHEN))
        url = URL(m.url + "/api/v1/items" + LOT.path() + "/events", encoded=True)
        async with m.http.get(url) as stream:
            assert stream.status == 200 and stream.content_type == "text/event-stream"
            assert (await stream.content.readline()).startswith(b": agora item stream")
            await m.do("merchant", TraceEvent(LOT.key, "storing", "", WHEN))

            async def next_event() -> dict[str, Any]:
                while True:
                    line = await stream.content.readline()
                    if line.startswith(b"data: "):
                        return dict(json.loads(line[6:]))

            event = await asyncio.wait_for(next_event(), 20)
            assert (event["bizStep"], event["agora:count"]) == ("storing", 2)


async def test_a_configured_resolver_is_the_digital_link_base(tmp_path: Path) -> None:
    import pytest

    from node.config import ConfigError, NodeConfig

    with pytest.raises(ConfigError, match="digital_link_base"):
        NodeConfig(digital_link_base="ftp://resolver.example")
    async with market_node(tmp_path, digital_link_base="https://id.example.com/r/") as m:
        await m.do("merchant", TraceRegister(GTIN, "Green coffee"))
        await m.do("merchant", TraceCommission(LOT.key, 5, "KGM", WHEN))
        item = (await raw(m, "/api/v1/items" + LOT.path()))[1]
        assert item["digital_link"] == "https://id.example.com/r" + LOT.path()


async def test_an_accounts_standing_on_an_item(tmp_path: Path) -> None:
    async with market_node(tmp_path) as m:
        await _journey(m)
        path = "/api/v1/items" + LOT.path() + "/roles/"
        carrier = (await raw(m, path + addr(m["buyer2"])))[1]
        assert (carrier["custodian"], carrier["producer"]) == (False, False)
        assert carrier["roles"] == [{"role": "carrier", "scope": "01/" + GTIN}]
        holder = (await raw(m, path + addr(m["arbiter"])))[1]
        assert holder["custodian"] is True and holder["roles"] == []
        assert (await raw(m, path + "nobody"))[1]["reason"] == "bad_address"


async def test_downstream_counts_what_a_recall_would_mark_up_to_one_past_the_bound(tmp_path: Path) -> None:
    from market.provenance.bodies import TraceTransform
    from market.provenance.limits import MAX_DOWNSTREAM, MAX_LINES, MAX_RECALL_REACH
    from market.provenance.records import QuantityLine

    async with market_node(tmp_path) as m:
        await m.do("merchant", TraceRegister(GTIN, "Green coffee"))
        await m.do("merchant", TraceCommission(LOT.key, 1_000, "KGM", WHEN))

        async def split(source: str, prefix: str, count: int, uom: str) -> list[str]:
            made = []
            for start in range(0, count, MAX_LINES):
                outs = tuple(
                    QuantityLine(lot_of(GTIN, f"{prefix}{i}").key, 1, uom) for i in range(start, start + MAX_LINES)
                )
                await m.do("merchant", TraceTransform((QuantityLine(source, len(outs), uom),), outs, 0, WHEN))
                made.extend(line.item for line in outs)
            return made

        first = await split(LOT.key, "A", MAX_DOWNSTREAM, "KGM")
        reach = await m.ok(f"/api/v1/items{LOT.path()}/downstream")
        assert reach == {"item": LOT.key, "reach": 1 + MAX_DOWNSTREAM, "limit": MAX_RECALL_REACH, "too_wide": False}
        for i, lot in enumerate(first[: (MAX_RECALL_REACH - MAX_DOWNSTREAM) // MAX_LINES]):
            await split(lot, f"B{i}-", MAX_LINES, "GRM")
        reach = await m.ok(f"/api/v1/items{LOT.path()}/downstream")
        assert (reach["reach"], reach["too_wide"]) == (MAX_RECALL_REACH + 1, True)
        leaf = await m.ok(f"/api/v1/items{lot_of(GTIN, 'B0-0').path()}/downstream")
        assert (leaf["reach"], leaf["too_wide"]) == (1, False)
