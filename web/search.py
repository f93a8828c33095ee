"""The one search box: a height, a block or transaction hash, an address, an order, listing, offer or
fund id, an item, or an asset symbol."""

from __future__ import annotations

from typing import Final

from chain.accounts import BALANCE_PREFIX
from chain.address import AddressError, encode_address, parse_account
from chain.encoding import DecodeError
from chain.state import Overlay
from market.assets.offers import get_offer
from market.assets.records import read_symbol
from market.assets.rules import get_asset
from market.finance import get_fin_offer
from market.funds import get_fund
from market.provenance.identifiers import IdentifierError, ItemKind, parse_digital_link, parse_key
from market.provenance.queries import get_item
from market.queries import get_listing, get_order
from node.api_common import NodeServices

MAX_QUERY_CHARS: Final = 200
HEX_ID_CHARS: Final = 64


def resolve(s: NodeServices, text: str) -> str | None:
    """The page URL that ``text`` names on this node, or None if it names nothing here.

    Digits are a height (of a committed block); 64 hex digits are tried as a block hash, an
    order, a listing, an offer, a fund, an open financing offer and a transaction, in that
    order (an order's or a listing's id is the hash of the transaction that created it: the
    page of the thing is the more useful answer);
    a Digital Link URI or an item key is the item's page; an issued asset's symbol (any case) is
    the asset's page; ``agora1...`` is an address. A
    64-hex text that is none of those is taken as an account key only if that account has state.
    """
    q = text.strip()
    if not q or len(q) > MAX_QUERY_CHARS:
        return None
    if q.isascii() and q.isdigit():
        height = int(q) if len(q) <= 20 else -1
        return f"/block/{height}" if 1 <= height <= s.store.height else None
    if len(q) == HEX_ID_CHARS:
        try:
            raw = bytes.fromhex(q)
        except ValueError:
            raw = b""
        if raw:
            return _hex_target(s, raw)
    item = _item_target(s, q)
    if item is not None:
        return item
    symbol = _asset_target(s, q)
    if symbol is not None:
        return symbol
    try:
        account = parse_account(q)
    except AddressError:
        return None
    return f"/address/{encode_address(account)}"


def _item_target(s: NodeServices, q: str) -> str | None:
    """The Digital Link path of an item named by its URI, its path or its key (``01/<gtin>/10/<lot>``)."""
    if "/" not in q:
        return None
    for parse in (parse_digital_link, parse_key):
        try:
            ref = parse(q)
        except IdentifierError:
            continue
        if ref.kind is not ItemKind.CLASS and get_item(s.store.state, ref.key) is not None:
            return ref.path()
    return None


def _asset_target(s: NodeServices, q: str) -> str | None:
    """The page of the issued asset whose symbol is ``q`` (any case), if there is one."""
    try:
        symbol = read_symbol(q.upper())
    except DecodeError:
        return None
    return f"/asset/{symbol}" if get_asset(Overlay(s.store.state), symbol) is not None else None


def _hex_target(s: NodeServices, raw: bytes) -> str | None:
    hex_id = raw.hex()
    if s.store.height_of(raw) is not None:
        return f"/block/{hex_id}"
    state = s.store.state
    if get_order(state, raw) is not None:
        return f"/order/{hex_id}"
    if get_listing(state, raw) is not None:
        return f"/listing/{hex_id}"
    if get_offer(Overlay(state), raw) is not None:
        return f"/offer/{hex_id}"
    if get_fund(Overlay(state), raw) is not None:
        return f"/fund/{hex_id}"
    if get_fin_offer(state, raw) is not None:
        return f"/finance/offer/{hex_id}"
    if s.store.has_tx(raw) or s.mempool.get(raw) is not None:
        return f"/tx/{hex_id}"
    if s.store.state_items(BALANCE_PREFIX + raw + b"/", limit=1):
        return f"/address/{encode_address(raw)}"
    return None
