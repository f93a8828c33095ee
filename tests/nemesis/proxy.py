"""A userspace TCP relay that delays traffic and emulates packet loss, in front of one node's p2p port.

Why userspace: `tc qdisc ... netem` needs the kernel's sch_netem module, which the machines
this runs on (and CI) do not have, nor any tc classifier to drop packets at random. So each
node's p2p port is fronted by this relay, started inside the node's network namespace: peers
dial ``<node ip>:RELAY_PORT`` (the URL the node announces), the relay forwards to the node's
real p2p port, and every byte still crosses the veth links (partitions by route still cut it).

What it can and cannot do, plainly:
- **delay**: every chunk read in either direction is held ``delay_ms`` (+ uniform jitter up to
  ``jitter_ms``) before it is written on; order within a connection is kept.
- **loss**: TCP never loses bytes, so a relay cannot drop a packet. It emulates what a lost
  segment costs a TCP stream: with probability ``loss`` a chunk (and, to keep order, all behind
  it) waits one retransmission timeout more (``rto_ms``, 200 ms = Linux's minimum RTO, doubled
  for each further loss in a row). It does not emulate loss of SYNs or congestion-window effects.

Control: a JSON file ``{"delay_ms": 0, "jitter_ms": 0, "loss": 0.0, "rto_ms": 200}`` re-read
whenever it changes (polled every 50 ms). Seeded: ``--seed`` fixes the jitter and loss draws
of each connection in accept order.

Run: ``python proxy.py --listen IP:PORT --target IP:PORT --control FILE --seed N``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import signal
import time
from dataclasses import dataclass
from pathlib import Path

CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Impairment:
    """How the relay treats traffic now."""

    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    loss: float = 0.0
    rto_ms: float = 200.0

    @staticmethod
    def parse(text: str) -> Impairment:
        """Parse the control file; ValueError if a value is missing its bounds."""
        data = json.loads(text or "{}")
        value = Impairment(
            float(data.get("delay_ms", 0)),
            float(data.get("jitter_ms", 0)),
            float(data.get("loss", 0)),
            float(data.get("rto_ms", 200)),
        )
        if not (0 <= value.delay_ms <= 60_000 and 0 <= value.jitter_ms <= 60_000 and 0 <= value.loss < 1):
            raise ValueError(f"impairment out of bounds: {data}")
        return value


class Control:
    """The current impairment, re-read from a file when it changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.current = Impairment()
        self._mtime = -1.0

    def refresh(self) -> None:
        """Re-read the file if it changed (a malformed file keeps the previous value)."""
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            self.current, self._mtime = Impairment(), -1.0
            return
        if mtime != self._mtime:
            self._mtime = mtime
            with contextlib.suppress(ValueError, OSError):
                self.current = Impairment.parse(self.path.read_text())


async def _pump(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, control: Control, rng: random.Random
) -> None:
    """Copy reader to writer, holding each chunk as the impairment says; order is kept."""
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
    release_at = 0.0

    async def deliver() -> None:
        while True:
            due, data = await queue.get()
            if not data:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()

    sender = asyncio.create_task(deliver())
    try:
        while True:
            data = await reader.read(CHUNK)
            imp = control.current
            hold = imp.delay_ms + (rng.uniform(0, imp.jitter_ms) if imp.jitter_ms else 0.0)
            rto = imp.rto_ms
            while imp.loss and rng.random() < imp.loss:
                hold += rto
                rto *= 2
            release_at = max(release_at, time.monotonic() + hold / 1000)
            await queue.put((release_at, data))
            if not data or sender.done():
                break
        await sender
    except (ConnectionError, OSError):
        pass
    finally:
        sender.cancel()
        with contextlib.suppress(Exception):
            writer.close()


async def serve(listen: tuple[str, int], target: tuple[str, int], control: Control, seed: int) -> None:
    """Relay every connection to ``listen`` on to ``target`` until SIGTERM."""
    counter = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal counter
        counter += 1
        rng = random.Random(f"{seed}/{counter}")
        try:
            up_reader, up_writer = await asyncio.open_connection(*target)
        except OSError:
            writer.close()
            return
        await asyncio.gather(
            _pump(reader, up_writer, control, random.Random(rng.random())),
            _pump(up_reader, writer, control, random.Random(rng.random())),
            return_exceptions=True,
        )

    server = await asyncio.start_server(handle, *listen, reuse_address=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with server:
        while not stop.is_set():
            control.refresh()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.05)


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def main() -> None:
    """Parse the command line and relay until SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True, type=_address)
    parser.add_argument("--target", required=True, type=_address)
    parser.add_argument("--control", required=True, type=Path)
    parser.add_argument("--seed", required=True, type=int)
    args = parser.parse_args()
    asyncio.run(serve(args.listen, args.target, Control(args.control), args.seed))


if __name__ == "__main__":
    main()
