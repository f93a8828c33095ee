"""Provenance endpoints of the client API, and the GS1 Digital Link resolver.

Items are addressed by their Digital Link path, under ``/api/v1/items`` or at the root of
the API port (the resolver: ``/01/<gtin>/10/<lot>``, ``/01/<gtin>/21/<serial>``,
``/00/<sscc>``, answering the item and its journey as JSON). Paths are parsed from the raw
request path, so a lot holding ``/`` travels as ``%2F``. Every answer is read from
committed state; every bad identifier or parameter is a 400 problem, an unknown one a 404.
"""

from __future__ import annotations

import json
import time
from typing import Any, Final

from aiohttp import web

from chain.address import AddressError, encode_address, parse_account
from market.provenance.access import scopes_of
from market.provenance.epcis import document_json, event_json
from market.provenance.graph import reach_of
from market.provenance.identifiers import IdentifierError, ItemKind, ItemRef, check_base, parse_digital_link
from market.provenance.journey import journey
from market.provenance.limits import MAX_RECALL_REACH
from market.provenance.links import listing_provenance, order_provenance
from market.provenance.queries import delivered_item, events_of, get_class, get_event, get_head, get_item, has_grant
from market.provenance.vocab import Role
from market.queries import get_listing, get_order
from node.api_common import SERVICES, Problem
from node.events import CommittedBlock
from node.market_api import id_text, single_params
from node.provenance_receipt import build_receipt
from node.provenance_render import class_json, item_json, journey_json, provenance_json
from p2p.edge import mark_streaming

ITEMS: Final = "/api/v1/items"
MAX_PAGE: Final = 500
PAGE_PARAMS: Final = frozenset({"start", "limit"})
FALLBACK_BASE: Final = "http://localhost"
KEEPALIVE_SECONDS: Final = 15.0


def _base(request: web.Request) -> str:
    """The Digital Link base: the configured resolver, else this node's URL as the client reached it."""
    configured = request.app[SERVICES].digital_link_base
    if configured:
        return configured.rstrip("/")
    try:
        return check_base(str(request.url.origin()))
    except (IdentifierError, ValueError):
        return FALLBACK_BASE


def _ref(request: web.Request, prefix: str, suffix: str = "") -> ItemRef:
    raw = request.rel_url.raw_path
    path = raw[len(prefix) : len(raw) - len(suffix)] if suffix else raw[len(prefix) :]
    try:
        return parse_digital_link(path)
    except IdentifierError as exc:
        raise Problem(400, "bad_identifier", str(exc)) from None


def _state(request: web.Request) -> Any:
    return request.app[SERVICES].store.state


def _item(request: web.Request, ref: ItemRef) -> Any:
    if ref.kind is ItemKind.CLASS:
        raise Problem(400, "bad_identifier", f"{ref.key} is a product class: name a lot, serial or SSCC")
    item = get_item(_state(request), ref.key)
    if item is None:
        raise Problem(404, "not_found", f"no item {ref.key}")
    return item


def _page(request: web.Request) -> tuple[int, int]:
    params = single_params(request.query, PAGE_PARAMS)
    out = []
    for name, default, high in (("start", 0, 2**32), ("limit", 100, MAX_PAGE)):
        text = params.get(name, str(default))
        if not text.isdigit() or not (0 if name == "start" else 1) <= int(text) <= high:
            raise Problem(400, "bad_parameter", f"{name} must be an integer in [{0 if name == 'start' else 1}, {high}]")
        out.append(int(text))
    return out[0], out[1]


def _no_params(request: web.Request) -> None:
    single_params(request.query, frozenset())


async def get_class_one(request: web.Request) -> web.Response:
    """``GET /api/v1/items/01/{gtin}``: a product class."""
    _no_params(request)
    ref = _ref(request, ITEMS)
    product_class = get_class(_state(request), ref.gtin)
    if product_class is None:
        raise Problem(404, "not_found", f"GTIN {ref.gtin} is not registered")
    return web.json_response(class_json(product_class, _base(request)))


async def get_item_one(request: web.Request) -> web.Response:
    """``GET /api/v1/items/<digital link path>``: a lot, serialised item or logistic unit."""
    _no_params(request)
    item = _item(request, _ref(request, ITEMS))
    return web.json_response(item_json(_state(request), item, _base(request)))


