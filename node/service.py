"""The running node: wires store, mempool, executor, producer and client API together.

Start order: store, mempool, executor, API, producer. Stop order (graceful shutdown):
the producer finishes the block it is writing, event streams end, the API stops, and the
store closes last.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from aiohttp import web

from chain.address import encode_address
from chain.execution import read_params, read_validators
from chain.keys import PrivateKey
from chain.transfer import CORE_KINDS
from chain.tx import KindRegistry
from market import MARKET_KINDS
from node.api import NodeServices, build_app
from node.datadir import Datadir, DatadirError
from node.events import EventBus
from node.executor import BlockExecutor
from node.market_index import MarketIndex
from node.mempool import Mempool
from node.metrics import NodeMetrics
from node.producer import Clock, Producer, wall_clock_ms
from storage.store import ChainStore, StoreError

log = logging.getLogger("agora.node")
DEFAULT_REGISTRY: Final = CORE_KINDS.merged(MARKET_KINDS)
"""What a node runs: native transfers and the marketplace."""


class Node:
    """One node over a datadir. ``await start()``, then ``await stop()``."""

    def __init__(
        self,
        datadir: Datadir,
        validator_key: PrivateKey | None,
        registry: KindRegistry = DEFAULT_REGISTRY,
        clock: Clock = wall_clock_ms,
    ) -> None:
        self.datadir = datadir
        self.validator_key = validator_key
        self.registry = registry
        self.clock = clock
        """Block times of the blocks this node produces (tests inject a clock they advance)."""
        self.services: NodeServices | None = None
        self.producer: Producer | None = None
        self._runner: web.AppRunner | None = None
        self._producer_task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self.url = ""

    async def start(self) -> str:
        """Open the store, start the API and (if this node alone can certify blocks) the producer.

        Returns the API base URL. Raises DatadirError for a store of another chain or a
        corrupt one.
        """
        config = self.datadir.config
        genesis = self.datadir.genesis
        try:
            store = await asyncio.to_thread(ChainStore.open, self.datadir.db_path, genesis, self.registry)
        except StoreError as exc:
            raise DatadirError(f"{self.datadir.db_path}: {exc}") from None
        try:
            market = MarketIndex(store)
            if await asyncio.to_thread(market.ensure):
                log.info("market indexes rebuilt at height %d", store.height)
            metrics = NodeMetrics()
            events = EventBus()
            mempool = Mempool(
                store.state,
                genesis.chain_id,
                read_params(store.state),
                config.mempool_max_txs,
                config.mempool_max_bytes,
                config.mempool_max_nonce_gap,
                on_change=self._mempool_changed,
            )
            executor = BlockExecutor(store, self.registry, mempool, events, metrics, market)
            key = self.validator_key
            validators = read_validators(store.state)
            producing = key is not None and validators.power_of(key.public_key) >= validators.quorum
            node_id = encode_address(key.public_key) if key is not None else "observer-" + genesis.hash.hex()[:16]
            services = NodeServices(
                genesis,
                self.registry,
                store,
                mempool,
                executor,
                events,
                metrics,
                key,
                producing,
                node_id=node_id,
                market=market,
            )
            self.services = services
            self._runner = web.AppRunner(
                build_app(services, config.api_max_body_bytes), access_log=None, shutdown_timeout=5.0
            )
            await self._runner.setup()
            site = web.TCPSite(self._runner, config.api_host, config.api_port)
            await site.start()
            host, port = self._runner.addresses[0][:2]
            self.url = f"http://{host}:{port}" if ":" not in host else f"http://[{host}]:{port}"
            if key is not None and producing:
                self.producer = Producer(
                    executor, mempool, key, config.min_block_interval_ms, config.heartbeat_interval_ms, self.clock
                )
                self._producer_task = asyncio.create_task(self.producer.run(self._stop), name="producer")
            elif key is not None:
                log.warning("the validator key cannot certify blocks alone; not producing (multi-validator consensus)")
            services.ready = True
            log.info("node at height %d on chain %s", store.height, genesis.chain_id)
        except BaseException:
            if self._runner is not None:
                await self._runner.cleanup()
                self._runner = None
            store.close()
            raise
        return self.url

    def _mempool_changed(self) -> None:
        if self.producer is not None:
            self.producer.notify()

    async def stop(self) -> None:
        """Shut down in order; a block being written is finished first. Idempotent."""
        self._stop.set()
        services = self.services
        if services is not None:
            services.stopping.set()
        if self._producer_task is not None:
            await self._producer_task
            self._producer_task = None
        if services is not None:
            services.events.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if services is not None:
            services.store.close()
            log.info("node stopped at height %d", services.store.height)
