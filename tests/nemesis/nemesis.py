"""The nemesis: faults injected into a NetnsCluster, each with its heal, all drawn from one seed.

- ``halves`` / ``isolate`` / ``ring``: ``ip route add blackhole <peer ip>/32`` inside each
  cut-off node's namespace (packets to it vanish, as on a cut cable; no netfilter needed);
  healed by deleting those routes.
- ``delay`` / ``loss``: every node's relay (proxy.py) holds traffic (delay + jitter) or charges
  a retransmission timeout per "lost" chunk (`tc netem` is not available on these kernels);
  healed by zero impairment.
- ``skew``: one validator restarted with libfaketime (LD_PRELOAD, ``FAKETIME=+-N`` seconds,
  monotonic time untouched); healed by restarting it without.
- ``kill`` / ``pause``: SIGKILL / SIGSTOP of a random node under load; restart / SIGCONT.
- ``wal``: SIGKILL a validator and truncate its consensus WAL at a random byte; restart it.
- ``disk``: a validator's datadir on a small tmpfs, then a file filling it; healed by deleting
  the file (and restarting the node if it stopped).

Every choice (which nodes, how long, how much) comes from ``random.Random(seed)``; the
schedule is recorded in the history before it runs, so a failing seed replays.
"""

from __future__ import annotations

import asyncio
import errno
import os
import random
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from checker import History
from cluster import NetnsCluster, faketime_library

PARTITIONS: Final = ("halves", "isolate", "ring")
FAULTS: Final = (*PARTITIONS, "delay", "loss", "skew", "kill", "pause", "wal", "disk")
DISK_SLACK_BYTES: Final = 24 * 1024 * 1024
"""The tmpfs of the disk fault is the datadir's size plus this much (LevelDB and the WAL need room)."""


def plan(
    rng: random.Random,
    cluster_validators: Sequence[str],
    faults: Sequence[str],
    hold: float,
    max_skew_s: int = 90,
) -> list[dict[str, Any]]:
    """The schedule: one step per fault name, its targets and parameters drawn from ``rng``
    (a clock skew of 15..``max_skew_s`` seconds, ahead or behind)."""
    steps = []
    for fault in faults:
        nodes = list(cluster_validators)
        rng.shuffle(nodes)
        step: dict[str, Any] = {"fault": fault, "hold": round(hold * rng.uniform(0.8, 1.2), 2)}
        if fault == "halves":
            half = len(nodes) // 2
            step["groups"] = [sorted(nodes[:half]), sorted(nodes[half:])]
        elif fault == "isolate":
            step["groups"] = [[nodes[0]], sorted(nodes[1:])]
        elif fault == "ring":
            step["ring"] = nodes
        elif fault == "delay":
            step.update(delay_ms=rng.randint(50, 250), jitter_ms=rng.randint(0, 50))
        elif fault == "loss":
            step.update(loss=round(rng.uniform(0.05, 0.25), 3), delay_ms=rng.randint(5, 20))
        elif fault == "skew":
            step.update(node=nodes[0], skew_s=rng.choice([-1, 1]) * rng.randint(15, max(15, max_skew_s)))
        elif fault in ("kill", "pause", "wal", "disk"):
            step["node"] = nodes[0]
        steps.append(step)
    return steps


