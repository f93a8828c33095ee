"""The running node: wires store, mempool, executor, consensus, p2p and client API together.

Start order: store, indexes, mempool, executor, client API, consensus engine and driver,
then (if the node talks to peers) the p2p switch with its reactors and server. Stop order
(graceful shutdown): the consensus driver finishes the block it is committing, the p2p
side stops, event streams end, the client API stops, and the store closes last.

Every node runs the same consensus engine. A validator signs through a WAL-backed signer;
a follower (no validator key, or a key outside the set) runs the engine without one and
commits a block once it sees 2/3+ precommits for it, or takes it from block sync.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Sequence
from typing import Any, Final

from aiohttp import web

from chain.address import encode_address
from chain.execution import read_params, read_validators
from chain.keys import PrivateKey
from chain.transfer import CORE_KINDS
from chain.tx import KindRegistry
from chain.validator_update import VALIDATOR_KINDS
from consensus.engine import Engine, TimeoutConfig
from consensus.evidence import EvidencePool
from consensus.signer import WalSigner
from consensus.wal import Wal
from market import MARKET_KINDS
from node import sigverify
from node.account_index import AccountIndex
from node.admission import AdmissionGate
from node.api import NodeServices, build_app
from node.api_common import problem_response
from node.block_budget import BlockBudget
from node.blocksync import BlockSync
from node.clock import Clock, wall_clock_ms
from node.config import NodeConfig
from node.consensus_driver import ConsensusDriver
from node.consensus_reactor import ConsensusReactor
from node.datadir import KEYS_DIR, WAL_DIR, Datadir, DatadirError
from node.events import EventBus
from node.executor import BlockExecutor, Indexers
from node.extensions import ApiExtension
from node.market_index import MarketIndex
from node.mempool import Mempool
from node.mempool_reactor import MempoolReactor
from node.memstats import MemoryCollector
from node.metrics import NodeMetrics
from node.nodekey import NODE_KEY_FILE, NodeKeyError, load_or_create_node_key
from p2p import P2PConfig, P2PServer, Switch, serve_p2p
from p2p.edge import BodyBudget, ConnectionCap, body_limits_middleware, start_site
from storage.store import ChainStore, DbOptions, StoreError

log = logging.getLogger("agora.node")
DEFAULT_REGISTRY: Final = CORE_KINDS.merged(VALIDATOR_KINDS).merged(MARKET_KINDS)
"""What a node runs: native transfers, validator-set changes and the marketplace."""
WAL_FILE: Final = "consensus.wal"
P2P_MAX_REQUEST_BYTES: Final = 12 * 1024 * 1024


def db_options_of(config: NodeConfig) -> DbOptions:
    """The LevelDB options ``config`` asks for (validated by NodeConfig's ranges)."""
    return DbOptions(config.leveldb_max_open_files, config.leveldb_block_cache_bytes, config.leveldb_compression)


def timeouts_of(config: NodeConfig) -> TimeoutConfig:
    """The consensus timers of a node configuration (heartbeat = the idle proposer's wait)."""
    return TimeoutConfig(
        propose_ms=config.timeout_propose_ms,
        propose_delta_ms=config.timeout_delta_ms,
        prevote_ms=config.timeout_vote_ms,
        prevote_delta_ms=config.timeout_delta_ms,
        precommit_ms=config.timeout_vote_ms,
        precommit_delta_ms=config.timeout_delta_ms,
        idle_ms=config.heartbeat_interval_ms,
    )


PRUNE_INTERVAL_SECONDS: Final = 2.0


async def prune_state(store: ChainStore, keep: int, stop: asyncio.Event) -> None:
    """Prune state-tree versions older than the last ``keep`` heights, in small steps, until ``stop``.

    Each step is one atomic batch in a worker thread, so a crash at any moment leaves a
    consistent store and the consensus loop is never held up for long.
    """
    while not stop.is_set():
        try:
            oldest = store.oldest_state_height
            if await asyncio.to_thread(store.prune, keep) > oldest:
                continue  # more to do: go on without waiting
        except StoreError as exc:
            log.warning("state pruning failed: %s", exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PRUNE_INTERVAL_SECONDS)


class Node:
    """One node over a datadir. ``await start()``, then ``await stop()``."""

    def __init__(
        self,
        datadir: Datadir,
        validator_key: PrivateKey | None,
        registry: KindRegistry = DEFAULT_REGISTRY,
        clock: Clock = wall_clock_ms,
        api_extensions: Sequence[ApiExtension] = (),
    ) -> None:
        self.datadir = datadir
        self.validator_key = validator_key
        self.registry = registry
        self.clock = clock
        """Block times of the blocks this node proposes (tests inject a clock they advance)."""
        self.api_extensions = tuple(api_extensions)
        """Mounted on the client API's app (web/'s pages, given by the process entry point)."""
        self.services: NodeServices | None = None
        self.driver: ConsensusDriver | None = None
        self.switch: Switch | None = None
        self.blocksync: BlockSync | None = None
        self._p2p_server: P2PServer | None = None
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._wal: Wal | None = None
        self._stop = asyncio.Event()
        self.failed = asyncio.Event()
        """Set when one of the node's tasks died of an error (a full disk, ...): the node must stop."""
        self.failure: str | None = None
        """What failed, in one line (set with ``failed``)."""
        self.url = ""
        self.p2p_url = ""
        self.api_connections: ConnectionCap | None = None
        """The cap on client API connections (None before start)."""
        self.api_bodies: BodyBudget | None = None
        """The budget of client API request bodies in flight (None before start)."""

    async def start(self) -> str:
        """Open the store, start the API, consensus and p2p. Returns the API base URL.

        Raises DatadirError for a store of another chain, a corrupt one, or an unusable key.
        """
        config = self.datadir.config
        genesis = self.datadir.genesis
        try:
            store = await asyncio.to_thread(
                ChainStore.open, self.datadir.db_path, genesis, self.registry, db_options=db_options_of(config)
            )
        except StoreError as exc:
            raise DatadirError(f"{self.datadir.db_path}: {exc}") from None
        try:
            market = MarketIndex(store)
            if await asyncio.to_thread(market.ensure):
                log.info("market indexes rebuilt at height %d", store.height)
            accounts = AccountIndex(store)
            if await asyncio.to_thread(accounts.ensure):
                log.info("account history index rebuilt at height %d", store.height)
            sigverify.configure(None if config.verify_workers < 0 else config.verify_workers)
            metrics = NodeMetrics()
            metrics.registry.register(MemoryCollector(store))
            events = EventBus()
            mempool = Mempool(
                store.state,
                genesis.chain_id,
                read_params(store.state),
                config.mempool_max_txs,
                config.mempool_max_bytes,
                config.mempool_max_nonce_gap,
                on_change=self._mempool_changed,
                expiry_blocks=config.mempool_expiry_blocks,
                expiry_seconds=config.mempool_expiry_seconds,
                height=store.height,
            )
            executor = BlockExecutor(store, self.registry, mempool, events, metrics, Indexers(market, accounts))
            budget = BlockBudget(mempool.params.max_block_txs, target_seconds=config.block_budget_ms / 1000)
            key = self.validator_key
            validators = read_validators(store.state)
            is_validator = key is not None and key.public_key in validators
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
                is_validator,
                node_id=node_id,
                market=market,
                admission=AdmissionGate(mempool, budget, queue_blocks=config.admission_queue_blocks),
                digital_link_base=config.digital_link_base,
                accounts=accounts,
            )
            self.services = services
            self.api_connections = ConnectionCap(
                config.api_max_connections,
                per_host=min(config.api_max_connections_per_host, config.api_max_connections),
            )
            self.api_bodies = BodyBudget(config.api_body_budget_bytes)
            edge = [
                self.api_connections.middleware(problem_response),
                body_limits_middleware(self.api_bodies, config.body_read_timeout_ms / 1000, problem_response),
            ]
            app = build_app(services, config.api_max_body_bytes, self.api_extensions)
            app.middlewares.extend(edge)  # inside the problem middleware, so refusals are problem+json
            self._runner = web.AppRunner(
                app,
                access_log=None,
                shutdown_timeout=5.0,
                auto_decompress=False,
                keepalive_timeout=config.idle_timeout_ms / 1000,
            )
            await self._runner.setup()
            await start_site(self._runner, config.api_host, config.api_port, self.api_connections)
            host, port = self._runner.addresses[0][:2]
            self.url = f"http://{host}:{port}" if ":" not in host else f"http://[{host}]:{port}"

            signer = None
            if key is not None:
                self._wal = await asyncio.to_thread(Wal.open_file, self.datadir.path / WAL_DIR / WAL_FILE)
                signer = WalSigner(key, genesis.chain_id, self._wal)
                if not is_validator:
                    log.warning("the validator key is not in the validator set: following the chain")
            engine = Engine(genesis.chain_id, signer, timeouts_of(config))
            driver = ConsensusDriver(
                engine,
                executor,
                mempool,
                EvidencePool(genesis.chain_id),
                self._wal,
                key.public_key if key is not None else b"",
                config.min_block_interval_ms,
                self.clock,
                metrics=metrics,
                budget=budget,
            )
            self.driver = driver
            services.consensus = driver
            if config.p2p_enabled:
                await self._start_p2p(config, store, mempool, driver, metrics)
                services.switch = self.switch
                services.blocksync = self.blocksync
            self._spawn(driver.run(self._stop), "consensus")
            if config.state_versions_kept:
                self._spawn(prune_state(store, config.state_versions_kept, self._stop), "state-pruner")
            services.ready = True
            log.info("node at height %d on chain %s", store.height, genesis.chain_id)
        except BaseException:
            await self._cleanup_partial(store)
            raise
        return self.url

    async def _start_p2p(
        self,
        config: NodeConfig,
        store: ChainStore,
        mempool: Mempool,
        driver: ConsensusDriver,
        metrics: NodeMetrics,
    ) -> None:
        genesis = self.datadir.genesis
        try:
            node_key = await asyncio.to_thread(load_or_create_node_key, self.datadir.path / KEYS_DIR / NODE_KEY_FILE)
        except NodeKeyError as exc:
            raise DatadirError(str(exc)) from None
        p2p_config = P2PConfig(
            seeds=config.seed_urls,
            max_request_bytes=P2P_MAX_REQUEST_BYTES,
            reserved_peers=config.reserved_peer_ids,
            max_connections=config.p2p_max_connections,
            max_connections_per_host=min(config.p2p_max_connections_per_host, config.p2p_max_connections),
            reserved_connections=config.p2p_reserved_connections,
            body_budget_bytes=config.p2p_body_budget_bytes,
            body_read_timeout=config.body_read_timeout_ms / 1000,
            idle_timeout=config.idle_timeout_ms / 1000,
        )
        switch = Switch(
            node_key,
            genesis.chain_id,
            genesis.hash,
            p2p_config,
            registry=metrics.registry,
            height=lambda: store.height,
        )
        consensus = ConsensusReactor(switch)
        consensus.driver = driver
        driver.network = consensus
        mempool_reactor = MempoolReactor(switch, mempool, self.registry)
        blocksync = BlockSync(switch, store, driver, self.registry)
        for reactor in (consensus, mempool_reactor, blocksync):
            switch.add_reactor(reactor)
        host, port = config.p2p_address
        self._p2p_server = await serve_p2p(switch, host, port)
        self.p2p_url = config.p2p_external_url or self._p2p_server.url
        await switch.start(self.p2p_url)
        self.switch = switch
        self.blocksync = blocksync
        self._announce_commits(blocksync)
        self._spawn(mempool_reactor.run(self._stop), "mempool-gossip")
        self._spawn(blocksync.run(self._stop), "blocksync")
        log.info("p2p listening on %s as %s", self.p2p_url, node_key.public_key.hex()[:16])

    def _announce_commits(self, blocksync: BlockSync) -> None:
        """Announce our height to peers after every commit (they may be waiting on it)."""
        services = self.services
        if services is not None:
            services.executor.on_committed = lambda committed: blocksync.announce()

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(self._task_done)
        self._tasks.append(task)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        """A task that dies of an error while the node runs (e.g. a write refused by a full disk)
        leaves a node that answers but no longer commits: record it, so the daemon stops loudly."""
        if task.cancelled() or task.exception() is None or self._stop.is_set():
            return
        exc = task.exception()
        self.failure = f"{task.get_name()} failed: {type(exc).__name__}: {exc}"
        log.critical("%s; the node stops", self.failure, exc_info=exc)
        self.failed.set()

    def _mempool_changed(self) -> None:
        if self.driver is not None:
            self.driver.notify_txs()

    async def _cleanup_partial(self, store: ChainStore) -> None:
        self._stop.set()
        await self._stop_tasks()
        await self._stop_p2p()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        store.close()

    async def _stop_tasks(self) -> None:
        for task in self._tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                continue  # died of an error, already reported by _task_done
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _stop_p2p(self) -> None:
        if self.switch is not None:
            await self.switch.stop()
            self.switch = None
        if self._p2p_server is not None:
            await self._p2p_server.close()
            self._p2p_server = None

    async def stop(self) -> None:
        """Shut down in order; a block being committed is finished first. Idempotent."""
        self._stop.set()
        services = self.services
        if services is not None:
            services.stopping.set()
        await self._stop_tasks()
        await self._stop_p2p()
        if services is not None:
            services.events.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if services is not None:
            services.store.close()
            log.info("node stopped at height %d", services.store.height)
        self.services = None
