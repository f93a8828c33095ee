"""The OpenAPI entries of the provenance endpoints (node/provenance_api.py), merged by node/openapi.py."""

from __future__ import annotations

from typing import Any, Final

from node.api_models import ADDRESS_SCHEMA

_PROBLEM: Final = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
_GTIN: Final = {
    "type": "string",
    "pattern": "^([0-9]{8}|[0-9]{12,14})$",
    "format": "gs1-gtin",
    "description": "GTIN-8/12/13/14 (its last digit is the GS1 check digit)",
}
_AI: Final = {"enum": ["10", "21"], "description": "10: a lot (batch); 21: a serial number"}
_VALUE: Final = {
    "type": "string",
    "pattern": "^[-!\"%&'()*+,./0-9:;<=>?A-Z_a-z]{1,20}$",
    "description": "the lot or serial, percent-encoded (1-20 characters of GS1 set 82)",
}
_SSCC: Final = {
    "type": "string",
    "pattern": "^[0-9]{18}$",
    "format": "gs1-sscc",
    "description": "SSCC of a case or pallet (its last digit is the GS1 check digit)",
}
_ID: Final = {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"}


def _path(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _answer(schema: str, description: str, media: str = "application/json") -> dict[str, Any]:
    return {"description": description, "content": {media: {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def _get(summary: str, params: list[dict[str, Any]], ok: dict[str, Any]) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "parameters": params,
            "responses": {
                "200": ok,
                "400": {"description": "bad identifier or parameter", "content": _PROBLEM},
                "404": {"description": "not registered or not commissioned", "content": _PROBLEM},
            },
        }
    }


_LOT_PARAMS: Final = [_path("gtin", _GTIN), _path("ai", _AI), _path("value", _VALUE)]
_SSCC_PARAMS: Final = [_path("sscc", _SSCC)]
_PAGE: Final = [
    _query("start", {"type": "integer", "minimum": 0, "maximum": 2**32, "default": 0}, "index of the first event"),
    _query("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}, "events per page"),
]
_SHAPES: Final = (("/01/{gtin}/{ai}/{value}", _LOT_PARAMS), ("/00/{sscc}", _SSCC_PARAMS))


def _item_paths() -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/api/v1/items/01/{gtin}": _get(
            "A product class (GTIN): name and producer", [_path("gtin", _GTIN)], _answer("ProductClass", "the class")
        ),
    }
    for shape, params in _SHAPES:
        base = "/api/v1/items" + shape
        paths[base] = _get(
            "A lot, serialised item or logistic unit: custody, quantity, links, recall, head",
            params,
            _answer("Item", "the item"),
        )
        paths[base + "/history"] = _get(
            "A page of the item's own events, oldest first, in EPCIS 2.0 JSON",
            [*params, *_PAGE],
            _answer("ItemHistory", "the events"),
        )
        paths[base + "/journey"] = _get(
            "The item and everything upstream (transformation inputs, contents) as a tree, and the merged timeline",
            params,
            _answer("Journey", "tree and timeline"),
        )
        paths[base + "/epcis"] = _get(
            "The journey's events as an EPCIS 2.0 JSON-LD document (valid against GS1's schema)",
            params,
            _answer("EPCISDocument", "the document (JSON-LD, served as application/json)"),
        )
        paths[base + "/events"] = _get(
            "Server-sent events: one `provenance` event (EPCIS JSON) per new event of the item, live",
            params,
            {"description": "text/event-stream", "content": {"text/event-stream": {"schema": {"type": "string"}}}},
        )
        paths[base + "/receipt"] = _get(
            "The item's trace receipt: every event of its journey with its transaction, receipt and Merkle proofs, "
            "the certified headers from the genesis and each item's head proof (binary; `agora trace verify` "
            "checks it offline)",
            params,
            {
                "description": "the receipt file (format in docs/ARCHITECTURE.md)",
                "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
            },
        )
        paths[base + "/downstream"] = _get(
            "How many items a recall of this one would mark (it and everything downstream not yet recalled, "
            "counted to one past the limit of 1,024), and whether that is too many",
            params,
            _answer("ItemDownstream", "the reach of a recall"),
        )
        paths[base + "/roles/{address}"] = _get(
            "Whether an account holds, produced or is receiving the item, and its roles on the item or its class",
            [*params, _path("address", ADDRESS_SCHEMA)],
            _answer("ItemRoles", "the account's standing"),
        )
        paths[shape] = _get(
            "GS1 Digital Link resolver: the item and its journey",
            params,
            _answer("Resolved", "item and journey"),
        )
    paths["/01/{gtin}"] = _get(
        "GS1 Digital Link resolver: a product class", [_path("gtin", _GTIN)], _answer("Resolved", "the class")
    )
    for what in ("orders", "listings"):
        paths[f"/api/v1/{what}/{{id}}/provenance"] = _get(
            f"What the {what[:-1]} is traced to (the lot shipped, or the class or lot listed) and any recall",
            [_path("id", _ID)],
            _answer("Provenance", "the link, or item null when untraced"),
        )
    return paths


PROVENANCE_PATHS: Final[dict[str, Any]] = _item_paths()

_OBJECT: Final = {"type": "object"}
PROVENANCE_SCHEMAS: Final[dict[str, Any]] = {
    "ProductClass": {
        "type": "object",
        "properties": {
            "key": {"type": "string"},
            "gtin": {"type": "string"},
            "name": {"type": "string"},
            "producer": {"type": "string"},
            "digital_link": {"type": "string"},
            "created_ms": {"type": "integer"},
        },
    },
    "Item": {
        "type": "object",
        "properties": {
            "key": {"type": "string", "description": "canonical Digital Link key, e.g. 01/<gtin14>/10/<lot>"},
            "kind": {"enum": ["lot", "serial", "sscc"]},
            "digital_link": {"type": "string"},
            "class": {"oneOf": [{"$ref": "#/components/schemas/ProductClass"}, {"type": "null"}]},
            "producer": {"type": "string"},
            "custodian": {"type": "string"},
            "in_transit_to": {"type": ["string", "null"]},
            "uom": {"type": "string"},
            "initial": {"type": "string", "description": "exact decimal in uom"},
            "remaining": {"type": "string"},
            "disposition": {"type": "string"},
            "recalled": {"type": "boolean"},
            "recalled_by": {"type": ["string", "null"]},
            "parent": {"type": ["string", "null"]},
            "children": {"type": "array", "items": {"type": "string"}},
            "inputs": {"type": "array", "items": {"type": "string"}},
            "downstream": {"type": "array", "items": {"type": "string"}},
            "head": {
                "type": "object",
                "description": "the latest event: count, hash chain over the event ids, and the state key "
                "to prove it with /api/v1/proofs/state",
            },
        },
    },
    "ItemHistory": {
        "type": "object",
        "properties": {
            "item": {"type": "string"},
            "count": {"type": "integer"},
            "start": {"type": "integer"},
            "events": {"type": "array", "items": _OBJECT},
            "next": {"type": ["integer", "null"]},
        },
    },
    "Journey": {
        "type": "object",
        "properties": {
            "tree": _OBJECT,
            "timeline": {"type": "array", "items": _OBJECT},
            "truncated": {"type": "boolean"},
        },
    },
    "EPCISDocument": {"type": "object", "description": "GS1 EPCIS 2.0 JSON-LD"},
    "Resolved": {"type": "object", "properties": {"item": _OBJECT, "journey": _OBJECT, "class": _OBJECT}},
    "Provenance": {"type": "object", "properties": {"item": {"type": ["object", "null"]}}},
    "ItemRoles": {
        "type": "object",
        "properties": {
            "item": {"type": "string"},
            "account": {"type": "string"},
            "custodian": {"type": "boolean"},
            "producer": {"type": "boolean"},
            "recipient": {"type": "boolean"},
            "roles": {"type": "array", "items": {"type": "object"}},
        },
    },
    "ItemDownstream": {
        "type": "object",
        "properties": {
            "item": {"type": "string"},
            "reach": {"type": "integer", "description": "items a recall would mark, counted to limit + 1"},
            "limit": {"type": "integer"},
            "too_wide": {"type": "boolean"},
        },
    },
}
