"""The item page: a GS1 Digital Link URI opened in a browser shows the item's journey.

The node's resolver answers ``/01/<gtin>/10/<lot>``, ``/01/<gtin>/21/<serial>`` and
``/00/<sscc>`` on the API port with JSON; a browser (``Accept: text/html``) asking for the
same URI gets this page instead: the item as it stands, its upstream tree and the merged
timeline of its events with their documents' hashes, read from committed state, and a button
that fetches the item's trace receipt and verifies it in the browser (web/frontend/src/receipt.js)
against the genesis hash shown, which the shopper may replace with one they trust.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

from aiohttp import web

from market.provenance.identifiers import IdentifierError, ItemKind, check_base, parse_digital_link
from market.provenance.journey import journey
from market.provenance.queries import get_item
from node.api_common import SERVICES
from node.provenance_render import item_json, journey_json
from web.pages import RENDERER, Handler, PageError, not_found

DIGITAL_LINK_PREFIXES: Final = ("/01/", "/00/")
FALLBACK_BASE: Final = "http://localhost"
MAX_TREE_DEPTH: Final = 8


def _flatten(node: dict[str, Any], depth: int = 0) -> list[tuple[int, dict[str, Any]]]:
    """The upstream tree as (depth, item) rows, depth-first, cut at MAX_TREE_DEPTH."""
    rows = [(depth, node.get("item") or {})]
    if depth < MAX_TREE_DEPTH:
        for child in node.get("upstream", []):
            rows.extend(_flatten(child, depth + 1))
    return rows


def item_view(request: web.Request) -> dict[str, Any]:
    """The item page's data for the request's Digital Link path; PageError if it names no item."""
    state = request.app[SERVICES].store.state
    try:
        ref = parse_digital_link(request.rel_url.raw_path)
    except IdentifierError as exc:
        raise PageError(400, "Not an item identifier", str(exc)) from None
    if ref.kind is ItemKind.CLASS:
        raise not_found(f"{ref.key} is a product class: a lot, serial or SSCC has a journey")
    item = get_item(state, ref.key)
    found = journey(state, ref.key) if item is not None else None
    if item is None or found is None:
        raise not_found(f"no item {ref.key} on this chain")
    try:
        base = check_base(str(request.url.origin()))
    except (IdentifierError, ValueError):
        base = FALLBACK_BASE
    rendered = journey_json(state, found, base)
    return {
        "path": ref.path(),
        "genesis_hash": request.app[SERVICES].genesis.hash.hex(),
        "item": item_json(state, item, base),
        "tree": _flatten(rendered["tree"]),
        "timeline": rendered["timeline"],
        "truncated": rendered["truncated"],
    }


@web.middleware
async def digital_link_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer a browser's GET of a Digital Link URI with the item page; everyone else gets the JSON resolver."""
    wants_html = "text/html" in request.headers.get("Accept", "")
    if request.method != "GET" or not wants_html or not request.path.startswith(DIGITAL_LINK_PREFIXES):
        return await handler(request)
    renderer = request.app[RENDERER]
    try:
        view = await asyncio.to_thread(item_view, request)
    except PageError as exc:
        return renderer.error(exc)
    return renderer.page("item.html", page_kind="item", **view)
