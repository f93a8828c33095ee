"""The load a nemesis run keeps up: transfers among funded accounts, sent to random nodes.

Each sender signs its transfers in nonce order, a few at a time, and sends them to a node
drawn at random (seeded) among those running. A transaction counts as *acknowledged* only
when a node reports it committed (its height recorded as an :class:`checker.Ack`). Until
then the same signed bytes are sent again, to another node if need be, so a node killed
with the transaction in its mempool loses nothing and no two different transactions ever
share a nonce.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from typing import Final

from checker import Ack, History

from chain.keys import PrivateKey
from chain.transfer import Transfer
from chain.tx import Transaction, sign_transaction
from node.client import NodeApiError, NodeClient, NodeUnreachable

BATCH: Final = 3
"""Transfers in flight per sender."""
POLL: Final = 0.2
REQUEST_TIMEOUT: Final = 2.0


class Workload:
    """Senders that transfer among ``accounts`` until stopped; acknowledgements go into ``history``."""

    def __init__(
        self,
        chain_id: str,
        senders: Sequence[PrivateKey],
        recipients: Sequence[bytes],
        targets: Callable[[], dict[str, str]],
        history: History,
        rng: random.Random,
        started: float,
    ) -> None:
        self.chain_id = chain_id
        self.senders = list(senders)
        self.recipients = list(recipients)
        self.targets = targets
        """Name -> client API URL of the nodes that may be asked now (running, not paused)."""
        self.history = history
        self.rngs = [random.Random(rng.random()) for _ in self.senders]
        self.started = started
        self.sent = 0
        self.refused = 0
        self.unreachable = 0
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start one task per sender."""
        self._tasks = [asyncio.create_task(self._sender(i)) for i in range(len(self.senders))]

    async def stop(self) -> None:
        """Stop sending and wait for the senders to finish their current request."""
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def acked(self) -> int:
        """How many transfers were acknowledged as committed."""
        return len(self.history.acks)

    async def _sender(self, index: int) -> None:
        key, rng = self.senders[index], self.rngs[index]
        nonce = 0
        clients: dict[str, NodeClient] = {}
        try:
            while not self._stop.is_set():
                batch = [self._transfer(key, nonce + i, rng) for i in range(BATCH)]
                pending = {tx.hash.hex(): tx for tx in batch}
                while pending and not self._stop.is_set():
                    targets = self.targets()
                    if not targets:
                        await asyncio.sleep(POLL)
                        continue
                    name = rng.choice(sorted(targets))
                    client = clients.setdefault(name, NodeClient(targets[name], timeout=REQUEST_TIMEOUT))
                    await self._send_and_watch(client, name, pending)
                nonce += BATCH
        finally:
            for client in clients.values():
                await client.close()

    def _transfer(self, key: PrivateKey, nonce: int, rng: random.Random) -> Transaction:
        to = rng.choice([r for r in self.recipients if r != key.public_key])
        return sign_transaction(key, self.chain_id, nonce, 10, Transfer(to, rng.randint(1, 1_000)))

    async def _send_and_watch(self, client: NodeClient, name: str, pending: dict[str, Transaction]) -> None:
        """Send what is pending to one node, then watch it for a few seconds; acknowledge what it commits."""
        try:
            for tx in sorted(pending.values(), key=lambda t: t.nonce):
                try:
                    await client.submit_tx(tx.raw)
                    self.sent += 1
                except NodeApiError:
                    self.refused += 1  # duplicate, nonce already used, full: watching tells what happened
            deadline = time.monotonic() + 4.0
            while pending and time.monotonic() < deadline and not self._stop.is_set():
                for tx_hash in list(pending):
                    try:
                        record = await client.tx(tx_hash)
                    except NodeApiError:
                        continue
                    if record["status"] == "committed":
                        at = time.monotonic() - self.started
                        self.history.acks.append(Ack(tx_hash, int(record["height"]), name, at))
                        del pending[tx_hash]
                await asyncio.sleep(POLL)
        except (NodeUnreachable, TimeoutError):
            self.unreachable += 1
            await asyncio.sleep(POLL)
