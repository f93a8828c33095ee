"""An async client of a node's /api/v1 (keep-alive aiohttp session).

``async with NodeClient(url) as c: await c.status()``. Problem answers raise
:class:`NodeApiError` (status, reason, detail); connection failures raise
:class:`NodeUnreachable` naming the URL.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from types import TracebackType
from typing import Any, Final

import aiohttp

from chain.encoding import MEDIA_TYPE as MSGPACK
from chain.encoding import encode

DEFAULT_TIMEOUT: Final = 30.0
MAX_EVENT_LINE: Final = 16 * 1024 * 1024


RETRYABLE_REASONS: Final = frozenset({"mempool_full", "overloaded", "earlier_nonce_refused"})
"""Refusals that say nothing against a transaction: send it again after the node's Retry-After."""
DEFAULT_RETRY_SECONDS: Final = 1.0
MAX_RETRY_SECONDS: Final = 30.0


class NodeApiError(Exception):
    """The node answered with an error (problem+json)."""

    def __init__(self, status: int, reason: str, detail: str, retry_after: float | None = None) -> None:
        super().__init__(f"{detail} ({reason}, HTTP {status})")
        self.status = status
        self.reason = reason
        self.detail = detail
        self.retry_after = retry_after
        """Seconds the node asked to wait (its Retry-After header), None if it sent none."""

    @property
    def retryable(self) -> bool:
        """True if the node refused for load, not for the request: send it again later."""
        return self.status == 429 and self.reason in RETRYABLE_REASONS


def parse_retry_after(value: str | None) -> float | None:
    """A Retry-After header in whole seconds, bounded to 0..30; None if absent or not a number."""
    if value is None or not value.strip().isdigit():
        return None
    return min(MAX_RETRY_SECONDS, float(int(value.strip())))


class NodeUnreachable(Exception):
    """The node could not be reached."""


