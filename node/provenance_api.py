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
from node.api_models import NoQuery
from node.api_models_provenance import (
    EPCISDocument,
    GtinPath,
    HistoryPageQuery,
    Item,
    ItemDownstream,
    ItemHistory,
    ItemRoles,
    Journey,
    LinkIdPath,
    ListingProvenance,
    LotPath,
    LotRolePath,
    OrderProvenance,
    ProductClass,
    Resolved,
    SsccPath,
    SsccRolePath,
)
from node.api_schema import (
    Handler,
    Operation,
    PathModel,
    json_answer,
    model_components,
    parse_path,
    parse_query,
    path_params,
    problem,
    query_params,
)
from node.events import CommittedBlock
from node.provenance_receipt import build_receipt
from node.provenance_render import class_json, item_json, journey_json, provenance_json
from p2p.edge import mark_streaming

ITEMS: Final = "/api/v1/items"
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
    """The item the raw request path names (checked by its path model first: the GTIN, AI, value
    or SSCC as documented), else Problem 400 'bad_identifier'."""
    info = request.match_info
    model = SsccPath if "sscc" in info else LotPath if "ai" in info else GtinPath
    parse_path(model, {k: v for k, v in info.items() if k in model.model_fields})
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


def _no_params(request: web.Request) -> None:
    parse_query(NoQuery, request.query)


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
    query = parse_query(HistoryPageQuery, request.query)
    start, limit = query.start, query.limit
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
    role_path: type[LotRolePath] | type[SsccRolePath] = SsccRolePath if "sscc" in request.match_info else LotRolePath
    text = str(parse_path(role_path, request.match_info).address)
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
    order_id = bytes.fromhex(parse_path(LinkIdPath, request.match_info).id)
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
    listing_id = bytes.fromhex(parse_path(LinkIdPath, request.match_info).id)
    state = _state(request)
    if get_listing(state, listing_id) is None:
        raise Problem(404, "not_found", f"no listing {listing_id.hex()}")
    found = listing_provenance(state, listing_id)
    return web.json_response({"listing_id": listing_id.hex(), "item": provenance_json(found, _base(request))})


_LOT: Final = "/01/{gtin}/{ai}/{value}"
_SSCC: Final = "/00/{sscc}"
_SHAPES: Final = ((_LOT, LotPath, LotRolePath), (_SSCC, SsccPath, SsccRolePath))
_NOT_FOUND: Final = problem("not registered or not commissioned (not_found)")
_BAD: Final = problem("bad identifier (bad_identifier), address (bad_address) or parameter (unknown_parameter)")


def _get(
    path: str,
    handler: Handler,
    summary: str,
    params: type[PathModel],
    ok: dict[str, Any],
    models: tuple[type[Any], ...] = (),
    query: type[Any] = NoQuery,
) -> Operation:
    """One provenance GET operation: its path (and query) parameters, its answer and its problems."""
    return Operation(
        "GET",
        path,
        handler,
        {
            "summary": summary,
            "parameters": [*path_params(params), *query_params(query)],
            "responses": {"200": ok, "400": _BAD, "404": _NOT_FOUND},
        },
        model_components(*models),
    )


def _item_operations(shape: str, params: type[PathModel], role_params: type[PathModel]) -> list[Operation]:
    base = ITEMS + shape
    return [
        _get(
            base,
            get_item_one,
            "A lot, serialised item or logistic unit: custody, quantity, links, recall, head",
            params,
            json_answer(Item, "the item"),
            (Item,),
        ),
        _get(
            base + "/history",
            get_item_history,
            "A page of the item's own events, oldest first, in EPCIS 2.0 JSON",
            params,
            json_answer(ItemHistory, "the events"),
            (ItemHistory,),
            HistoryPageQuery,
        ),
        _get(
            base + "/journey",
            get_item_journey,
            "The item and everything upstream (transformation inputs, contents) as a tree, and the merged timeline",
            params,
            json_answer(Journey, "tree and timeline"),
            (Journey,),
        ),
        _get(
            base + "/epcis",
            get_item_epcis,
            "The journey's events as an EPCIS 2.0 JSON-LD document (valid against GS1's schema)",
            params,
            json_answer(EPCISDocument, "the document (JSON-LD, served as application/json)"),
            (EPCISDocument,),
        ),
        _get(
            base + "/events",
            get_item_events,
            "Server-sent events: one `provenance` event (EPCIS JSON) per new event of the item, live",
            params,
            {"description": "text/event-stream", "content": {"text/event-stream": {"schema": {"type": "string"}}}},
        ),
        _get(
            base + "/receipt",
            get_item_receipt,
            "The item's trace receipt: every event of its journey with its transaction, receipt and Merkle proofs, "
            "the certified headers from the genesis and each item's head proof (binary; `agora trace verify` "
            "checks it offline)",
            params,
            {
                "description": "the receipt file (format in docs/ARCHITECTURE.md)",
                "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
            },
        ),
        _get(
            base + "/downstream",
            get_item_downstream,
            "How many items a recall of this one would mark (it and everything downstream not yet recalled, "
            f"counted to one past the limit of {MAX_RECALL_REACH:,}), and whether that is too many",
            params,
            json_answer(ItemDownstream, "the reach of a recall"),
            (ItemDownstream,),
        ),
        _get(
            base + "/roles/{address}",
            get_item_roles,
            "Whether an account holds, produced or is receiving the item, and its roles on the item or its class",
            role_params,
            json_answer(ItemRoles, "the account's standing"),
            (ItemRoles,),
        ),
    ]


PROVENANCE_OPERATIONS: Final = (
    _get(
        ITEMS + "/01/{gtin}",
        get_class_one,
        "A product class (GTIN): name and producer",
        GtinPath,
        json_answer(ProductClass, "the class"),
        (ProductClass,),
    ),
    *(op for shape, params, role_params in _SHAPES for op in _item_operations(shape, params, role_params)),
    _get(
        "/api/v1/orders/{id}/provenance",
        get_order_provenance,
        "What the order is traced to (the lot shipped) and any recall",
        LinkIdPath,
        json_answer(OrderProvenance, "the link, or item null when untraced"),
        (OrderProvenance,),
    ),
    _get(
        "/api/v1/listings/{id}/provenance",
        get_listing_provenance,
        "What the listing is traced to (the class or lot listed) and any recall",
        LinkIdPath,
        json_answer(ListingProvenance, "the link, or item null when untraced"),
        (ListingProvenance,),
    ),
    _get(
        "/01/{gtin}",
        resolve,
        "GS1 Digital Link resolver: a product class",
        GtinPath,
        json_answer(Resolved, "the class"),
        (Resolved,),
    ),
    *(
        _get(
            shape,
            resolve,
            "GS1 Digital Link resolver: the item and its journey",
            params,
            json_answer(Resolved, "item and journey"),
            (Resolved,),
        )
        for shape, params, _ in _SHAPES
    ),
)
"""Every provenance operation (routed and documented by node/api.py)."""
