"""Fuzzing every client-API route of a real node, driven by the OpenAPI document it serves.

A real node (tmp LevelDB, aiohttp on port 0, the market running) holds committed transfers, a
listing and an order, so path parameters can hit real data. For every route in the served
OpenAPI document hypothesis generates path parameters (unicode, huge and negative numbers, hex
of every length, valid ids), query strings (unknown, repeated, wrong-typed, huge), methods, and
bodies (random JSON of every type, deeply nested, huge, random bytes, wrong content types).
Every answer must be: never 5xx; a 4xx is application/problem+json with a ``reason``; a 2xx is
JSON (text for /metrics and the event stream); within a few seconds. Afterwards the node is
still healthy and still commits blocks.

The node runs on its own event loop in a thread so that hypothesis drives it synchronously;
examples are derandomized, so a failure replays.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar
from urllib.parse import quote, urlencode

import aiohttp
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from node_market_kit import CHAIN, FEE, MarketNode, addr, market_node
from yarl import URL

from chain.transfer import Transfer
from chain.tx import sign_transaction
from market.bodies import OrderPlace

T = TypeVar("T")
REQUEST_SECONDS: Final = 5.0
MAX_BODY: Final = 64 * 1024
MAX_QUERY_CHARS: Final = 7_000
METHODS: Final = ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")
TEXT_ROUTES: Final = frozenset({"/metrics", "/api/v1/events"})
FUZZ_EXAMPLES: Final = 1_000
FUZZ_SETTINGS: Final = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


@dataclass(frozen=True, slots=True)
class Seeded:
    """Real values on the running node: what a valid path parameter may be."""

    addresses: tuple[str, ...]
    hex_ids: tuple[str, ...]
    heights: tuple[str, ...]
    raw_txs: tuple[str, ...]

    def __repr__(self) -> str:
        # hypothesis prints a strategy's arguments when a draw is rejected: keep that short
        return f"Seeded({len(self.addresses)} addresses, {len(self.hex_ids)} ids, {len(self.raw_txs)} txs)"


class Routes(dict[str, Any]):
    """The documented paths, with a short repr (hypothesis prints strategy arguments; the
    whole OpenAPI document there is over its 30 kB repr warning, an error under -W error)."""

    def __repr__(self) -> str:
        return f"Routes({len(self)} paths)"


class NodeThread:
    """A market node with seeded data on its own event loop in a background thread."""

    def __init__(self, tmp_path: Path) -> None:
        self._tmp_path = tmp_path
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.m: MarketNode | None = None
        self.seeded: Seeded | None = None
        self._thread = threading.Thread(target=self._run, name="fuzz-node", daemon=True)

    def start(self) -> None:
        """Start the node and seed it; raises what the node raised."""
        self._thread.start()
        if not self._ready.wait(60):
            raise TimeoutError("the fuzz node did not start within 60 s")
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        """Stop the node and join its thread."""
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = REQUEST_SECONDS + 5) -> T:
        """Run ``coro`` on the node's loop; TimeoutError if it takes longer than ``timeout``."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self._main())
        except BaseException as exc:  # reported to start() through _error
            self._error = exc
            self._ready.set()
        finally:
            self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        async with market_node(self._tmp_path, api_max_body_bytes=MAX_BODY) as m:
            self.m = m
            self.seeded = await _seed(m)
            self._ready.set()
            await self._stop.wait()


async def _seed(m: MarketNode) -> Seeded:
    await m.do("buyer", Transfer(m["buyer2"].public_key, 5_000))
    listing = await m.create_listing()
    receipt = await m.do("buyer", OrderPlace(bytes.fromhex(listing), 1, 0, 1_000, 100))
    order = receipt["events"][-1]["attrs"]["order_id"]
    head = await m.ok("/api/v1/head")
    block = await m.ok(f"/api/v1/blocks/{head['height']}")
    nonce = m.nonces[m["buyer2"].public_key]
    raw = [
        sign_transaction(m["buyer2"], CHAIN, nonce + gap, FEE, Transfer(m["arbiter"].public_key, 1)).raw.hex()
        for gap in (0, 5)
    ]
    raw.append(sign_transaction(m["buyer2"], "other-chain", nonce, FEE, Transfer(m["buyer"].public_key, 1)).raw.hex())
    return Seeded(
        addresses=(*(addr(k) for k in m.keys.values()), m["merchant"].public_key.hex()),
        hex_ids=(listing, order, head["hash"], block["txs"][0]),
        heights=("1", str(head["height"]), str(head["height"] + 1)),
        raw_txs=tuple(raw),
    )