class Nemesis:
    """Injects and heals faults on ``cluster``, recording every action in ``history``."""

    def __init__(self, cluster: NetnsCluster, history: History, rng: random.Random, started: float) -> None:
        self.cluster = cluster
        self.history = history
        self.rng = rng
        self.started = started
        self.routes: list[tuple[str, str]] = []
        """(node, peer ip) blackhole routes in place."""
        self.filler: Path | None = None

    def now(self) -> float:
        """Seconds since the start of the run."""
        return time.monotonic() - self.started

    # --- partitions ------------------------------------------------------------------------

    def partition(self, reachable: dict[str, set[str]]) -> None:
        """Cut every link between a node and the nodes not in ``reachable[node]`` (both ways)."""
        for name in self.cluster.names:
            allowed = reachable.get(name, set(self.cluster.names))
            for peer in self.cluster.names:
                if peer != name and peer not in allowed:
                    ip = self.cluster.ip(peer)
                    self.cluster.ip_in(name, "route", "add", "blackhole", f"{ip}/32")
                    self.routes.append((name, ip))

    def groups(self, groups: Sequence[Sequence[str]]) -> None:
        """Split the nodes into ``groups`` that cannot reach each other (nodes in no group see everyone
        in no group)."""
        reachable = {n: set(g) for g in groups for n in g}
        self.partition(reachable)

    def ring(self, order: Sequence[str]) -> None:
        """Each node reaches only its two neighbours in ``order`` (a ring)."""
        n = len(order)
        self.partition({order[i]: {order[(i - 1) % n], order[(i + 1) % n]} for i in range(n)})

    def heal_partition(self) -> None:
        """Delete every blackhole route added."""
        for name, ip in self.routes:
            self.cluster.ip_in(name, "route", "del", "blackhole", f"{ip}/32")
        self.routes.clear()

    # --- relays ----------------------------------------------------------------------------

    def impair_all(self, delay_ms: float = 0, jitter_ms: float = 0, loss: float = 0) -> None:
        """Set every node's relay to the given delay, jitter and loss."""
        for name in self.cluster.names:
            self.cluster.set_impairment(name, delay_ms, jitter_ms, loss)

    # --- processes -------------------------------------------------------------------------

    def restart_with_skew(self, name: str, skew_s: int | None) -> None:
        """Restart node ``name`` with its clock ``skew_s`` seconds off (None: the true clock)."""
        self.cluster.kill(name, signal.SIGTERM)
        if skew_s is None:
            self.cluster.node_env[name] = {}
        else:
            self.cluster.node_env[name] = {
                "LD_PRELOAD": str(faketime_library()),
                "FAKETIME": f"{skew_s:+d}",
                "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            }
        self.cluster.start(name)

    def truncate_wal(self, name: str) -> dict[str, int]:
        """SIGKILL ``name``, cut its consensus WAL at a random byte; returns the sizes (node stays stopped)."""
        self.cluster.kill(name, signal.SIGKILL)
        wal = self.cluster.node(name).datadir / "wal" / "consensus.wal"
        size = wal.stat().st_size if wal.exists() else 0
        cut = self.rng.randint(0, size) if size else 0
        if size:
            with wal.open("r+b") as f:
                f.truncate(cut)
        return {"size": size, "cut_at": cut}

    def fill_disk(self, name: str) -> dict[str, Any]:
        """Fill the tmpfs of node ``name``'s datadir (mounted by :meth:`mount_disk`) with one file."""
        datadir = self.cluster.node(name).datadir
        self.filler = datadir / "filler.bin"
        written = 0
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            for size in (1 << 20, 4096, 1):  # big chunks, then the last pages, until no byte is free
                chunk = b"\0" * size
                try:
                    while True:
                        written += os.write(fd, chunk)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
        finally:
            os.close(fd)
        return {"filler_bytes": written}

    def free_disk(self) -> None:
        """Delete the filler file."""
        if self.filler is not None:
            self.filler.unlink(missing_ok=True)
            self.filler = None

    def mount_disk(self, name: str) -> dict[str, int]:
        """Stop node ``name``, move its datadir onto a tmpfs a little larger than it, start it again
        (a datadir already on its tmpfs stays there: only its fill is repeated)."""
        datadir = self.cluster.node(name).datadir
        if datadir in self.cluster.mounts:
            return {"used_bytes": -1, "tmpfs_bytes": -1}
        self.cluster.kill(name, signal.SIGTERM)
        used = sum(p.stat().st_size for p in datadir.rglob("*") if p.is_file())
        size = used + DISK_SLACK_BYTES
        self.cluster.mount_tmpfs_datadir(name, size)
        self.cluster.start(name)
        return {"used_bytes": used, "tmpfs_bytes": size}

    async def sleep(self, seconds: float) -> None:
        """Hold a fault for ``seconds``."""
        await asyncio.sleep(seconds)
