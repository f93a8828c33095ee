"""The pages are mounted on the client API by the process entry point, and only there.

node/ never imports web/: ``python -m node`` loads the ``agora.api_extensions`` entry points
(web/'s ``mount`` is declared in pyproject.toml), so every node process (``agora node run``,
``agora testnet up``, ``agora demo``) serves ``/``; a Node built without extensions does not.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

import aiohttp
from node_market_kit import market_node
from web_kit import page, text_of

from chain.encoding import sha256
from chain.keys import PrivateKey
from node.datadir import dev_genesis, init_datadir
from node.extensions import ENTRY_POINT_GROUP, installed_extensions
from web.mount import mount

REPO = Path(__file__).resolve().parents[2]
START_DEADLINE = 60.0


def test_the_installed_distribution_declares_web_as_an_api_extension() -> None:
    assert mount in installed_extensions(ENTRY_POINT_GROUP)


async def test_a_node_without_extensions_serves_no_pages_and_with_web_serves_them(tmp_path: Path) -> None:
    async with market_node(tmp_path / "bare") as m, m.http.get(m.url + "/") as r:
        assert r.status == 404 and r.content_type == "application/problem+json"
    async with market_node(tmp_path / "web", api_extensions=(mount,)) as m:
        html = await page(m, "/")
        assert "Chain market-api-test" in text_of(html)
        status, body = await m.get("/api/v1/status")  # the API's own routes are untouched
        assert status == 200 and body["chain_id"] == "market-api-test"


async def test_python_m_node_serves_the_explorer_on_its_api_port(tmp_path: Path) -> None:
    validator = PrivateKey(sha256(b"web-mount-validator"))
    datadir = tmp_path / "node"
    genesis = dev_genesis("web-mount-test", [validator.public_key], {validator.public_key: 10**9}, time_ms=1)
    init_datadir(datadir, genesis, validator, "pw", {"api_port": 0})
    env = {k: v for k, v in os.environ.items() if k != "AGORA_PASSWORD"}
    env.update(PYTHONPATH=str(REPO), AGORA_PASSWORD="pw")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-P", "-m", "node", "--datadir", str(datadir), "--api-port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env, cwd=tmp_path,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), START_DEADLINE)).decode()
        assert "listening on" in line, line
        url = line.rsplit(" ", 1)[1].strip()
        async with aiohttp.ClientSession() as http, http.get(url + "/") as r:
            html = await r.text()
            assert r.status == 200 and r.content_type == "text/html", html[:300]
            assert "Chain web-mount-test" in text_of(html)
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), START_DEADLINE) == 0
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()


async def test_the_openapi_document_lists_the_quote_route_only_where_web_is_mounted(tmp_path: Path) -> None:
    quote = "/listing/{id}/quote"
    async with market_node(tmp_path / "bare") as m:
        _, bare = await m.get("/api/v1/openapi.json")
        assert quote not in bare["paths"]
    async with market_node(tmp_path / "web", api_extensions=(mount,)) as m:
        status, doc = await m.get("/api/v1/openapi.json")
        assert status == 200
        op = doc["paths"][quote]["get"]
        names = {(p["name"], p["in"], p["required"]) for p in op["parameters"]}
        assert {("id", "path", True), ("buyer", "query", True), ("quantity", "query", True)} <= names
        assert {("shipping", "query", True), ("pay_with", "query", False), ("max_rate", "query", False)} <= names
        assert {("asset", "query", False), ("redeem", "query", False)} <= names
        assert set(op["responses"]) == {"200", "400", "404"}
        assert op["responses"]["400"]["content"]["application/problem+json"]["schema"]["$ref"].endswith("/Problem")
        assert "QuoteAnswer" in doc["components"]["schemas"]
        assert set(bare["paths"]) < set(doc["paths"])  # the API's own operations are all still there
