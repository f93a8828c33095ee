"""One nemesis run: a netns testnet under load, a seeded schedule of faults, then the checker.

``run_nemesis(directory, seed, faults, hold)`` writes a 4-validator netns testnet, funds
the workload's senders at genesis, runs the schedule (each fault held ``hold`` seconds,
then healed, then the chain must commit again), lets every node converge, reads back the
chains, the acknowledged transactions, supply and evidence from every node, and checks
them. On a violation (or any error) the history, the schedule and every node's log are
saved under ``<directory>/history`` and the failure names it and the seed to replay.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from checker import MAX_ROUNDS_AFTER_HEAL, Heal, History, check
from cluster import NetnsCluster
from nemesis import Nemesis, plan
from workload import Workload

from chain.accounts import balance_key, supply_key
from chain.encoding import decode
from chain.keys import PrivateKey
from node.client import NodeApiError, NodeClient, NodeUnreachable

VALIDATORS: Final = 4
SENDERS: Final = 4
SENDER_FUNDS: Final = 10**12
HEAL_DEADLINE: Final = 60.0
CONVERGE_DEADLINE: Final = 90.0
POLL: Final = 0.1


class NemesisFailure(AssertionError):
    """A property did not hold (or the run broke); the message names the saved history and the seed."""


async def _status(client: NodeClient) -> dict[str, Any] | None:
    try:
        return await client.status()
    except (NodeUnreachable, NodeApiError):
        return None


class Run:
    """The state of one run: cluster, clients, history, nemesis and workload."""

    def __init__(self, cluster: NetnsCluster, seed: int, senders: Sequence[PrivateKey], genesis_supply: int) -> None:
        self.cluster = cluster
        self.seed = seed
        self.rng = random.Random(seed)
        self.started = time.monotonic()
        self.history = History(seed, genesis_supply=genesis_supply)
        self.clients = {n: NodeClient(cluster.url(n), timeout=2.0) for n in cluster.names}
        self.nemesis = Nemesis(cluster, self.history, random.Random(self.rng.random()), self.started)
        self.senders = list(senders)
        recipients = [k.public_key for k in self.senders] + [cluster.wallet(w).public_key for w in ("merchant",)]
        self.workload = Workload(
            cluster.testnet.chain_id,
            self.senders,
            recipients,
            self.targets,
            self.history,
            random.Random(self.rng.random()),
            self.started,
        )

    def now(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self.started

    def targets(self) -> dict[str, str]:
        """The nodes the workload may ask now: running and not paused."""
        return {
            n: self.cluster.url(n)
            for n in self.cluster.names
            if self.cluster.running(n) and n not in self.cluster.paused
        }

    async def statuses(self) -> dict[str, dict[str, Any]]:
        """The status of every node that answers."""
        names = list(self.clients)
        found = await asyncio.gather(*(_status(self.clients[n]) for n in names))
        return {n: s for n, s in zip(names, found, strict=True) if s is not None}

    async def wait_all_at(self, height: int, deadline: float, names: Sequence[str] | None = None) -> bool:
        """Wait until every named node (all by default) has committed ``height``; False at the deadline."""
        end = time.monotonic() + deadline
        wanted = list(names or self.cluster.names)
        while time.monotonic() < end:
            statuses = await self.statuses()
            if all(n in statuses and statuses[n]["height"] >= height for n in wanted):
                return True
            await asyncio.sleep(POLL)
        return False

    async def position(self) -> tuple[int, int]:
        """(highest committed height, highest round of a node working on the next height)."""
        statuses = await self.statuses()
        height = max((s["height"] for s in statuses.values()), default=0)
        rounds = [s["round"] for s in statuses.values() if s["height"] == height]
        return height, max(rounds, default=0)

    async def commit_round(self, height: int) -> int | None:
        """The round in which block ``height`` was committed (from block height + 1's certificate)."""
        end = time.monotonic() + HEAL_DEADLINE
        while time.monotonic() < end:
            for client in self.clients.values():
                try:
                    block = await client.block(height + 1)
                except (NodeUnreachable, NodeApiError):
                    continue
                if block.get("last_commit") is not None:
                    return int(block["last_commit"]["round"])
            await asyncio.sleep(POLL)
        return None

    async def heights(self, names: Sequence[str]) -> dict[str, int]:
        """The committed height of each named node that answers."""
        statuses = await self.statuses()
        return {n: statuses[n]["height"] for n in names if n in statuses}

    async def healed(self, kind: str, before: tuple[int, int], cut_off_advanced: int = 0) -> None:
        """Record a heal: how soon, and in which round, the chain committed its next block on every node."""
        at = self.now()
        height, round_ = before
        ok = await self.wait_all_at(height + 1, HEAL_DEADLINE)
        seconds = self.now() - at if ok else None
        commit_round = await self.commit_round(height + 1) if ok else None
        self.history.heals.append(Heal(round(at, 3), kind, height, round_, commit_round, seconds, cut_off_advanced))
        self.history.event(self.now(), "committing", after=kind, height=height + 1, round=commit_round, seconds=seconds)

    async def step(self, step: dict[str, Any]) -> None:
        """Inject one fault, hold it, heal it, and watch the chain commit again."""
        fault, hold, nem = step["fault"], float(step["hold"]), self.nemesis
        detail: dict[str, Any] = {}
        if fault in ("halves", "isolate"):
            nem.groups(step["groups"])
        elif fault == "ring":
            nem.ring(step["ring"])
        elif fault == "delay":
            nem.impair_all(step["delay_ms"], step["jitter_ms"])
        elif fault == "loss":
            nem.impair_all(step["delay_ms"], 0, step["loss"])
        elif fault == "skew":
            nem.restart_with_skew(step["node"], step["skew_s"])
        elif fault == "kill":
            self.cluster.kill(step["node"], signal.SIGKILL)
        elif fault == "pause":
            self.cluster.send(step["node"], signal.SIGSTOP)
        elif fault == "wal":
            detail = nem.truncate_wal(step["node"])
        elif fault == "disk":
            detail = nem.mount_disk(step["node"])
            await self.wait_all_at((await self.position())[0], HEAL_DEADLINE, [step["node"]])
            detail.update(nem.fill_disk(step["node"]))
        cut_off = _cut_off(step)
        self.history.event(self.now(), "inject", **step, **detail)
        start = await self.heights(cut_off)
        await nem.sleep(hold)
        end = await self.heights(cut_off)
        advanced = max((end[n] - start[n] for n in cut_off if n in start and n in end), default=0)
        if fault == "disk":
            detail = await self.disk_observation(step["node"])
            self.history.event(self.now(), "observed", fault="disk", **detail)
        before = await self.position()
        if fault in ("halves", "isolate", "ring"):
            nem.heal_partition()
        elif fault in ("delay", "loss"):
            nem.impair_all()
        elif fault == "skew":
            nem.restart_with_skew(step["node"], None)
        elif fault in ("kill", "wal"):
            self.cluster.start(step["node"])
        elif fault == "pause":
            self.cluster.send(step["node"], signal.SIGCONT)
        elif fault == "disk":
            nem.free_disk()
            if self.cluster.exited(step["node"]) is not None:
                self.cluster.forget(step["node"])
                self.cluster.start(step["node"])
        self.history.event(self.now(), "heal", fault=fault)
        await self.healed(fault, before, advanced)
        if fault in ("kill", "wal", "skew", "pause", "disk"):  # the restarted node catches up
            caught = await self.wait_all_at((await self.position())[0], HEAL_DEADLINE, [step["node"]])
            self.history.event(self.now(), "caught_up" if caught else "not_caught_up", node=step["node"])
            if not caught:
                self.history.failures.append(f"{step['node']} did not catch up within {HEAL_DEADLINE:g} s of {fault}")
        if fault in ("disk", "wal"):  # its datadir is intact: the state recomputed from scratch matches
            await self.check_datadir(step["node"])

    async def check_datadir(self, name: str) -> None:
        """Stop node ``name``, run check-state on its datadir (a failure goes into the history), restart it."""
        self.cluster.kill(name, signal.SIGTERM)
        done = await asyncio.to_thread(check_state, self.cluster, name)
        self.history.event(self.now(), "check_state", node=name, code=done.returncode, out=done.stdout[-300:])
        if done.returncode != 0:
            self.history.failures.append(f"check-state of {name} failed ({done.returncode}): {done.stdout[-300:]}")
        self.cluster.start(name)

    async def disk_observation(self, name: str) -> dict[str, Any]:
        """What the node on the full disk did: still running or exited, and the lines it logged about it."""
        end = time.monotonic() + HEAL_DEADLINE  # a node that commits nothing more may not notice at once
        while time.monotonic() < end:
            if self.cluster.exited(name) is not None:
                break
            await asyncio.sleep(POLL)
        code = self.cluster.exited(name)
        text = self.cluster.log_tail(name, 400)
        lines = [
            line for line in text.splitlines() if "No space" in line or "ENOSPC" in line or "space" in line.lower()
        ]
        errors = [line for line in text.splitlines() if line.startswith(("error: ", "plyvel", "OSError", "Traceback"))]
        return {"node": name, "exit_code": code, "log_lines": lines[-5:], "error_lines": errors[-6:]}

    async def collect(self) -> None:
        """Read every node's chain, the acknowledged transactions, supply and evidence into the history."""
        statuses = await self.statuses()
        top = min((s["height"] for s in statuses.values()), default=0)
        acked = {a.tx_hash for a in self.history.acks}
        keys = [k.public_key for k in self.senders] + [
            self.cluster.wallet(w).public_key for w in ("merchant", "shopper")
        ]
        keys += [self.cluster.validator_key(v).public_key for v in self.cluster.validators]
        for name, client in self.clients.items():
            chain: dict[int, str] = {}
            evidence: list[int] = []
            for height in range(1, top + 1):
                block = await client.block(height)
                chain[height] = str(block["hash"])
                if block.get("evidence"):
                    evidence.append(height)
            self.history.chains[name] = chain
            self.history.evidence[name] = evidence
            committed: dict[str, int] = {}
            for tx_hash in acked:
                try:
                    record = await client.tx(tx_hash)
                except NodeApiError:
                    continue
                if record["status"] == "committed":
                    committed[tx_hash] = int(record["height"])
            self.history.committed[name] = committed
            supply = await self._state_int(client, supply_key("AGR"), top)
            balances = 0
            for key in keys:
                balances += await self._state_int(client, balance_key(key, "AGR"), top)
            self.history.supply[name] = {"height": top, "supply": supply, "balances": balances}

    @staticmethod
    async def _state_int(client: NodeClient, key: bytes, height: int) -> int:
        proof = await client.state_proof(key, height)
        value = proof.get("value")
        return 0 if value is None else int(decode(bytes.fromhex(value)))  # type: ignore[call-overload]


async def run_nemesis(directory: Path, seed: int, faults: Sequence[str], hold: float, max_skew_s: int = 90) -> History:
    """Run ``faults`` (in order) against a fresh netns testnet in ``directory``; NemesisFailure on a violation."""
    print(f"nemesis seed {seed}: faults {', '.join(faults)}", file=sys.stderr)
    rng = random.Random(seed)
    senders = [PrivateKey.generate() for _ in range(SENDERS)]
    extra = {k.public_key: SENDER_FUNDS for k in senders}
    cluster = NetnsCluster(directory / "net", VALIDATORS, seed=seed, extra_balances=extra)
    history: History | None = None
    try:
        run = Run(cluster, seed, senders, cluster.genesis_supply())
        history = run.history
        history.schedule = plan(random.Random(rng.random()), cluster.validators, faults, hold, max_skew_s)
        cluster.start()
        try:
            if not await run.wait_all_at(2, 90):
                raise NemesisFailure("the netns testnet did not start committing within 90 s")
            history.event(run.now(), "started")
            run.workload.start()
            for step in history.schedule:
                await run.step(step)
            top = (await run.position())[0]
            converged = await run.wait_all_at(top + 2, CONVERGE_DEADLINE)
            history.event(run.now(), "converged" if converged else "not_converged", height=top + 2)
            await run.workload.stop()
            await run.collect()
            history.figures = figures(run)
            problems = check(history)
            if not converged:
                problems.append(f"the nodes did not all reach height {top + 2} within {CONVERGE_DEADLINE:g} s")
        finally:
            await run.workload.stop()
            for client in run.clients.values():
                await client.close()
        if problems:
            raise NemesisFailure(_report(directory, cluster, history, problems))
        return history
    except NemesisFailure:
        raise
    except Exception as exc:  # not BaseException: an interrupt (Ctrl-C, cancellation) stops the run
        if history is not None:
            history.event(0.0, "error", error=repr(exc))
            raise NemesisFailure(_report(directory, cluster, history, [f"the run broke: {exc!r}"])) from exc
        raise
    finally:
        cluster.close()


def _cut_off(step: dict[str, Any]) -> list[str]:
    """The nodes a partition step leaves without a quorum (every node of a split in halves, the isolated one)."""
    if step["fault"] == "halves":
        return [n for group in step["groups"] for n in group]
    if step["fault"] == "isolate":
        return list(step["groups"][0])
    return []


def figures(run: Run) -> dict[str, Any]:
    """The measured figures of a run (for docs/RELIABILITY.md)."""
    heals = run.history.heals
    return {
        "seconds": round(run.now(), 1),
        "acknowledged_txs": run.workload.acked,
        "submissions": run.workload.sent,
        "refused": run.workload.refused,
        "unreachable": run.workload.unreachable,
        "heals": [
            {
                "fault": h.kind,
                "seconds_to_commit": None if h.seconds_to_commit is None else round(h.seconds_to_commit, 2),
                "rounds_after": None if h.commit_round is None else h.commit_round - h.round,
                "cut_off_advanced": h.cut_off_advanced,
            }
            for h in heals
        ],
        "max_rounds_allowed": MAX_ROUNDS_AFTER_HEAL,
        "height": max((len(c) for c in run.history.chains.values()), default=0),
    }


def history_dir(seed: int) -> Path:
    """Where a failed run's history goes: $AGORA_NEMESIS_HISTORY (default ./nemesis-history), per seed.

    Not under pytest's tmp_path: that is rotated away after a few runs."""
    base = Path(os.environ.get("AGORA_NEMESIS_HISTORY", "nemesis-history")).resolve()
    return base / f"seed-{seed}-{time.strftime('%Y%m%dT%H%M%S')}"


def _report(directory: Path, cluster: NetnsCluster, history: History, problems: list[str]) -> str:
    saved = history_dir(history.seed)
    history.figures.setdefault("problems", problems)
    path = history.save(saved)
    cluster.copy_logs(saved / "logs")
    lines = "\n  ".join(problems[:20])
    return (
        f"nemesis seed {history.seed} failed ({len(problems)} problem(s)):\n  {lines}\n"
        f"history, schedule and node logs saved in {path.parent}\n"
        f"replay: AGORA_NEMESIS_SEED={history.seed} .venv/bin/pytest tests/nemesis -k <the test> "
        f"(a soak run: run_nemesis(dir, {history.seed}, {[step['fault'] for step in history.schedule]}, hold))"
    )


def check_state(cluster: NetnsCluster, name: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m node.check_state`` on node ``name``'s (stopped) datadir."""
    return subprocess.run(
        [sys.executable, "-P", "-m", "node.check_state", "--datadir", str(cluster.node(name).datadir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
