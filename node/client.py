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

DEFAULT_TIMEOUT: Final = 30.0
MAX_EVENT_LINE: Final = 16 * 1024 * 1024


class NodeApiError(Exception):
    """The node answered with an error (problem+json)."""

    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(f"{detail} ({reason}, HTTP {status})")
        self.status = status
        self.reason = reason
        self.detail = detail


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

    async def _request(self, method: str, path: str, body: Any = None, params: Mapping[str, str] | None = None) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        url = self.url + path
        try:
            async with self._session.request(method, url, json=body, params=params) as response:
                data = await response.read()
                status = response.status
                content_type = response.content_type
        except (TimeoutError, aiohttp.ClientConnectionError) as exc:
            raise NodeUnreachable(f"cannot reach the node at {self.url}: {exc or type(exc).__name__}") from None
        try:
            decoded = json.loads(data) if data else None
        except ValueError:
            decoded = None
        if status >= 400:
            if isinstance(decoded, dict) and content_type == "application/problem+json":
                raise NodeApiError(status, str(decoded.get("reason", "error")), str(decoded.get("detail", "")))
            raise NodeApiError(status, "http_error", f"HTTP {status} from {url}")
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

    async def submit_tx(self, raw: bytes) -> dict[str, Any]:
        """POST /api/v1/txs; returns {"hash", "status": "pending"}."""
        result: dict[str, Any] = await self._request("POST", "/api/v1/txs", {"tx": raw.hex()})
        return result

    async def submit_txs(self, raws: list[bytes]) -> list[dict[str, Any]]:
        """POST /api/v1/txs/batch; returns one result per transaction."""
        result = await self._request("POST", "/api/v1/txs/batch", {"txs": [r.hex() for r in raws]})
        results: list[dict[str, Any]] = result["results"]
        return results

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
        """Poll until the transaction is committed; TimeoutError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            try:
                record = await self.tx(hash_hex)
                if record.get("status") == "committed":
                    return record
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