@pytest.fixture(scope="module")
def fuzz_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeThread]:
    node = NodeThread(tmp_path_factory.mktemp("fuzz"))
    node.start()
    try:
        yield node
    finally:
        node.stop()


# --- what is sent ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, repr=False)
class Request:
    """One fuzzed request: method, percent-encoded path, query pairs, body and content type."""

    method: str
    template: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    content_type: str | None = None

    def __repr__(self) -> str:
        query = [(n[:100], v[:100] + (f"...({len(v)})" if len(v) > 100 else "")) for n, v in self.query]
        body = None if self.body is None else self.body[:200] + (b"..." if len(self.body) > 200 else b"")
        size = None if self.body is None else len(self.body)
        return (
            f"Request({self.method} {self.path[:300]} query={query!r} body[{size}]={body!r} "
            f"content_type={self.content_type!r})"
        )


@dataclass(frozen=True, slots=True)
class Answer:
    """What the node answered."""

    status: int
    content_type: str
    body: bytes


_text = st.text(st.characters(codec="utf-8"), max_size=80)
_numbers = st.one_of(
    st.integers(),
    st.integers(min_value=2**63, max_value=2**300),
    st.integers(max_value=-1),
).map(str)
_hex = st.binary(max_size=70).map(bytes.hex)
_weird = st.sampled_from(
    [
        "",
        " ",
        "0",
        "-0",
        "+1",
        "1e3",
        "0x10",
        "\u00b2",
        "\u0663",
        "\uff11\uff12",
        "1" * 25,
        "9" * 5000,
        "agora1",
        "null",
        "%00",
        "..",
    ]
)


def _param_values(seeded: Seeded, name: str) -> st.SearchStrategy[str]:
    valid = {"address": seeded.addresses, "height": seeded.heights}.get(name, seeded.hex_ids)
    return st.one_of(st.sampled_from(valid), _text, _numbers, _hex, _weird, _hex.map(str.upper))


def _json_values() -> st.SearchStrategy[Any]:
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        _text,
        _hex,
    )
    return st.recursive(
        leaves,
        lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(_text, inner, max_size=5)),
        max_leaves=20,
    )


def _bodies(seeded: Seeded) -> st.SearchStrategy[tuple[bytes | None, str | None]]:
    raw_tx = st.sampled_from(seeded.raw_txs)
    shaped = st.one_of(
        st.fixed_dictionaries({"tx": st.one_of(raw_tx, _hex, _json_values())}),
        st.fixed_dictionaries({"txs": st.lists(st.one_of(raw_tx, _hex, _json_values()), max_size=8)}),
        st.fixed_dictionaries({"txs": _json_values()}),
        st.fixed_dictionaries({"hashes": st.lists(st.one_of(_hex, _json_values()), max_size=8)}),
        st.fixed_dictionaries({"tx": raw_tx}, optional={"extra": _json_values()}),
        _json_values(),
    ).map(lambda value: json.dumps(value).encode())
    special = st.sampled_from(
        [
            b"",
            b"[" * 30_000 + b"]" * 30_000,
            b'{"tx":' * 5_000 + b"1" + b"}" * 5_000,
            b'{"tx": "' + b"a" * (MAX_BODY * 2) + b'"}',
            b'{"txs": [' + b'"00",' * 1_200 + b'"00"]}',
            b"1" * 5_000,
            b'{"tx": NaN}',
            b'"\\ud800"',
            b"\xff\xfe\x00",
        ]
    )
    content = st.one_of(
        st.sampled_from(seeded.raw_txs).map(lambda h: json.dumps({"tx": h}).encode()),
        shaped,
        special,
        st.binary(max_size=200),
    )
    content_types = st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "application/json; charset=latin-1",
            "application/problem+json",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=xyz",
            "",
            None,
        ]
    )
    return st.tuples(st.one_of(st.none(), content), content_types)


def _query_pairs(names: list[str]) -> st.SearchStrategy[tuple[tuple[str, str], ...]]:
    known = st.sampled_from(names) if names else st.nothing()
    name = st.one_of(known, _text, st.sampled_from(["limit", "cursor", "types", "__proto__"]))
    value = st.one_of(_text, _numbers, _hex, _weird, st.sampled_from(["true", "false", "any", "placed", "block"]))
    long_value = st.integers(min_value=500, max_value=5_000).map(lambda n: "x" * n)
    pair = st.tuples(name, st.one_of(value, long_value))
    # aiohttp itself answers a request line over 8190 bytes with a text/plain 400 before any
    # handler runs (see test_an_over_long_request_line_is_refused): stay under it here
    return st.lists(pair, max_size=6).map(tuple).filter(lambda q: len(urlencode(q)) < MAX_QUERY_CHARS)