class NodeClient:
    """Client of one node. Use as an async context manager (one session for all calls)."""

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.url = url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> NodeClient:
        self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session (idempotent)."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _exchange(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        binary: bytes | None = None,
    ) -> tuple[int, str, bytes, Any, float | None]:
        """(status, content type, body bytes, body as JSON or None, Retry-After); NodeApiError on an error status.

        The request body is ``body`` as JSON, or ``binary`` as application/msgpack when given.
        """
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        url = self.url + path
        if binary is not None:
            kwargs: dict[str, Any] = {"data": binary, "headers": {"Content-Type": MSGPACK}}
        else:
            kwargs = {"json": body}
        try:
            async with self._session.request(method, url, params=params, **kwargs) as response:
                data = await response.read()
                status = response.status
                content_type = response.content_type
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
        except (TimeoutError, aiohttp.ClientConnectionError) as exc:
            raise NodeUnreachable(f"cannot reach the node at {self.url}: {exc or type(exc).__name__}") from None
        try:
            decoded = json.loads(data) if data and content_type != "application/octet-stream" else None
        except ValueError:
            decoded = None
        if status >= 400:
            if isinstance(decoded, dict) and content_type == "application/problem+json":
                reason, detail = str(decoded.get("reason", "error")), str(decoded.get("detail", ""))
                raise NodeApiError(status, reason, detail, retry_after)
            raise NodeApiError(status, "http_error", f"HTTP {status} from {url}", retry_after)
        return status, content_type, data, decoded, retry_after

    async def _request(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        binary: bytes | None = None,
    ) -> Any:
        """One request with a JSON ``body`` (or a msgpack ``binary`` one); the JSON answer."""
        status, _, data, decoded, _ = await self._exchange(method, path, body, params, binary)
        if decoded is None and data:
            raise NodeApiError(status, "bad_response", f"the node at {self.url} did not answer with JSON")
        return decoded

    async def status(self) -> dict[str, Any]:
        """GET /api/v1/status."""
        result: dict[str, Any] = await self._request("GET", "/api/v1/status")
        return result

    async def head(self) -> dict[str, Any]:
        """GET /api/v1/head."""
        result: dict[str, Any] = await self._request("GET", "/api/v1/head")
        return result

    async def account(self, address: str) -> dict[str, Any]:
        """GET /api/v1/accounts/{address} (NodeApiError not_found for an account without state)."""
        result: dict[str, Any] = await self._request("GET", f"/api/v1/accounts/{_quote(address)}")
        return result

    async def block(self, height_or_hash: int | str) -> dict[str, Any]:
        """A block by height (int or digits) or by hash (64 hex)."""
        if isinstance(height_or_hash, int) or height_or_hash.isdigit():
            path = f"/api/v1/blocks/{int(height_or_hash)}"
        else:
            path = f"/api/v1/blocks/hash/{_quote(height_or_hash)}"
        result: dict[str, Any] = await self._request("GET", path)
        return result

    async def tx(self, hash_hex: str) -> dict[str, Any]:
        """GET /api/v1/txs/{hash}."""
        result: dict[str, Any] = await self._request("GET", f"/api/v1/txs/{_quote(hash_hex)}")
        return result

    # --- issued assets ---------------------------------------------------------------------

    async def asset(self, symbol: str) -> dict[str, Any]:
        """GET /api/v1/assets/{symbol} (NodeApiError not_found if nobody issued it)."""
        result: dict[str, Any] = await self._request("GET", f"/api/v1/assets/{_quote(symbol)}")
        return result

    async def assets(self, after: str | None = None, limit: int = 100) -> dict[str, Any]:
        """GET /api/v1/assets: {"items": [...], "next": symbol or None}."""
        params = {"limit": str(limit), **({"after": after} if after else {})}
        result: dict[str, Any] = await self._request("GET", "/api/v1/assets", params=params)
        return result

    async def offers(self, sell: str, buy: str) -> dict[str, Any]:
        """GET /api/v1/offers?sell=&buy=: the book, best rate first."""
        result: dict[str, Any] = await self._request("GET", "/api/v1/offers", params={"sell": sell, "buy": buy})
        return result

    async def offer(self, offer_id: str) -> dict[str, Any]:
        """GET /api/v1/offers/{id} (NodeApiError not_found once filled, cancelled or returned after expiry)."""
        result: dict[str, Any] = await self._request("GET", f"/api/v1/offers/{_quote(offer_id)}")
        return result

    async def fund(self, fund_id: str, start: int = 0, limit: int = 1000) -> dict[str, Any]:
        """GET /api/v1/funds/{id}: the fund with a page of its entries."""
        params = {"from": str(start), "limit": str(limit)}
        result: dict[str, Any] = await self._request("GET", f"/api/v1/funds/{_quote(fund_id)}", params=params)
        return result

    async def fund_trace(self, fund_id: str, index: int) -> dict[str, Any]:
        """GET /api/v1/funds/{id}/donations/{index}/trace."""
        path = f"/api/v1/funds/{_quote(fund_id)}/donations/{int(index)}/trace"
        result: dict[str, Any] = await self._request("GET", path)
        return result

    async def points(self, merchant: str) -> dict[str, Any]:
        """GET /api/v1/points/{merchant}: the merchant's programme (NodeApiError not_found if none)."""
        result: dict[str, Any] = await self._request("GET", f"/api/v1/points/{_quote(merchant)}")
        return result

    async def points_of(self, merchant: str, account: str, start: int = 0, limit: int = 100) -> dict[str, Any]:
        """GET /api/v1/points/{merchant}/{account}: the live balance, lots and a page of history."""
        params = {"from": str(start), "limit": str(limit)}
        path = f"/api/v1/points/{_quote(merchant)}/{_quote(account)}"
        result: dict[str, Any] = await self._request("GET", path, params=params)
        return result

    async def finance_order(self, order_id: str) -> dict[str, Any]:
        """GET /api/v1/finance/orders/{id}: state, payout, payee, financing and offers of an order."""
        result: dict[str, Any] = await self._request("GET", f"/api/v1/finance/orders/{_quote(order_id)}")
        return result

    async def finance_record(self, merchant: str) -> dict[str, Any]:
        """GET /api/v1/finance/merchants/{address}: the merchant's record for financiers."""
        result: dict[str, Any] = await self._request("GET", f"/api/v1/finance/merchants/{_quote(merchant)}")
        return result

    async def finance_offer(self, offer_id: str) -> dict[str, Any]:
        """GET /api/v1/finance/offers/{id} (NodeApiError not_found once accepted, withdrawn or returned)."""
        result: dict[str, Any] = await self._request("GET", f"/api/v1/finance/offers/{_quote(offer_id)}")
        return result

    # --- verification (light client) -------------------------------------------------------

    async def light_block(self, height: int) -> dict[str, Any]:
        """GET /api/v1/light/{height}: {"height", "hash", "light_block": hex}."""
        result: dict[str, Any] = await self._request("GET", f"/api/v1/light/{int(height)}")
        return result

    async def state_proof(self, key: bytes, height: int) -> dict[str, Any]:
        """GET /api/v1/proofs/state for ``key`` at ``height``."""
        params = {"key": key.hex(), "height": str(height)}
        result: dict[str, Any] = await self._request("GET", "/api/v1/proofs/state", params=params)
        return result

    async def tx_proof(self, hash_hex: str) -> dict[str, Any]:
        """GET /api/v1/proofs/tx/{hash}."""
        result: dict[str, Any] = await self._request("GET", f"/api/v1/proofs/tx/{_quote(hash_hex)}")
        return result

    async def submit_tx(self, raw: bytes) -> dict[str, Any]:
        """POST /api/v1/txs; returns {"hash", "status": "pending"}."""
        result: dict[str, Any] = await self._request("POST", "/api/v1/txs", {"tx": raw.hex()})
        return result

    async def submit_txs(self, raws: list[bytes]) -> list[dict[str, Any]]:
        """POST /api/v1/txs/batch; returns one result per transaction."""
        return (await self.submit_batch(raws))["results"]

    async def submit_batch(self, raws: list[bytes]) -> dict[str, Any]:
        """POST /api/v1/txs/batch; returns the whole answer: ``results`` (one per transaction),
        ``resubmit`` (indices refused for load) and ``retry_after`` (seconds, or None).

        The body is binary (application/msgpack: the raw transactions, no hex, no JSON)."""
        result: dict[str, Any] = await self._request("POST", "/api/v1/txs/batch", binary=encode(list(raws)))
        return result

    async def submit_tx_retrying(
        self,
        raw: bytes,
        timeout: float = 60.0,  # noqa: ASYNC109
        on_retry: Callable[[NodeApiError, float], None] | None = None,
    ) -> dict[str, Any]:
        """POST /api/v1/txs, sending it again after each Retry-After while the node refuses for
        load (429); other refusals raise NodeApiError at once, and so does the last 429 once
        ``timeout`` seconds have passed. ``on_retry(refusal, seconds)`` is told before each wait."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return await self.submit_tx(raw)
            except NodeApiError as exc:
                wait = exc.retry_after if exc.retry_after is not None else DEFAULT_RETRY_SECONDS
                if not exc.retryable or time.monotonic() + wait > deadline:
                    raise
                if on_retry is not None:
                    on_retry(exc, wait)
                await asyncio.sleep(wait)

    async def submit_txs_retrying(self, raws: list[bytes], timeout: float = 60.0) -> list[dict[str, Any]]:  # noqa: ASYNC109
        """Submit a batch and resubmit, in order, what the node refuses for load, after each
        Retry-After, until nothing is left to resubmit or ``timeout`` seconds have passed.

        Returns one result per transaction (the last answer for each): accepted, refused for
        a reason against it, or, past the timeout, still refused for load.
        """
        deadline = time.monotonic() + timeout
        final: list[dict[str, Any] | None] = [None] * len(raws)
        todo = list(range(len(raws)))
        while True:
            wait = DEFAULT_RETRY_SECONDS
            try:
                answer = await self.submit_batch([raws[i] for i in todo])
            except NodeApiError as exc:
                if not exc.retryable:
                    raise
                refused = {"hash": None, "accepted": False, "reason": exc.reason, "detail": exc.detail}
                for i in todo:
                    final[i] = refused
                wait = exc.retry_after if exc.retry_after is not None else wait
            else:
                for i, result in zip(todo, answer["results"], strict=True):
                    final[i] = result
                todo = [todo[j] for j in answer.get("resubmit") or ()]
                if answer.get("retry_after") is not None:
                    wait = min(MAX_RETRY_SECONDS, float(answer["retry_after"]))
            if not todo or time.monotonic() + wait > deadline:
                return [r if r is not None else {"hash": None, "accepted": False} for r in final]
            await asyncio.sleep(wait)

    async def listings(self, **filters: str | int | bool | None) -> dict[str, Any]:
        """GET /api/v1/listings with the given filters (merchant, q, min_price, ..., cursor)."""
        result: dict[str, Any] = await self._request("GET", "/api/v1/listings", params=_query(filters))
        return result

    async def listing(self, listing_id: str) -> dict[str, Any]:
        """GET /api/v1/listings/{id}."""
        result: dict[str, Any] = await self._request("GET", f"/api/v1/listings/{_quote(listing_id)}")
        return result

    async def orders(self, **filters: str | int | bool | None) -> dict[str, Any]:
        """GET /api/v1/orders with the given filters (buyer, merchant, arbiter, state, limit, cursor)."""
        result: dict[str, Any] = await self._request("GET", "/api/v1/orders", params=_query(filters))
        return result

    async def order(self, order_id: str) -> dict[str, Any]:
        """GET /api/v1/orders/{id} (with the order's full history)."""
        result: dict[str, Any] = await self._request("GET", f"/api/v1/orders/{_quote(order_id)}")
        return result

    async def reputation(self, address: str) -> dict[str, Any]:
        """GET /api/v1/merchants/{address}/reputation."""
        path = f"/api/v1/merchants/{_quote(address)}/reputation"
        result: dict[str, Any] = await self._request("GET", path)
        return result

    async def market_stats(self, merchant: str | None = None, days: int | None = None) -> dict[str, Any]:
        """GET /api/v1/market/stats: the KPIs, chain-wide or of one merchant."""
        params = _query({"merchant": merchant, "days": days})
        result: dict[str, Any] = await self._request("GET", "/api/v1/market/stats", params=params)
        return result

    async def item(self, path: str, view: str = "", **params: str | int | None) -> dict[str, Any]:
        """GET /api/v1/items/<Digital Link path>[/<view>] (view: "", history, journey or epcis)."""
        suffix = f"/{view}" if view else ""
        url = "/api/v1/items/" + path.lstrip("/") + suffix
        result: dict[str, Any] = await self._request("GET", url, params=_query(params))
        return result

    async def item_receipt(self, path: str) -> bytes:
        """GET /api/v1/items/<Digital Link path>/receipt: the trace receipt file's bytes."""
        _, content_type, data, _, _ = await self._exchange("GET", "/api/v1/items/" + path.lstrip("/") + "/receipt")
        if content_type != "application/octet-stream":
            raise NodeApiError(200, "bad_response", f"the node at {self.url} did not answer with a receipt file")
        return data

    async def order_provenance(self, order_id: str) -> dict[str, Any]:
        """GET /api/v1/orders/{id}/provenance."""
        result: dict[str, Any] = await self._request("GET", f"/api/v1/orders/{_quote(order_id)}/provenance")
        return result

    async def events(
        self, on_open: Callable[[], None] | None = None, **filters: str | None
    ) -> AsyncGenerator[tuple[str, dict[str, Any]], None]:
        """Follow GET /api/v1/events (filters: types, merchant, buyer, order); yield (name, data).

        Runs until the node ends the stream or the caller stops iterating; there is no
        overall timeout. A refused filter raises NodeApiError before the first event;
        ``on_open`` is called once the node has accepted the subscription (every block
        committed from then on is delivered).
        """
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        url = self.url + "/api/v1/events"
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self._timeout.total)
        try:
            async with self._session.get(url, params=_query(filters), timeout=timeout) as response:
                if response.status >= 400:
                    data = await response.read()
                    try:
                        problem = json.loads(data)
                    except ValueError:
                        problem = {}
                    if not isinstance(problem, dict):
                        problem = {}
                    reason = str(problem.get("reason", "http_error"))
                    raise NodeApiError(response.status, reason, str(problem.get("detail", f"HTTP {response.status}")))
                if on_open is not None:
                    on_open()
                name, lines = "message", []
                while True:
                    raw = await response.content.readline(max_line_length=MAX_EVENT_LINE)
                    if not raw:
                        return
                    line = raw.decode(errors="replace").rstrip("\r\n")
                    if line.startswith("event:"):
                        name = line[6:].strip()
                    elif line.startswith("data:"):
                        lines.append(line[5:].lstrip())
                    elif not line and lines:
                        try:
                            payload = json.loads("\n".join(lines))
                        except ValueError:
                            raise NodeApiError(200, "bad_response", "the event stream sent invalid JSON") from None
                        yield name, payload
                        name, lines = "message", []
        except (TimeoutError, aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            raise NodeUnreachable(f"lost the event stream of {self.url}: {exc or type(exc).__name__}") from None

    async def wait_for_tx(self, hash_hex: str, timeout: float = 30.0) -> dict[str, Any]:  # noqa: ASYNC109 (contract)
        """Poll until the transaction is committed; TimeoutError after ``timeout`` seconds.

        NodeApiError (HTTP 200, the drop's reason: ``expired``, ``evicted``, ...) if the node
        dropped it from its mempool without committing it: it must be sent again.
        """
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            try:
                record = await self.tx(hash_hex)
                if record.get("status") == "committed":
                    return record
                if record.get("status") == "dropped":
                    reason, detail = str(record.get("reason")), str(record.get("detail"))
                    raise NodeApiError(200, reason, f"transaction {hash_hex} was dropped: {detail}")
            except NodeApiError as exc:
                if exc.reason != "not_found":
                    raise
            if time.monotonic() + delay > deadline:
                raise TimeoutError(f"transaction {hash_hex} not committed within {timeout} s")
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 0.5)

    async def wait_ready(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109 (contract)
        """Poll /readyz until the node is ready; TimeoutError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while True:
            try:
                await self._request("GET", "/readyz")
                return
            except (NodeUnreachable, NodeApiError) as exc:
                last = exc
            if time.monotonic() > deadline:
                raise TimeoutError(f"node at {self.url} not ready within {timeout} s: {last}")
            await asyncio.sleep(0.05)

    # --- the chain's totals, for auditors (node/audit_api.py) ------------------------------

    async def genesis(self) -> dict[str, Any]:
        """GET /api/v1/genesis: the genesis document the node runs."""
        result: dict[str, Any] = await self._request("GET", "/api/v1/genesis")
        return result

    async def supply(self) -> dict[str, Any]:
        """GET /api/v1/supply: per asset, total supply, in accounts, in escrow, fees paid."""
        result: dict[str, Any] = await self._request("GET", "/api/v1/supply")
        return result

    async def accounts(self, limit: int | None = None, cursor: str | None = None) -> dict[str, Any]:
        """GET /api/v1/accounts: one page of accounts (pass the previous ``next_cursor``)."""
        params = _query({"limit": limit, "cursor": cursor})
        result: dict[str, Any] = await self._request("GET", "/api/v1/accounts", params=params)
        return result

    async def block_for_replay(self, height: int) -> dict[str, Any]:
        """GET /api/v1/blocks/{height}?receipts=true&raw=true: everything needed to replay it."""
        params = {"receipts": "true", "raw": "true"}
        result: dict[str, Any] = await self._request("GET", f"/api/v1/blocks/{int(height)}", params=params)
        return result

    async def lookup_txs(self, hashes: list[str]) -> list[dict[str, Any]]:
        """POST /api/v1/txs/lookup: up to 1,000 transactions (committed, pending, dropped or unknown), in order."""
        answer = await self._request("POST", "/api/v1/txs/lookup", {"hashes": hashes})
        results: list[dict[str, Any]] = answer["results"]
        return results


def _query(filters: Mapping[str, str | int | bool | None]) -> dict[str, str]:
    """Query parameters: None dropped, booleans as true/false, the rest as text."""
    out: dict[str, str] = {}
    for name, value in filters.items():
        if value is None:
            continue
        out[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


def _quote(segment: str) -> str:
    from urllib.parse import quote

    return quote(segment, safe="")
