"""Prometheus metrics of one node, in a registry of its own (several nodes may share a process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class NodeMetrics:
    """The node's metrics; :meth:`render` gives the Prometheus text format."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.height = Gauge("agora_height", "Height of the last committed block", registry=self.registry)
        self.mempool_size = Gauge("agora_mempool_size", "Transactions waiting in the mempool", registry=self.registry)
        self.mempool_bytes = Gauge(
            "agora_mempool_bytes", "Bytes of transactions in the mempool", registry=self.registry
        )
        self.block_interval = Histogram(
            "agora_block_interval_seconds",
            "Time between consecutive committed blocks",
            buckets=(0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0),
            registry=self.registry,
        )
        self.block_txs = Histogram(
            "agora_block_txs",
            "Transactions per committed block",
            buckets=(0, 1, 10, 100, 500, 1000, 2000, 5000, 10000),
            registry=self.registry,
        )
        self.txs_committed = Counter("agora_txs_committed", "Transactions committed in blocks", registry=self.registry)
        self.txs_admitted = Counter(
            "agora_txs_admitted", "Transactions admitted to the mempool", registry=self.registry
        )
        self.txs_rejected = Counter(
            "agora_txs_rejected", "Transactions refused on admission", ["reason"], registry=self.registry
        )
        self.api_requests = Counter(
            "agora_api_requests", "Client API requests", ["method", "route", "status"], registry=self.registry
        )

        self.consensus_round = Gauge(
            "agora_consensus_round", "Round of the height being decided (0 in the happy path)", registry=self.registry
        )
        self.consensus_messages = Counter(
            "agora_consensus_messages",
            "Proposals and votes received from peers, by kind and verdict",
            ["kind", "verdict"],
            registry=self.registry,
        )
        self.consensus_decide_rounds = Histogram(
            "agora_consensus_decide_round",
            "Round at which each height was decided",
            buckets=(0, 1, 2, 3, 5, 10),
            registry=self.registry,
        )

    def render(self) -> bytes:
        """The current values in the Prometheus text exposition format."""
        return generate_latest(self.registry)