async def get_item_history(request: web.Request) -> web.Response:
    """``GET .../history?start=&limit=``: a page of the item's own events, oldest first (EPCIS JSON)."""
    start, limit = _page(request)
    item = _item(request, _ref(request, ITEMS, "/history"))
    state = _state(request)
    events = events_of(state, item.key, start, limit)
    count = get_head(state, item.key).count
    following = start + len(events)
    return web.json_response(
        {
            "item": item.key,
            "count": count,
            "start": start,
            "events": [event_json(e) for e in events],
            "next": following if following < count else None,
        }
    )


async def get_item_journey(request: web.Request) -> web.Response:
    """``GET .../journey``: the item, everything upstream of it as a tree, and the merged timeline."""
    _no_params(request)
    item = _item(request, _ref(request, ITEMS, "/journey"))
    state = _state(request)
    found = journey(state, item.key)
    if found is None:
        raise Problem(404, "not_found", f"no item {item.key}")
    return web.json_response(journey_json(state, found, _base(request)))


async def get_item_epcis(request: web.Request) -> web.Response:
    """``GET .../epcis``: the journey's events as an EPCIS 2.0 JSON-LD document."""
    _no_params(request)
    item = _item(request, _ref(request, ITEMS, "/epcis"))
    s = request.app[SERVICES]
    found = journey(s.store.state, item.key)
    if found is None:
        raise Problem(404, "not_found", f"no item {item.key}")
    header = s.store.header(s.store.height)
    created = header.time_ms if header is not None else s.genesis.genesis_time_ms
    return web.json_response(document_json(list(found.events), created))


async def get_item_receipt(request: web.Request) -> web.Response:
    """``GET .../receipt``: the item's trace receipt (market/provenance/receipt.py), a binary file
    that ``agora trace verify`` and the item page check offline against the genesis."""
    _no_params(request)
    item = _item(request, _ref(request, ITEMS, "/receipt"))
    s = request.app[SERVICES]
    data = build_receipt(s.store, s.genesis, item.key)
    name = "".join(c if c.isascii() and (c.isalnum() or c in "-.") else "_" for c in item.key)
    return web.Response(
        body=data,
        content_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="receipt-{name}.agora"'},
    )


async def get_item_downstream(request: web.Request) -> web.Response:
    """``GET .../downstream``: how many items a recall of this one would mark (it and everything
    downstream not yet recalled), counted up to one past the bound, so the CLI can refuse a
    recall the chain would refuse ('recall_too_wide') before signing it."""
    _no_params(request)
    item = _item(request, _ref(request, ITEMS, "/downstream"))
    reached = reach_of(_state(request), item)
    return web.json_response(
        {
            "item": item.key,
            "reach": min(len(reached), MAX_RECALL_REACH + 1),
            "limit": MAX_RECALL_REACH,
            "too_wide": len(reached) > MAX_RECALL_REACH,
        }
    )


async def get_item_roles(request: web.Request) -> web.Response:
    """``GET .../roles/{address}``: whether the account holds the item, produced it, and which roles it holds on
    the item or its class (what decides who may record its next event)."""
    _no_params(request)
    text = request.match_info["address"]
    try:
        account = parse_account(text)
    except AddressError as exc:
        raise Problem(400, "bad_address", f"{text[:100]!r} is not an address: {exc}") from None
    suffix = "/roles/" + request.rel_url.raw_path.rsplit("/roles/", 1)[1]
    item = _item(request, _ref(request, ITEMS, suffix))
    state = _state(request)
    held = [
        {"role": role.value, "scope": scope}
        for role in Role
        for scope in scopes_of(item.key)
        if has_grant(state, account, role, scope)
    ]
    return web.json_response(
        {
            "item": item.key,
            "account": encode_address(account),
            "custodian": account == item.custodian,
            "producer": account == item.producer,
            "recipient": account == item.in_transit_to,
            "roles": held,
        }
    )


