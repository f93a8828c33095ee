"""Prometheus metrics of the p2p layer, registered in a registry the host passes in."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class P2PMetrics:
    """Counters and gauges for peers, traffic per channel, drops and bans (prefix ``agora_p2p_``)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.peers = Gauge("agora_p2p_peers", "Connected peers by direction", ["direction"], registry=registry)
        self.bytes_in = Counter("agora_p2p_received_bytes", "Payload bytes received", ["channel"], registry=registry)
        self.bytes_out = Counter("agora_p2p_sent_bytes", "Payload bytes sent", ["channel"], registry=registry)
        self.messages_in = Counter("agora_p2p_received_messages", "Messages received", ["channel"], registry=registry)
        self.messages_out = Counter("agora_p2p_sent_messages", "Messages sent", ["channel"], registry=registry)
        self.duplicates = Counter(
            "agora_p2p_duplicate_messages",
            "Gossip messages received again and not delivered",
            ["channel"],
            registry=registry,
        )
        self.dropped = Counter(
            "agora_p2p_dropped_messages", "Outbound messages dropped", ["channel", "reason"], registry=registry
        )
        self.requests_out = Counter("agora_p2p_sent_requests", "Message requests sent", registry=registry)
        self.rejected = Counter(
            "agora_p2p_rejected_requests", "Inbound requests refused", ["reason"], registry=registry
        )
        self.handshakes = Counter(
            "agora_p2p_handshakes", "Handshakes by direction and result", ["direction", "result"], registry=registry
        )
        self.bans = Counter("agora_p2p_bans", "Bans imposed", ["kind"], registry=registry)
        self.banned = Gauge("agora_p2p_banned", "Subjects banned right now", registry=registry)
        self.reactor_errors = Counter(
            "agora_p2p_reactor_errors", "Exceptions raised by reactors", ["channel"], registry=registry
        )
