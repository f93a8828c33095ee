"""Running a node as a process: logging, the validator key, signals, graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import dataclasses
import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import uvloop

from chain.keys import PrivateKey
from node import memdiag, memstats
from node.config import ConfigError
from node.datadir import Datadir, DatadirError, open_datadir
from node.extensions import ApiExtension
from node.keystore import KeystoreError, load_key
from node.service import Node

log = logging.getLogger("agora.daemon")
EXIT_FAILED = 3
"""Exit code of a node that stopped because one of its tasks died of an error."""
STOP_AFTER_FAILURE_SECONDS = 10.0
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MALLOC_ARENAS = 2
"""glibc malloc arenas a node uses (unless MALLOC_ARENA_MAX is set): see :func:`limit_malloc_arenas`."""
_M_ARENA_MAX = -8  # mallopt parameter number, glibc malloc.h
MALLOC_TRIM_SECONDS = 30.0
"""How often a running node hands glibc's free heap pages back to the kernel: :func:`trim_malloc`."""


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None


def limit_malloc_arenas(environ: Mapping[str, str], arenas: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas at ``arenas`` for this process; True if the cap was set.

    glibc gives threads arenas of their own (up to 8 per core); the verification pool, the
    executor's worker threads and LevelDB's compaction thread each filled one, and memory
    freed in one arena is not reused by another, so a node under steady load grew its heap
    by tens of MiB (docs/PERFORMANCE.md, *Soak memory*). Does nothing (False) when the
    operator set ``MALLOC_ARENA_MAX`` (glibc reads it at start) or the C library is not glibc.
    """
    if "MALLOC_ARENA_MAX" in environ:
        return False
    mallopt = getattr(_libc(), "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_ARENA_MAX, arenas))


def trim_malloc() -> bool:
    """Return the free pages of every glibc malloc arena to the kernel (``malloc_trim(0)``).

    glibc gives memory back on ``free`` only from the top of a heap; the pages of free chunks
    below a live one stay resident, so a node whose blocks, batches and LevelDB buffers come and
    go kept growing its RssAnon by MiB a minute (docs/PERFORMANCE.md, *Soak memory*). The trim
    changes no live allocation. True if some memory was released; False if none was or the C
    library is not glibc.
    """
    libc = _libc()
    trim = getattr(libc, "malloc_trim", None)
    if trim is None:
        return False
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return bool(trim(0))


async def trim_malloc_every(seconds: float, stop: asyncio.Event) -> None:
    """Call :func:`trim_malloc` (in a worker thread) every ``seconds`` until ``stop`` is set."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)
        if not stop.is_set():
            await asyncio.to_thread(trim_malloc)


def _setup_logging(datadir: Path, level: str) -> list[logging.Handler]:
    root = logging.getLogger("agora")
    root.setLevel(level.upper())
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if datadir.is_dir():
        handlers.append(logging.FileHandler(datadir / "node.log"))
    for handler in handlers:
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(handler)
    return handlers


def load_validator_key(datadir: Datadir, password: str | None) -> PrivateKey | None:
    """The datadir's validator key, or None if it has none; DatadirError if it cannot be opened."""
    path = datadir.validator_key_path
    if not path.exists():
        return None
    if password is None:
        raise DatadirError(f"{path} holds the validator key: a password is needed (AGORA_PASSWORD or a prompt)")
    try:
        return load_key(path, password)
    except KeystoreError as exc:
        raise DatadirError(f"cannot open the validator key {path}: {exc}") from None


async def serve(datadir: Datadir, key: PrivateKey | None, api_extensions: Sequence[ApiExtension] = ()) -> int:
    """Run a node (``api_extensions`` mounted on its API) until SIGINT or SIGTERM; shut down
    gracefully; return the exit code."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    node = Node(datadir, key, api_extensions=api_extensions)
    try:
        url = await node.start()
    except DatadirError as exc:
        log.error("%s", exc)
        return 2
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", datadir.config.api_host, datadir.config.api_port, exc.strerror)
        await node.stop()
        return 2
    log.info("agora node listening on %s", url)
    print(f"agora node listening on {url}", flush=True)
    diag: asyncio.Task[None] | None = None
    interval = memdiag.interval_from(os.environ)  # validated by run_node before start
    if interval is not None:
        out = datadir.path / "tracemalloc.log"
        diag = asyncio.create_task(memdiag.run(out, interval, memdiag.frames_from(os.environ), stop))
    stats: asyncio.Task[None] | None = None
    stats_interval = memstats.interval_from(os.environ)  # validated by run_node before start
    if stats_interval is not None and node.services is not None:
        stats = asyncio.create_task(
            memstats.run(datadir.path / "memstats.csv", stats_interval, node.services.store, stop)
        )
    trimmer = asyncio.create_task(trim_malloc_every(MALLOC_TRIM_SECONDS, stop))
    try:
        stopped, failed = asyncio.ensure_future(stop.wait()), asyncio.ensure_future(node.failed.wait())
        await asyncio.wait({stopped, failed}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        failed.cancel()
        log.info("shutting down")
    finally:
        trimmer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await trimmer
        for task in (diag, stats):
            if task is not None:
                stop.set()
                with contextlib.suppress(Exception):
                    await task
        if node.failure is None:
            await node.stop()
        else:  # parts may wait on the dead task: bounded, then exit (every block is one atomic batch)
            try:
                await asyncio.wait_for(node.stop(), STOP_AFTER_FAILURE_SECONDS)
            except TimeoutError:
                log.error("the node did not stop within %g s after the failure; exiting", STOP_AFTER_FAILURE_SECONDS)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    if node.failure is not None:
        # one plain line on stderr too: the log file may sit on the very disk that is full
        print(f"error: the node stopped: {node.failure}", file=sys.stderr, flush=True)
        return EXIT_FAILED
    return 0


def with_extra_seeds(datadir: Datadir, seeds: str) -> Datadir:
    """``datadir`` with ``seeds`` (comma-separated URLs, e.g. from ``--peer``) added to its config's."""
    config = datadir.config
    try:
        joined = ",".join(part for part in (config.seeds, seeds) if part)
        return dataclasses.replace(datadir, config=dataclasses.replace(config, seeds=joined))
    except ConfigError as exc:
        raise DatadirError(f"--peer: {exc}") from None


def run_node(
    datadir: Path,
    password: str | None,
    overrides: Mapping[str, object] | None = None,
    api_extensions: Sequence[ApiExtension] = (),
) -> int:
    """Run the node of ``datadir`` until SIGINT/SIGTERM; log to stderr and datadir/node.log.
    ``api_extensions`` are mounted on its client API (``python -m node`` passes the installed ones).

    Returns 0 after a clean shutdown, 2 if the datadir, its config or its key cannot be used,
    3 (EXIT_FAILED) if a task of the running node died of an error (a full disk, ...): it then
    stops with one ``error:`` line on stderr instead of answering without committing. Every
    block is one atomic batch, so a restart once the cause is gone resumes from the last one.
    """
    limit_malloc_arenas(os.environ)  # before any thread starts: each would take an arena
    handlers = _setup_logging(datadir, "info")
    settings = dict(overrides or {})
    extra_seeds = settings.pop("extra_seeds", None)
    try:
        try:
            opened = open_datadir(datadir, settings)
            if extra_seeds:
                opened = with_extra_seeds(opened, str(extra_seeds))
            logging.getLogger("agora").setLevel(opened.config.log_level.upper())
            key = load_validator_key(opened, password)
            memdiag.interval_from(os.environ)
            memdiag.frames_from(os.environ)
            memstats.interval_from(os.environ)
        except ValueError as exc:
            log.error("%s", exc)
            return 2
        except DatadirError as exc:
            log.error("%s", exc)
            return 2
        # uvloop: the asyncio API on libuv, a cheaper loop and socket transports (PERFORMANCE.md)
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(serve(opened, key, api_extensions))
    finally:
        root = logging.getLogger("agora")
        for handler in handlers:
            root.removeHandler(handler)
            with contextlib.suppress(OSError):  # node.log on a full disk cannot be flushed
                handler.close()
