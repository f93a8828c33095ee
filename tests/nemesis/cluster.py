"""A `--hosts netns` testnet under test control: node processes, their relays, and cleanup.

``NetnsCluster`` writes a netns testnet (node/netns.py), creates its namespaces and bridge,
and starts each node inside its namespace together with a relay (proxy.py) that fronts the
node's p2p port: peers dial ``<ip>:RELAY_PORT``, which the node announces as its p2p URL
(``AGORA_P2P_EXTERNAL_URL``, ``AGORA_SEEDS``), so delay and loss can be set per node. Used as
a context manager, it always kills what it started, unmounts what it mounted and removes the
namespaces and bridge, even when the test fails.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Final

from chain.keys import PrivateKey
from node.keystore import load_key
from node.netns import P2P_PORT, exec_prefix, netns_down, netns_up, require_netns
from node.testnet import Testnet, TestnetNode, init_testnet

RELAY_PORT: Final = 26666
PROXY: Final = Path(__file__).resolve().parent / "proxy.py"
FAKETIME_GLOBS: Final = ("lib/*/faketime/libfaketimeMT.so.1", "lib/faketime/libfaketimeMT.so.1")
"""Where Debian's faketime package puts the multi-threaded libfaketime (under /usr)."""
NODE_CONFIG: Final[Mapping[str, object]] = {
    "timeout_propose_ms": 1000,
    "timeout_vote_ms": 500,
    "timeout_delta_ms": 250,
}
"""Consensus timeouts of the nemesis testnets: short, so that rounds (and the tests) are quick."""


def faketime_library() -> Path:
    """The libfaketime shared object (multi-threaded build); AssertionError naming the fix if absent."""
    for pattern in FAKETIME_GLOBS:
        for path in sorted(Path("/usr").glob(pattern)):
            return path
    raise AssertionError("libfaketime is not installed: run `make setup` as root (it installs Debian's faketime)")


