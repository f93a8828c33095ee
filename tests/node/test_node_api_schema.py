"""The typed-model registry of the client API (node/api_schema.py): one model validates and documents."""

from __future__ import annotations

import json
import re

import pytest
from multidict import MultiDict

from chain.address import encode_address
from node.api import OPERATIONS, ROUTES
from node.api_common import Problem
from node.api_models import EventsQuery, HashPath, HeightPath, ListingsQuery, SubmitBatch, SubmitTx, ViewQuery
from node.api_models_assets import AssetsQuery, FundQuery, SymbolPath
from node.api_models_loyalty import FinanceIdPath, HoldingQuery
from node.api_models_provenance import LotPath
from node.api_models_stats import HistoryQuery, StatsQuery
from node.api_schema import (
    Operation,
    document_paths,
    parse_body,
    parse_path,
    parse_query,
    path_params,
    query_params,
)
from node.openapi import openapi_document

ADDRESS = encode_address(bytes(range(32)))


def _refused(call: object) -> tuple[int, str]:
    with pytest.raises(Problem) as info:
        call()  # type: ignore[operator]
    return info.value.status, info.value.reason


@pytest.mark.parametrize(
    ("pairs", "reason"),
    [
        ([("color", "red")], "unknown_parameter"),
        ([("q", "shoe"), ("q", "hat")], "repeated_parameter"),
        ([("q", "word " * 200)], "bad_parameter"),
        ([("q", "  ,; ")], "bad_query"),
        ([("q", "a b c d e f g h i")], "bad_query"),
        ([("merchant", ADDRESS[:-1] + "b")], "bad_address"),  # b: outside bech32 (checksums: the handler)
        ([("min_price", "+5")], "bad_price"),
        ([("min_price", " 5")], "bad_price"),
        ([("min_price", "5_0")], "bad_price"),
        ([("max_price", str(2**64))], "bad_price"),
        ([("in_stock", "yes")], "bad_bool"),
        ([("status", "sold")], "bad_status"),
        ([("limit", "0")], "bad_limit"),
        ([("limit", "101")], "bad_limit"),
        ([("cursor", "ab cd")], "bad_cursor"),
    ],
)
def test_a_query_that_breaks_its_model_is_a_400_with_the_field_reason(
    pairs: list[tuple[str, str]], reason: str
) -> None:
    assert _refused(lambda: parse_query(ListingsQuery, MultiDict(pairs))) == (400, reason)


def test_a_query_that_fits_its_model_is_read_with_its_defaults() -> None:
    q = parse_query(ListingsQuery, MultiDict([("merchant", ADDRESS), ("min_price", "7"), ("in_stock", "TRUE")]))
    assert (q.merchant, q.min_price, q.in_stock, q.limit, q.status, q.cursor) == (ADDRESS, 7, True, 20, "any", None)
    assert parse_query(ViewQuery, MultiDict([("prove", "1")])).prove is True
    assert parse_query(EventsQuery, MultiDict([("types", " order , block ")])).types == " order , block "
    assert _refused(lambda: parse_query(EventsQuery, MultiDict([("types", "order,weather")]))) == (400, "bad_types")


def test_bodies_are_checked_by_type_then_by_the_field_reason() -> None:
    assert parse_body(SubmitTx, {"tx": "00ff"}, "x").tx == "00ff"
    assert _refused(lambda: parse_body(SubmitTx, {"tx": "zz"}, "x")) == (400, "bad_hex")
    assert _refused(lambda: parse_body(SubmitTx, {"tx": 5}, "x")) == (400, "malformed_body")
    assert _refused(lambda: parse_body(SubmitTx, {"tx": "00", "more": 1}, "x")) == (400, "malformed_body")
    assert _refused(lambda: parse_body(SubmitBatch, {"txs": ["00", 1]}, "x")) == (400, "malformed_body")
    assert parse_body(SubmitBatch, {"txs": ["zz"]}, "x").txs == ["zz"]  # per-item checks are the handler's


def test_the_document_shows_what_the_models_check() -> None:
    params = {p["name"]: p for p in query_params(ListingsQuery)}
    assert params["min_price"]["schema"] == {"type": "integer", "minimum": 0, "maximum": 2**64 - 1}
    assert params["limit"]["schema"]["maximum"] == 100 and params["limit"]["required"] is False
    assert params["merchant"]["schema"]["format"] == "agora-address"
    doc = openapi_document(OPERATIONS)
    assert doc["components"]["schemas"]["SubmitTx"]["additionalProperties"] is False
    events = doc["paths"]["/api/v1/events"]["get"]["responses"]["200"]["content"]["text/event-stream"]["schema"]
    assert events["required"] == ["event", "id", "data"]


