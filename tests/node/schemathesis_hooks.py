"""Schemathesis hooks for the API fuzz test: how to make values of the formats the document names.

JSON Schema cannot say that an ``agora1`` address has a valid bech32m checksum, that a GTIN
ends in its GS1 check digit, or that a hex string is a signed transaction; the document says
so with a ``format`` (node/api_models.py, node/api_models_provenance.py). These strategies make
valid values of each, so schemathesis's schema-valid requests are valid. Loaded by the
schemathesis process through ``SCHEMATHESIS_HOOKS``; ``AGORA_FUZZ_SEEDED`` (JSON) carries the
running node's real addresses, signed transactions and path values: half of the generated path
parameters are swapped for real ones (a listing id on a listing route, a lot on an item route,
...), so the routes answer with data and not only 404. Only a schema-valid parameter is ever
swapped, so a case meant to be refused stays so.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, Final

import schemathesis
from hypothesis import strategies as st

from chain.address import encode_address
from market.provenance.identifiers import with_check_digit

_SEEDED = json.loads(os.environ.get("AGORA_FUZZ_SEEDED", '{"addresses": [], "raw_txs": [], "paths": {}}'))
_KEYS = st.binary(min_size=32, max_size=32)


def _gs1(length: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=length - 1, max_size=length - 1).map(with_check_digit)


schemathesis.openapi.format(
    "agora-address",
    st.one_of(
        st.sampled_from(_SEEDED["addresses"] or [encode_address(bytes(32))]),
        _KEYS.map(encode_address),
        _KEYS.map(bytes.hex),
    ),
)
schemathesis.openapi.format("agora-signed-tx", st.sampled_from(_SEEDED["raw_txs"] or ["00"]))
schemathesis.openapi.format("gs1-gtin", st.one_of(_gs1(8), _gs1(12), _gs1(13), _gs1(14)))
schemathesis.openapi.format("gs1-sscc", _gs1(18))


_HEX: Final = re.compile(r"[0-9a-fA-F]{64}")
_VALID: Final = {
    "id": _HEX,
    "hash": _HEX,
    "symbol": re.compile(r"[A-Z][A-Z0-9]{1,11}"),
    "gtin": re.compile(r"[0-9]{8}|[0-9]{12,14}"),
    "ai": re.compile(r"10|21"),
    "value": re.compile(r"[-!\"%&'()*+,./0-9:;<=>?A-Z_a-z]{1,20}"),
    "sscc": re.compile(r"[0-9]{18}"),
    "height": re.compile(r"[0-9]{1,20}"),
    "index": re.compile(r"[0-9]{1,10}"),
    "merchant": re.compile(r"(agora1[02-9ac-hj-np-z]{58}|AGORA1[02-9AC-HJ-NP-Z]{58}|[0-9a-fA-F]{64})"),
}
"""What the document allows for each path parameter name (only such a value is swapped)."""

_KINDS: Final = (
    # (path prefix, parameter, kind of seeded value), first match wins
    ("/api/v1/offers/", "id", "offer"),
    ("/api/v1/funds/", "id", "fund"),
    ("/api/v1/finance/offers/", "id", "finance_offer"),
    ("/api/v1/finance/orders/", "id", "order"),
    ("/api/v1/listings/", "id", "listing"),
    ("/listing/", "id", "listing"),  # web/'s buy-form quote
    ("/api/v1/orders/", "id", "order"),
    ("/api/v1/txs/", "hash", "tx"),
    ("/api/v1/proofs/tx/", "hash", "tx"),
    ("/api/v1/blocks/hash/", "hash", "block"),
    ("/api/v1/blocks/", "height", "height"),
    ("/api/v1/light/", "height", "height"),
    ("/api/v1/assets/", "symbol", "symbol"),
    ("/api/v1/points/", "merchant", "merchant"),
    ("", "sscc", "sscc"),
)


def _swaps(path: str, parameters: dict[str, Any]) -> list[dict[str, Any]]:
    """The real variants of ``parameters`` for the operation at ``path`` (empty: none)."""
    if path.endswith("/events"):
        # an item's event stream sends nothing until the item's next event: a real item would
        # hold every such request for the whole request timeout (tests/node/test_node_provenance_api.py
        # reads a live one)
        return []
    seeded = _SEEDED.get("paths", {})
    valid = {
        name: isinstance(value, (str, int)) and name in _VALID and _VALID[name].fullmatch(str(value)) is not None
        for name, value in parameters.items()
    }
    if {"gtin", "ai", "value"} <= parameters.keys():
        if not (valid["gtin"] and valid["ai"] and valid["value"]):
            return []
        return [{**parameters, "gtin": g, "ai": a, "value": v} for g, a, v in seeded.get("lot", [])]
    if "gtin" in parameters:
        return [{**parameters, "gtin": g} for g in seeded.get("gtin", [])] if valid["gtin"] else []
    out: list[dict[str, Any]] = []
    for prefix, name, kind in _KINDS:
        if path.startswith(prefix) and name in parameters:
            if valid[name]:
                out = [{**parameters, name: value} for value in seeded.get(kind, [])]
            break
    if "index" in parameters and valid["index"]:
        out = [{**variant, "index": 0} for variant in out or [parameters]]
    return out


@schemathesis.hook
def flatmap_path_parameters(context: Any, parameters: Any) -> st.SearchStrategy[Any]:
    """Half the time, the same parameters with real seeded values in place of generated ones."""
    if not isinstance(parameters, dict) or context.operation is None:
        return st.just(parameters)
    variants = _swaps(context.operation.path, parameters)
    return st.one_of(st.just(parameters), st.sampled_from(variants)) if variants else st.just(parameters)
