"""Peer exchange: a built-in reactor on the ``p2p.pex`` channel.

On every new outbound peer, and every ``pex_interval``, we ask for addresses; a peer answers
with up to ``pex_max_addresses`` of its connected peers (node id + listen URL). Answers we did
not ask for, and undecodable messages, are reported as misbehaviour.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Protocol

from chain.encoding import DecodeError
from p2p.reactor import ChannelSpec, PeerInfo
from p2p.scoring import Severity
from p2p.wire import MAX_PEX_BYTES, PEX_CHANNEL, PexAddress, PexRequest, PexResponse, decode_pex, encode_pex


class PexHost(Protocol):
    """What the PEX reactor needs from the switch."""

    def send(self, peer_id: bytes, channel: str, payload: bytes) -> bool:
        """Queue a message to one peer."""
        ...

    def report(self, peer_id: bytes, severity: int, reason: str) -> None:
        """Penalise a peer."""
        ...

    def peers(self) -> list[PeerInfo]:
        """Snapshot of the current peers."""
        ...

    def learn_address(self, node_id: bytes, url: str) -> None:
        """Add an address to the address book (the host ignores self and banned ids)."""
        ...


class PexReactor:
    """Answers and asks for peer addresses."""

    def __init__(self, host: PexHost, max_addresses: int, rng: random.Random) -> None:
        self._host = host
        self._max = max_addresses
        self._rng = rng
        self._pending: set[bytes] = set()

    @property
    def channels(self) -> Sequence[ChannelSpec]:
        """The one PEX channel (not deduplicated: requests repeat)."""
        return (ChannelSpec(PEX_CHANNEL, priority=5, max_message_bytes=MAX_PEX_BYTES, queue_capacity=8, dedup=False),)

    def request(self, peer_id: bytes) -> None:
        """Ask ``peer_id`` for addresses."""
        if self._host.send(peer_id, PEX_CHANNEL, encode_pex(PexRequest())):
            self._pending.add(peer_id)

    def request_all(self) -> None:
        """Ask every sendable peer for addresses (called every ``pex_interval``)."""
        for peer in self._host.peers():
            if peer.outbound:
                self.request(peer.node_id)

    async def receive(self, peer_id: bytes, channel: str, payload: bytes) -> None:
        """Answer a request, or learn the addresses of a response we asked for."""
        try:
            message = decode_pex(payload)
        except DecodeError as exc:
            self._host.report(peer_id, Severity.MAJOR, f"malformed pex message: {exc}")
            return
        if isinstance(message, PexRequest):
            known = [PexAddress(p.node_id, p.url) for p in self._host.peers() if p.outbound and p.node_id != peer_id]
            chosen = self._rng.sample(known, min(self._max, len(known)))
            self._host.send(peer_id, PEX_CHANNEL, encode_pex(PexResponse(tuple(chosen))))
            return
        if peer_id not in self._pending:
            self._host.report(peer_id, Severity.MINOR, "unsolicited pex response")
            return
        self._pending.discard(peer_id)
        for address in message.addresses:
            self._host.learn_address(address.node_id, address.url)

    def peer_connected(self, peer: PeerInfo) -> None:
        """Ask a new peer for addresses at once."""
        self.request(peer.node_id)

    def peer_disconnected(self, peer_id: bytes) -> None:
        """Forget an outstanding request."""
        self._pending.discard(peer_id)
