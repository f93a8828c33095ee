"""The consensus reactor: carries proposals, votes and evidence between the driver and p2p.

Decoding and signature-free shape checks happen here, at the edge; anything undecodable
penalises the sender. The driver decides what a well-formed message means.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Final

from chain.encoding import DecodeError, decode, encode
from chain.votes import DuplicateVoteEvidence
from consensus.messages import Message, decode_message, encode_message
from node.consensus_driver import ConsensusDriver
from p2p import ChannelSpec, Network, PeerInfo, Severity

log = logging.getLogger("agora.consensus.reactor")
CONSENSUS_CHANNEL: Final = "consensus"
EVIDENCE_CHANNEL: Final = "consensus.evidence"
MAX_CONSENSUS_MESSAGE: Final = 9 * 1024 * 1024
"""A proposal carries its block: room for the default max_block_bytes (8 MiB) plus framing."""


class ConsensusReactor:
    """Implements p2p's Reactor for consensus traffic and the driver's ConsensusNetwork."""

    def __init__(self, network: Network) -> None:
        self.network = network
        self.driver: ConsensusDriver | None = None
        """Set once the driver exists (it needs this reactor as its network)."""

    @property
    def channels(self) -> Sequence[ChannelSpec]:
        """Proposals and votes (no dedup: lagging peers get re-sent what they missed) and evidence."""
        return (
            ChannelSpec(CONSENSUS_CHANNEL, priority=3, max_message_bytes=MAX_CONSENSUS_MESSAGE, dedup=False),
            ChannelSpec(EVIDENCE_CHANNEL, priority=2, max_message_bytes=4096, queue_capacity=256),
        )

    async def receive(self, peer_id: bytes, channel: str, payload: bytes) -> None:
        """Decode and hand to the driver; undecodable input scores the peer down."""
        driver = self.driver
        if driver is None:
            return
        try:
            if channel == CONSENSUS_CHANNEL:
                driver.deliver(peer_id, decode_message(payload))
            else:
                evidence = DuplicateVoteEvidence.from_wire(decode(payload, 4096))
                driver.add_evidence_from_peer(peer_id, evidence)
        except (DecodeError, ValueError) as exc:
            self.network.report(peer_id, Severity.MAJOR, f"bad {channel} message: {exc}")

    def peer_connected(self, peer: PeerInfo) -> None:
        """A new peer gets what we hold at the current height, so it can join the round."""
        if self.driver is not None:
            for message in self.driver.engine.gossip_messages():
                self.network.send(peer.node_id, CONSENSUS_CHANNEL, encode_message(message))

    def peer_disconnected(self, peer_id: bytes) -> None:
        """Nothing to clean up: consensus keeps no per-peer state."""

    # --- ConsensusNetwork ----------------------------------------------------------------

    def broadcast_message(self, message: Message) -> None:
        """Send a signed proposal or vote to every peer."""
        self.network.broadcast(CONSENSUS_CHANNEL, encode_message(message))

    def broadcast_evidence(self, evidence: DuplicateVoteEvidence) -> None:
        """Gossip double-vote evidence."""
        self.network.broadcast(EVIDENCE_CHANNEL, encode(evidence.to_wire()))

    def report(self, peer_id: bytes, reason: str) -> None:
        """The engine rejected what this peer sent (bad signature, not a validator, ...)."""
        log.info("peer %s sent an invalid consensus message: %s", peer_id.hex()[:16], reason)
        self.network.report(peer_id, Severity.MAJOR, reason)