@st.composite
def requests(draw: st.DrawFn, routes: dict[str, Any], seeded: Seeded) -> Request:
    """A request to a documented route, its parts drawn from the fuzz strategies above."""
    template = draw(st.sampled_from(sorted(routes)))
    operations = routes[template]
    documented = sorted(operations)
    method = draw(st.one_of(st.sampled_from([m.upper() for m in documented]), st.sampled_from(METHODS)))
    path = template
    query_names: list[str] = []
    for op in operations.values():
        for param in op.get("parameters", []):
            if param["in"] == "path":
                value = draw(_param_values(seeded, param["name"]))
                path = path.replace("{" + param["name"] + "}", quote(value, safe="") or "%20")
            else:
                query_names.append(param["name"])
    query = draw(_query_pairs(query_names))
    # the whole request line must stay under aiohttp's own 8190-byte limit (see _query_pairs)
    assume(len(path) + len(urlencode(query)) < 8_000)
    body, content_type = draw(_bodies(seeded)) if method != "GET" else (None, None)
    return Request(method, template, path, query, body, content_type)


# --- what is checked ------------------------------------------------------------------------


async def _send(m: MarketNode, request: Request) -> Answer:
    url = URL(m.url + request.path, encoded=True)
    if request.query:
        url = url.with_query(list(request.query))
    headers = {} if request.content_type is None else {"Content-Type": request.content_type}
    timeout = aiohttp.ClientTimeout(total=REQUEST_SECONDS)
    async with m.http.request(request.method, url, data=request.body, headers=headers, timeout=timeout) as r:
        if r.content_type == "text/event-stream":
            first = await r.content.readline()  # the stream never ends: its first line is enough
            return Answer(r.status, r.content_type, first)
        return Answer(r.status, r.content_type, await r.read())


def check_answer(request: Request, answer: Answer) -> None:
    """The fuzz oracle: no 5xx; a 4xx is a problem document with a reason; a 2xx is JSON."""
    shown = f"{request.method} {request.path} query={request.query!r} body={(request.body or b'')[:200]!r}"
    assert answer.status < 500, f"{answer.status} for {shown}: {answer.body[:500]!r}"
    if answer.status >= 400:
        assert answer.content_type == "application/problem+json", shown
        problem = json.loads(answer.body)
        assert isinstance(problem.get("reason"), str) and problem["reason"], shown
        assert problem["status"] == answer.status, shown
    elif request.template == "/api/v1/events":
        assert answer.content_type == "text/event-stream" and answer.body.startswith(b": agora"), shown
    elif request.template == "/metrics":
        assert answer.content_type == "text/plain", shown
    else:
        assert answer.content_type == "application/json", shown
        json.loads(answer.body)


def _assert_healthy_and_committing(node: NodeThread) -> None:
    m = node.m
    assert m is not None
    health = node.call(_send(m, Request("GET", "/healthz", "/healthz")))
    assert health.status == 200 and json.loads(health.body) == {"status": "ok"}
    head = node.call(m.ok("/api/v1/head"))
    node.call(m.tick(), timeout=30)  # a new transfer is committed through the API
    assert node.call(m.ok("/api/v1/head"))["height"] > head["height"]
    node.call(_no_stream_left_behind(m), timeout=15)


async def _no_stream_left_behind(m: MarketNode) -> None:
    """Event streams whose clients went away end once a block is committed (no leak)."""
    services = m.node.services
    assert services is not None
    deadline = asyncio.get_running_loop().time() + 10
    while services.events.subscriber_count > 0:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{services.events.subscriber_count} event streams outlive their clients")
        await asyncio.sleep(0.05)


def _routes(node: NodeThread) -> dict[str, Any]:
    m = node.m
    assert m is not None
    document = node.call(m.ok("/api/v1/openapi.json"))
    return Routes(document["paths"])


# --- the tests ------------------------------------------------------------------------------