class NetnsCluster:
    """A netns testnet, its node and relay processes, and whatever faults mounted."""

    def __init__(
        self,
        path: Path,
        validators: int,
        followers: int = 0,
        seed: int = 0,
        extra_balances: Mapping[bytes, int] | None = None,
    ) -> None:
        require_netns()
        self.testnet: Testnet = init_testnet(
            path,
            validators,
            followers,
            chain_id=f"nemesis-{seed}",
            min_block_interval_ms=50,
            heartbeat_interval_ms=300,
            extra_balances=extra_balances,
            node_config=NODE_CONFIG,
            hosts="netns",
        )
        assert self.testnet.netns is not None
        self.layout = self.testnet.netns
        self.seed = seed
        self.password = self.testnet.password_file.read_text().strip()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.relays: dict[str, subprocess.Popen[bytes]] = {}
        self.node_env: dict[str, dict[str, str]] = {n: {} for n in self.names}
        """Extra environment per node (e.g. libfaketime), applied at its next start."""
        self.mounts: list[Path] = []
        self.paused: set[str] = set()
        try:
            netns_up(self.layout)
        except BaseException:
            netns_down(self.layout)
            raise

    def __enter__(self) -> NetnsCluster:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- naming ----------------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        """Every node name."""
        return [n.name for n in self.testnet.nodes]

    @property
    def validators(self) -> list[str]:
        """The validators' names."""
        return [n.name for n in self.testnet.nodes if n.role == "validator"]

    def node(self, name: str) -> TestnetNode:
        """Node ``name`` of the layout."""
        return self.testnet.node(name)

    def ip(self, name: str) -> str:
        """Node ``name``'s address on the bridge."""
        return self.layout.host(str(self.node(name).netns)).ip

    def url(self, name: str) -> str:
        """Node ``name``'s client API URL (reached from the host over the bridge)."""
        return self.node(name).api_url

    def relay_url(self, name: str) -> str:
        """The p2p URL peers use for node ``name`` (its relay)."""
        return f"http://{self.ip(name)}:{RELAY_PORT}"

    def out_path(self, name: str) -> Path:
        """Where node ``name``'s stdout and stderr go: outside its datadir, so a full datadir disk
        does not swallow the node's last words."""
        directory = self.testnet.path / "out"
        directory.mkdir(exist_ok=True)
        return directory / f"{name}.out"

    def control_file(self, name: str) -> Path:
        """The relay's control file of node ``name``."""
        return self.node(name).datadir.parent / f"{name}.relay.json"

    # --- processes -------------------------------------------------------------------------

    def start(self, *names: str) -> None:
        """Start the named nodes (all if none named), each with its relay, inside its namespace."""
        for name in names or self.names:
            node = self.node(name)
            if name not in self.relays or self.relays[name].poll() is not None:
                self._start_relay(name)
            seeds = ",".join(self.relay_url(v) for v in self.validators if v != name)
            env = dict(os.environ, AGORA_PASSWORD=self.password)
            env.update(AGORA_P2P_EXTERNAL_URL=self.relay_url(name), AGORA_SEEDS=seeds)
            env.update(self.node_env[name])
            with self.out_path(name).open("ab") as out:
                self.procs[name] = subprocess.Popen(
                    [*exec_prefix(str(node.netns)), sys.executable, "-P", "-m", "node", "--datadir", str(node.datadir)],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )

    def _start_relay(self, name: str) -> None:
        node, ip = self.node(name), self.ip(name)
        args = ["--listen", f"{ip}:{RELAY_PORT}", "--target", f"{ip}:{P2P_PORT}"]
        args += ["--control", str(self.control_file(name)), "--seed", str(self.seed * 1000 + self.names.index(name))]
        with (node.datadir.parent / f"{name}.relay.out").open("ab") as out:
            self.relays[name] = subprocess.Popen(
                [*exec_prefix(str(node.netns)), sys.executable, "-P", str(PROXY), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def pid(self, name: str) -> int:
        """The pid of node ``name``'s process (it must be running)."""
        return self.procs[name].pid

    def running(self, name: str) -> bool:
        """True while node ``name``'s process is alive."""
        proc = self.procs.get(name)
        return proc is not None and proc.poll() is None

    def send(self, name: str, sig: int) -> None:
        """Send ``sig`` to node ``name`` (SIGSTOP/SIGCONT pause and resume it)."""
        self.procs[name].send_signal(sig)
        if sig == signal.SIGSTOP:
            self.paused.add(name)
        elif sig == signal.SIGCONT:
            self.paused.discard(name)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> int:
        """Send ``sig`` to node ``name``, wait until it exits (SIGKILL after 20 s), return its exit code."""
        proc = self.procs.pop(name)
        if name in self.paused:
            proc.send_signal(signal.SIGCONT)
            self.paused.discard(name)
        proc.send_signal(sig)
        try:
            return proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()

    def exited(self, name: str) -> int | None:
        """The exit code of node ``name`` if its process has ended, else None."""
        proc = self.procs.get(name)
        return None if proc is None else proc.poll()

    def forget(self, name: str) -> None:
        """Drop the record of node ``name``'s process after it ended by itself."""
        proc = self.procs.pop(name, None)
        if proc is not None:
            proc.wait(timeout=5)

    def stop_all(self) -> None:
        """Stop every node and relay this cluster started (SIGTERM, SIGKILL after a deadline)."""
        everything = list(self.procs.items()) + [(f"relay {n}", p) for n, p in self.relays.items()]
        for name, proc in everything:
            if proc.poll() is None:
                if name in self.paused:
                    proc.send_signal(signal.SIGCONT)
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for _, proc in everything:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()
        self.relays.clear()
        self.paused.clear()

    def close(self) -> None:
        """Stop everything, unmount every tmpfs, remove the namespaces and bridge (safe to repeat)."""
        try:
            self.stop_all()
        finally:
            for mount in reversed(self.mounts):
                subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)
            self.mounts.clear()
            netns_down(self.layout)

    # --- relays, routes, disks -------------------------------------------------------------

    def set_impairment(self, name: str, delay_ms: float = 0, jitter_ms: float = 0, loss: float = 0) -> None:
        """Make node ``name``'s relay delay and lose traffic into the node (0s: none)."""
        path = self.control_file(name)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"delay_ms": delay_ms, "jitter_ms": jitter_ms, "loss": loss}))
        temporary.replace(path)

    def ip_in(self, name: str, *args: str) -> None:
        """Run ``ip ARGS`` inside node ``name``'s namespace; AssertionError with its message if it fails."""
        done = subprocess.run(["ip", "-n", str(self.node(name).netns), *args], capture_output=True, text=True)
        assert done.returncode == 0, f"ip -n {self.node(name).netns} {' '.join(args)}: {done.stderr.strip()}"

    def mount_tmpfs_datadir(self, name: str, size_bytes: int) -> Path:
        """Put node ``name``'s (stopped) datadir on a tmpfs of ``size_bytes``; its files are copied over."""
        assert not self.running(name), "the node must be stopped"
        datadir = self.node(name).datadir
        aside = datadir.with_name(f"{name}.before-tmpfs")
        datadir.rename(aside)
        datadir.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_bytes},mode=0700", "tmpfs", str(datadir)],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, f"mount -t tmpfs failed: {done.stderr.strip()}"
        self.mounts.append(datadir)
        for entry in aside.iterdir():
            target = datadir / entry.name
            if entry.is_dir():
                shutil.copytree(entry, target, symlinks=True)
            else:
                shutil.copy2(entry, target)
        return datadir

    # --- keys and logs ---------------------------------------------------------------------

    def genesis_supply(self) -> int:
        """The AGR the genesis created (the sum of its balances)."""
        data = json.loads((self.node(self.names[0]).datadir / "genesis.json").read_text())
        return sum(int(b["amount"]) for b in data["balances"] if b["asset"] == "AGR")

    def wallet(self, name: str) -> PrivateKey:
        """The key of demo wallet ``name`` (merchant or shopper)."""
        return load_key(self.testnet.path / "keys" / f"{name}.json", self.password)

    def validator_key(self, name: str) -> PrivateKey:
        """The validator key of node ``name``."""
        return load_key(self.node(name).datadir / "keys" / "validator.json", self.password)

    def log_tail(self, name: str, lines: int = 30) -> str:
        """The last lines of node ``name``'s output."""
        try:
            text = self.out_path(name).read_text(errors="replace")
        except OSError:
            return "(no output)"
        return "\n".join(text.splitlines()[-lines:])

    def copy_logs(self, target: Path) -> None:
        """Copy every node's and relay's output into ``target`` (for a saved history)."""
        target.mkdir(parents=True, exist_ok=True)
        for name in self.names:
            node = self.node(name)
            for source, label in (
                (self.out_path(name), f"{name}.out"),
                (node.datadir / "node.log", f"{name}.log"),
            ):
                if source.exists():
                    shutil.copy2(source, target / label)
            relay = node.datadir.parent / f"{name}.relay.out"
            if relay.exists():
                shutil.copy2(relay, target / f"{name}.relay.out")