@pytest.mark.parametrize(
    ("model", "params", "reason"),
    [
        (HeightPath, {"height": "-1"}, "bad_height"),
        (HeightPath, {"height": "\u00b2"}, "bad_height"),
        (HeightPath, {"height": "1" * 21}, "bad_height"),
        (HashPath, {"hash": "xyz"}, "bad_hex"),
        (HashPath, {"hash": "ab" * 33}, "bad_hex"),
    ],
)
def test_a_path_parameter_that_breaks_its_model_is_a_400_with_the_field_reason(
    model: type[HeightPath] | type[HashPath], params: dict[str, str], reason: str
) -> None:
    assert _refused(lambda: parse_path(model, params)) == (400, reason)
    assert parse_path(HeightPath, {"height": "7"}).height == 7


def test_path_models_document_required_path_parameters() -> None:
    (param,) = path_params(HashPath)
    assert param["in"] == "path" and param["required"] and param["schema"]["pattern"] == "^[0-9a-fA-F]{64}$"


def test_every_registered_operation_is_routed_and_none_twice() -> None:
    routed = {(m, p) for m, p, _ in ROUTES}
    assert all((op.method, op.route or op.path) in routed for op in OPERATIONS)
    again = Operation("GET", "/api/v1/listings", OPERATIONS[0].handler, {"responses": {}})
    with pytest.raises(ValueError, match="registered twice"):
        document_paths([*OPERATIONS, again])


def test_every_route_has_a_registry_entry() -> None:
    """Each route of the client API is an operation of the registry (nothing routed beside it),
    each path parameter of its template is documented, and no path is written by hand."""
    registered = {(op.method, op.route or op.path, op.handler) for op in OPERATIONS}
    missing = [(method, path) for method, path, handler in ROUTES if (method, path, handler) not in registered]
    assert not missing, f"routes without a registry entry: {missing}"
    assert len(ROUTES) == len(OPERATIONS)
    for op in OPERATIONS:
        names = set(re.findall(r"{(\w+)}", op.path))
        documented = {p["name"] for p in op.doc.get("parameters", ()) if p["in"] == "path"}
        assert names == documented, op.path
    assert openapi_document(())["paths"] == {}, "a path is written by hand in node/openapi.py"


def test_every_schema_reference_of_the_document_resolves() -> None:
    doc = openapi_document(OPERATIONS)
    text = json.dumps(doc)
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', text))
    assert refs and refs <= set(doc["components"]["schemas"]), refs - set(doc["components"]["schemas"])


def test_converted_areas_refuse_with_their_reasons() -> None:
    """The models of the areas moved into the registry keep each route's reason codes."""
    assert _refused(lambda: parse_query(StatsQuery, MultiDict(days="0"))) == (400, "bad_days")
    assert _refused(lambda: parse_query(StatsQuery, MultiDict(days="+3"))) == (400, "bad_days")
    assert parse_query(StatsQuery, MultiDict()).days == 30
    assert _refused(lambda: parse_query(AssetsQuery, MultiDict(limit="501"))) == (400, "bad_query")
    assert _refused(lambda: parse_query(AssetsQuery, MultiDict(after="agr"))) == (400, "bad_query")
    assert _refused(lambda: parse_query(HistoryQuery, MultiDict(cursor="7"))) == (400, "bad_cursor")
    assert parse_query(HistoryQuery, MultiDict(cursor="7-0", limit="100")).limit == 100
    assert parse_query(FundQuery, MultiDict({"from": "3"})).from_ == 3
    assert _refused(lambda: parse_query(FundQuery, MultiDict({"from": "x"}))) == (400, "bad_query")
    with pytest.raises(Problem, match="'from'") as info:
        parse_query(FundQuery, MultiDict(from_="3"))
    assert info.value.reason == "unknown_parameter"
    holding = parse_query(HoldingQuery, MultiDict({"from": "2", "height": "5", "prove": "true"}))
    assert (holding.from_, holding.height, holding.prove) == (2, 5, True)
    assert _refused(lambda: parse_query(HoldingQuery, MultiDict(height="x"))) == (400, "bad_height")
    assert _refused(lambda: parse_path(LotPath, {"gtin": "1234", "ai": "10", "value": "A"})) == (
        400,
        "bad_identifier",
    )
    assert _refused(lambda: parse_path(LotPath, {"gtin": "12345678", "ai": "11", "value": "A"})) == (
        400,
        "bad_identifier",
    )
    assert _refused(lambda: parse_path(SymbolPath, {"symbol": "x"})) == (400, "bad_symbol")
    assert _refused(lambda: parse_path(FinanceIdPath, {"id": "ab"})) == (400, "bad_id")
    names = [p["name"] for p in query_params(FundQuery)]
    assert names == ["from", "limit"]