def test_every_documented_route_survives_fuzzed_paths_queries_and_bodies(fuzz_node: NodeThread) -> None:
    m, seeded = fuzz_node.m, fuzz_node.seeded
    assert m is not None and seeded is not None
    routes = _routes(fuzz_node)
    assert len(routes) >= 18  # every route of api.py and market_api.py is documented
    seen: list[str] = []
    # Every route gets its own share of the examples, so coverage never depends on how often
    # one sampled_from over ~50 routes happens to pick each of them.
    per_route = max(20, FUZZ_EXAMPLES // len(routes))

    for template in sorted(routes):

        @settings(FUZZ_SETTINGS, max_examples=per_route)
        @given(requests({template: routes[template]}, seeded))
        def one(request: Request) -> None:
            seen.append(request.template)
            check_answer(request, fuzz_node.call(_send(m, request)))

        one()
    assert len(seen) >= per_route * len(routes) * 0.9 and set(seen) == set(routes)
    _assert_healthy_and_committing(fuzz_node)


def test_every_body_route_survives_fuzzed_bodies(fuzz_node: NodeThread) -> None:
    m, seeded = fuzz_node.m, fuzz_node.seeded
    assert m is not None and seeded is not None
    routes = {path: ops for path, ops in _routes(fuzz_node).items() if "post" in ops}
    assert set(routes) == {"/api/v1/txs", "/api/v1/txs/batch", "/api/v1/txs/lookup"}

    statuses: list[int] = []

    # Pinned, so every status the coverage assertion below names is always exercised; the
    # generated examples only sometimes pair an oversized body with a JSON content type.
    @FUZZ_SETTINGS
    @given(st.sampled_from(sorted(routes)), _bodies(seeded))
    @example("/api/v1/txs", (b'{"tx": "' + b"a" * (MAX_BODY * 2) + b'"}', "application/json"))
    @example("/api/v1/txs/batch", (b'{"txs": [' + b'"00",' * 1_200 + b'"00"]}', "application/json"))
    @example("/api/v1/txs/batch", (b'{"txs": ["00"]}', "application/json"))
    @example("/api/v1/txs/batch", (b"\x91\xc4\x01\x00", "application/msgpack"))
    @example("/api/v1/txs/batch", (b"\x91\xc4\x01\x00\x00", "application/msgpack"))
    @example("/api/v1/txs", (b"", "application/json"))
    @example("/api/v1/txs", (b'{"tx": "00"}', "text/plain"))
    @example("/api/v1/txs/lookup", (b'{"hashes": ["' + b"ab" * 32 + b'"]}', "application/json"))
    def one(path: str, body: tuple[bytes | None, str | None]) -> None:
        request = Request("POST", path, path, (), body[0], body[1])
        answer = fuzz_node.call(_send(m, request))
        check_answer(request, answer)
        statuses.append(answer.status)

    one()
    assert len(statuses) >= FUZZ_EXAMPLES and {200, 400, 413, 415} <= set(statuses)
    _assert_healthy_and_committing(fuzz_node)


@pytest.mark.parametrize(
    ("request_", "status", "reason"),
    [
        # regression: json.loads raised RecursionError (not ValueError) -> 500
        (Request("POST", "/api/v1/txs", "/api/v1/txs", (), b"[" * 30_000, "application/json"), 400, "malformed_body"),
        # regression: str.isdigit() accepts '²' whose int() raised ValueError -> 500
        (Request("GET", "/api/v1/blocks/{height}", "/api/v1/blocks/%C2%B2"), 400, "bad_height"),
        (Request("GET", "/api/v1/blocks/{height}", "/api/v1/blocks/%D9%A3"), 400, "bad_height"),
    ],
)
def test_fuzz_findings_get_a_4xx_problem(fuzz_node: NodeThread, request_: Request, status: int, reason: str) -> None:
    m = fuzz_node.m
    assert m is not None
    answer = fuzz_node.call(_send(m, request_))
    check_answer(request_, answer)
    assert answer.status == status and json.loads(answer.body)["reason"] == reason


def test_an_over_long_request_line_is_refused_and_the_node_lives_on(fuzz_node: NodeThread) -> None:
    m = fuzz_node.m
    assert m is not None
    request = Request("GET", "/api/v1/listings", "/api/v1/listings", (("q", "x" * 10_000),))
    answer = fuzz_node.call(_send(m, request))
    assert answer.status == 400  # aiohttp's own parser limit (text/plain): no handler ever runs
    _assert_healthy_and_committing(fuzz_node)


def test_a_filtered_event_stream_ends_when_its_client_leaves(fuzz_node: NodeThread) -> None:
    m = fuzz_node.m
    assert m is not None
    for _ in range(3):
        request = Request("GET", "/api/v1/events", "/api/v1/events", (("types", "review"),))
        check_answer(request, fuzz_node.call(_send(m, request)))
    # regression: a silent (filtered) stream only noticed its client had gone when it next wrote
    _assert_healthy_and_committing(fuzz_node)