def item_stream_events(item: CommittedBlock, key: str, state: Any) -> list[dict[str, Any]]:
    """The EPCIS JSON of every event of ``key`` recorded in the committed block ``item``."""
    out = []
    for receipt in item.result.receipts:
        for event in receipt.events:
            if event.type != "provenance" or event.get("item") != key:
                continue
            event_id = event.get("event_id")
            found = get_event(state, event_id) if isinstance(event_id, bytes) else None
            if found is not None:
                out.append({**event_json(found), "agora:count": event.get("count")})
    return out


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def get_item_events(request: web.Request) -> web.StreamResponse:
    """``GET .../events``: server-sent events, one ``provenance`` event (EPCIS JSON) per new event of the item."""
    _no_params(request)
    item = _item(request, _ref(request, ITEMS, "/events"))
    s = request.app[SERVICES]
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    async with s.events.subscribe() as queue:
        await response.prepare(request)
        mark_streaming(request)  # not a request in progress for the connection cap
        try:
            await response.write(b": agora item stream " + item.key.encode() + b"\n\n")
            last_write = time.monotonic()
            while not _client_gone(request):
                committed = await queue.get()
                if committed is None:
                    break
                events = item_stream_events(committed, item.key, s.store.state)
                height = committed.block.height
                chunks = [
                    f"event: provenance\nid: {height}-{n}\ndata: {json.dumps(e, separators=(',', ':'))}\n\n"
                    for n, e in enumerate(events)
                ]
                if chunks:
                    await response.write("".join(chunks).encode())
                    last_write = time.monotonic()
                elif time.monotonic() - last_write >= KEEPALIVE_SECONDS:
                    await response.write(b": keepalive\n\n")
                    last_write = time.monotonic()
        except ConnectionResetError:
            pass
    return response


async def resolve(request: web.Request) -> web.Response:
    """The GS1 Digital Link resolver: ``/01/...`` or ``/00/...`` answers the item and its journey (JSON)."""
    ref = _ref(request, "")
    state = _state(request)
    base = _base(request)
    if ref.kind is ItemKind.CLASS:
        product_class = get_class(state, ref.gtin)
        if product_class is None:
            raise Problem(404, "not_found", f"GTIN {ref.gtin} is not registered")
        return web.json_response({"class": class_json(product_class, base)})
    item = _item(request, ref)
    found = journey(state, item.key)
    if found is None:
        raise Problem(404, "not_found", f"no item {item.key}")
    return web.json_response({"item": item_json(state, item, base), "journey": journey_json(state, found, base)})


async def get_order_provenance(request: web.Request) -> web.Response:
    """``GET /api/v1/orders/{id}/provenance``: the lot or serial the order was shipped with, and any recall."""
    _no_params(request)
    order_id = id_text(request.match_info["id"], "order id")
    state = _state(request)
    if get_order(state, order_id) is None:
        raise Problem(404, "not_found", f"no order {order_id.hex()}")
    found = order_provenance(state, order_id)
    shipped = delivered_item(state, order_id) is not None
    return web.json_response(
        {"order_id": order_id.hex(), "shipped_with": shipped, "item": provenance_json(found, _base(request))}
    )


async def get_listing_provenance(request: web.Request) -> web.Response:
    """``GET /api/v1/listings/{id}/provenance``: the class or lot the listing sells, and any recall."""
    _no_params(request)
    listing_id = id_text(request.match_info["id"], "listing id")
    state = _state(request)
    if get_listing(state, listing_id) is None:
        raise Problem(404, "not_found", f"no listing {listing_id.hex()}")
    found = listing_provenance(state, listing_id)
    return web.json_response({"listing_id": listing_id.hex(), "item": provenance_json(found, _base(request))})


_LOT: Final = "/01/{gtin}/{ai}/{value}"
_SSCC: Final = "/00/{sscc}"

PROVENANCE_ROUTES: Final = (
    ("GET", ITEMS + "/01/{gtin}", get_class_one),
    *(("GET", ITEMS + shape, get_item_one) for shape in (_LOT, _SSCC)),
    *(("GET", ITEMS + shape + "/history", get_item_history) for shape in (_LOT, _SSCC)),
    *(("GET", ITEMS + shape + "/journey", get_item_journey) for shape in (_LOT, _SSCC)),
    *(("GET", ITEMS + shape + "/epcis", get_item_epcis) for shape in (_LOT, _SSCC)),
    *(("GET", ITEMS + shape + "/events", get_item_events) for shape in (_LOT, _SSCC)),
    *(("GET", ITEMS + shape + "/receipt", get_item_receipt) for shape in (_LOT, _SSCC)),
    *(("GET", ITEMS + shape + "/downstream", get_item_downstream) for shape in (_LOT, _SSCC)),
    *(("GET", ITEMS + shape + "/roles/{address}", get_item_roles) for shape in (_LOT, _SSCC)),
    ("GET", "/api/v1/orders/{id}/provenance", get_order_provenance),
    ("GET", "/api/v1/listings/{id}/provenance", get_listing_provenance),
    ("GET", "/01/{gtin}", resolve),
    ("GET", _LOT, resolve),
    ("GET", _SSCC, resolve),
)
"""Every provenance route: (method, path, handler)."""
