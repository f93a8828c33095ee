"""One source of truth for the client API's shapes: typed models that validate and document.

An area (core, market, assets, funds, provenance, ...) describes each operation next to its
handler as an :class:`Operation`: the route (method, path, handler) and its OpenAPI
operation object. The query parameters, the JSON body and the JSON answers of an operation
are given as pydantic v2 models (:func:`query_params`, :func:`json_body`,
:func:`json_answer`); handlers validate with the same models (:func:`parse_query`,
:func:`parse_body`), so the document and the checks cannot drift apart. ``node/api.py``
collects every area's operations into its routes (every route is one) and ``node/openapi.py``
builds ``/api/v1/openapi.json`` from the same list, so a route cannot be served undocumented;
tests/node/test_node_api_schema.py fails on a route without a registry entry.

Why pydantic v2 and not msgspec: both validate in compiled code (pydantic-core in Rust,
msgspec in C), and on our bodies both are fast. Measured on the shared 2-core machine (two
runs, other helpers at work, so noisy; msgspec 0.23, pydantic 2.14): a 1,000-transaction batch
body takes 67-82 µs with pydantic's ``model_validate_json``, 94-162 µs with msgspec's typed
decoder, and 276-296 µs as the handlers do it (``json.loads``, then ``model_validate``); one
``{"tx": ...}`` body takes 3.3-3.8 µs with pydantic, 5.4-7.8 µs with msgspec. Neither is a
measurable part of a request, whose cost is the signature checks. pydantic was chosen because
it emits JSON Schema 2020-12 (what OpenAPI 3.1 uses) with each field's pattern, bounds,
description and extension keys (``format``, ``x-reason``), which is what the document is
generated from; msgspec's schema output carries no per-field descriptions.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from aiohttp import web
from multidict import MultiMapping
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from node.api_common import Problem

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
M = TypeVar("M", bound=BaseModel)
REF_TEMPLATE: Final = "#/components/schemas/{model}"
PROBLEM_REF: Final = {"$ref": "#/components/schemas/Problem"}
MAX_PARAM_CHARS: Final = 512
"""The longest query parameter value any operation reads."""


class QueryModel(BaseModel):
    """Base of a query-string model: unknown parameters are refused, every value is a string
    on the wire (validated by the field's pattern), and fields may declare their refusal
    ``reason`` with ``json_schema_extra={"x-reason": ...}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PathModel(BaseModel):
    """Base of a path-parameter model: one field per ``{name}`` of the route's path template,
    each a string on the wire; a field's ``x-reason`` names its refusal."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class BodyModel(BaseModel):
    """Base of a JSON body model: exactly the declared members, nothing coerced."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


@dataclass(frozen=True, slots=True)
class Operation:
    """One documented route: its method, path template, handler and OpenAPI operation object."""

    method: str
    path: str
    handler: Handler
    doc: Mapping[str, Any]
    """The OpenAPI operation object (summary, parameters, requestBody, responses, links)."""
    schemas: Mapping[str, Any] = field(default_factory=dict)
    """Component schemas the operation refers to (merged into ``components.schemas``)."""
    route: str | None = None
    """The aiohttp path when it differs from the documented ``path`` (a placeholder with a regex)."""


def problem(description: str) -> dict[str, Any]:
    """A problem+json answer of the given description."""
    return {"description": description, "content": {"application/problem+json": {"schema": dict(PROBLEM_REF)}}}


def _schema_of(model: type[BaseModel] | TypeAdapter[Any], mode: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The JSON Schema of ``model`` and the definitions it refers to (as component schemas)."""
    adapter = model if isinstance(model, TypeAdapter) else TypeAdapter(model)
    schema = adapter.json_schema(ref_template=REF_TEMPLATE, mode=mode)  # type: ignore[arg-type]
    defs = schema.pop("$defs", {})
    return schema, defs


def model_components(*models: type[BaseModel]) -> dict[str, Any]:
    """Component schemas of ``models`` (each under its class name) and of what they refer to."""
    out: dict[str, Any] = {}
    for model in models:
        schema, defs = _schema_of(model, "serialization")
        out.update(defs)
        out[model.__name__] = schema
    return out


def query_params(model: type[BaseModel]) -> list[dict[str, Any]]:
    """The OpenAPI query parameters of a query model, one per field (none required unless the
    field is), each with the field's schema and description."""
    schema, defs = _schema_of(model, "validation")
    required = set(schema.get("required", ()))
    params = []
    for name, prop in schema.get("properties", {}).items():
        prop = _inline(prop, defs)
        description = prop.pop("description", "")
        prop.pop("title", None)
        prop.pop("x-reason", None)
        if "anyOf" in prop:  # Optional[X]: absent means None; on the wire the parameter is just X
            options = [o for o in prop.pop("anyOf") if o.get("type") != "null"]
            prop.pop("default", None)
            prop.update(options[0] if len(options) == 1 else {"anyOf": options})
        params.append(
            {"name": name, "in": "query", "required": name in required, "schema": prop, "description": description}
        )
    return params


def path_params(model: type[PathModel]) -> list[dict[str, Any]]:
    """The OpenAPI path parameters of a path model, one per field (all required)."""
    return [{**param, "in": "path", "required": True} for param in query_params(model)]


def _inline(schema: dict[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` with each ``$ref`` to one of ``defs`` (an enum, say) replaced by its definition."""
    ref = schema.get("$ref")
    if isinstance(ref, str):
        target = dict(defs[ref.rsplit("/", 1)[1]])
        target.pop("title", None)
        return {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    if "anyOf" in schema:
        return {**schema, "anyOf": [_inline(dict(o), defs) for o in schema["anyOf"]]}
    return dict(schema)


def json_body(model: type[BodyModel], description: str = "") -> dict[str, Any]:
    """The OpenAPI requestBody of a JSON body model (refers to its component schema)."""
    return {
        "required": True,
        "description": description,
        "content": {"application/json": {"schema": {"$ref": REF_TEMPLATE.format(model=model.__name__)}}},
    }


def json_answer(model: type[BaseModel], description: str) -> dict[str, Any]:
    """An OpenAPI JSON response whose body is ``model`` (refers to its component schema)."""
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": REF_TEMPLATE.format(model=model.__name__)}}},
    }


def json_view_answer(model: type[BaseModel] | str, description: str) -> dict[str, Any]:
    """A typed view's JSON answer: ``model`` (or the component schema of that name) itself, or
    (``prove=true``) a ProvedView whose value is it (node/view_proofs.py)."""
    view = {"$ref": REF_TEMPLATE.format(model=model if isinstance(model, str) else model.__name__)}
    proved = {
        "allOf": [{"$ref": REF_TEMPLATE.format(model="ProvedView")}, {"type": "object", "properties": {"value": view}}]
    }
    return {"description": description, "content": {"application/json": {"schema": {"anyOf": [view, proved]}}}}


_VALUE_ERRORS: Final = frozenset(
    {
        "string_pattern_mismatch",
        "string_too_short",
        "string_too_long",
        "too_long",
        "value_error",
        "enum",
        "literal_error",
    }
)
"""Errors of a value of the right type (its field's ``x-reason`` applies); others are the default."""


@functools.cache
def _field_reasons(model: type[BaseModel]) -> dict[str, str]:
    """Each field's ``x-reason`` (declared on the field or on its annotated type)."""
    schema, _ = _schema_of(model, "validation")
    reasons = {}
    for name, prop in schema.get("properties", {}).items():
        for candidate in (prop, *prop.get("anyOf", ())):
            if isinstance(candidate.get("x-reason"), str):
                reasons[name] = candidate["x-reason"]
                break
    return reasons


def _reason(model: type[BaseModel], error: Mapping[str, Any], default: str) -> str:
    loc = error.get("loc") or ()
    if not loc or error.get("type") not in _VALUE_ERRORS:
        return default
    return _field_reasons(model).get(str(loc[0]), default)


def _detail(error: Mapping[str, Any]) -> str:
    loc = ".".join(str(p) for p in error.get("loc") or ()) or "body"
    message = str(error.get("msg", "is invalid"))
    return f"{loc[:80]}: {message[:200]}"


def parse_query(model: type[M], query: MultiMapping[str], max_chars: int = MAX_PARAM_CHARS) -> M:
    """``query`` (a request's multidict) validated by ``model``; Problem 400 otherwise.

    A repeated parameter is ``repeated_parameter``, an unknown one ``unknown_parameter``, one
    over ``max_chars`` ``bad_parameter``, a value that does not fit its field that field's
    ``x-reason`` (default ``bad_parameter``).
    """
    values: dict[str, str] = {}
    for name in query:
        if len(query.getall(name)) > 1:
            raise Problem(400, "repeated_parameter", f"parameter {name[:40]!r} given more than once")
        if len(query[name]) > max_chars:
            raise Problem(400, "bad_parameter", f"parameter {name[:40]!r} is longer than {max_chars} characters")
        values[name] = query[name]
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        if error.get("type") == "extra_forbidden":
            name = str((error.get("loc") or ("?",))[0])
            allowed = sorted(f.alias or n for n, f in model.model_fields.items())
            raise Problem(400, "unknown_parameter", f"unknown parameter {name[:40]!r}; allowed: {allowed}") from None
        raise Problem(400, _reason(model, error, "bad_parameter"), _detail(error)) from None


def parse_path(model: type[M], match_info: Mapping[str, str]) -> M:
    """A request's path parameters validated by ``model``; Problem 400 with the failing field's
    ``x-reason`` (default ``bad_parameter``) otherwise."""
    try:
        return model.model_validate(dict(match_info))
    except ValidationError as exc:
        error = exc.errors()[0]
        raise Problem(400, _reason(model, error, "bad_parameter"), _detail(error)) from None


def parse_body(model: type[M], data: Any, usage: str) -> M:
    """A decoded JSON body validated by ``model``; Problem 400 ``malformed_body`` (or the failing
    field's ``x-reason``) naming ``usage`` otherwise."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        reason = _reason(model, error, "malformed_body")
        raise Problem(400, reason, f"{_detail(error)}; body must be {usage}") from None


EXTENSION_OPERATIONS: Final = web.AppKey("extension_operations", list)
"""Operations an API extension (node/extensions.py) routes on the app: build_app starts the list
empty, :func:`add_operations` fills it, and ``/api/v1/openapi.json`` documents them beside the API's own."""


def add_operations(app: web.Application, operations: Iterable[Operation]) -> None:
    """Route each of ``operations`` on ``app`` and list it for the OpenAPI document, so an
    extension's route cannot be served undocumented (ValueError at document time on a duplicate)."""
    listed: list[Operation] = app[EXTENSION_OPERATIONS]
    for op in operations:
        app.router.add_route(op.method, op.route or op.path, op.handler)
        listed.append(op)


def routes_of(operations: Iterable[Operation]) -> list[tuple[str, str, Handler]]:
    """The (method, path, handler) routes of ``operations``, in order."""
    return [(op.method, op.route or op.path, op.handler) for op in operations]


def document_paths(operations: Iterable[Operation]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The OpenAPI ``paths`` and component ``schemas`` of ``operations``; ValueError on a
    method and path registered twice."""
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for op in operations:
        item = paths.setdefault(op.path, {})
        method = op.method.lower()
        if method in item:
            raise ValueError(f"{op.method} {op.path} is registered twice")
        item[method] = dict(op.doc)
        schemas.update(op.schemas)
    return paths, schemas
