"""Operator diagnostic: which part of a node's memory grows (``AGORA_MEMSTATS``, off by default).

The soak's verdict is on RssAnon, and most of it is not live Python objects (tracemalloc,
docs/PERFORMANCE.md, *Soak memory*). This module splits it cheaply, without tracing:

- glibc malloc (``mallinfo2``): bytes in use, free inside the heap, mapped for large chunks.
  C and C++ code (LevelDB, OpenSSL, libuv) and Python objects over 512 bytes allocate here.
- pymalloc (CPython's allocator of small objects, in 1 MiB arenas mapped directly, so not in
  malloc's figures): bytes in its arenas and bytes in live blocks (``sys._debugmallocstats``).
- LevelDB: table files per level (each open one holds its index block in the malloc heap)
  and its approximate memory (memtables and block cache).
- CPU by thread, in three parts: the event loop's thread, the other Python threads (the
  block executor, the verification pool) and the threads Python did not start (LevelDB's
  compaction, libuv's workers): where a long run's CPU goes as the chain on disk grows.

:class:`MemoryCollector` serves the cheap figures as Prometheus gauges at each scrape of
``/metrics`` (nothing runs between scrapes). With ``AGORA_MEMSTATS=SECONDS`` a node also
appends every figure, pymalloc's included, to ``<datadir>/memstats.csv`` every SECONDS
(README.md, *Operator diagnostic*).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import ctypes
import ctypes.util
import logging
import os
import re
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from node import memdiag
from storage.store import ChainStore

log = logging.getLogger("agora.memstats")
ENV_INTERVAL: Final = "AGORA_MEMSTATS"


class _Mallinfo2(ctypes.Structure):
    _fields_ = [  # glibc >= 2.33, malloc.h: struct mallinfo2 (all size_t)
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


@dataclass(frozen=True, slots=True)
class MallocInfo:
    """glibc's heap, summed over its arenas (bytes)."""

    heap_bytes: int
    """Obtained from the kernel for the arenas' heaps (``arena``; trimmed pages included)."""
    in_use_bytes: int
    """Allocated chunks in the heaps (``uordblks``)."""
    free_bytes: int
    """Free chunks in the heaps (``fordblks``): resident unless ``malloc_trim`` released their pages."""
    mmapped_bytes: int
    """Large chunks given their own mapping (``hblkhd``), all in use."""


def _mallinfo2_function() -> Callable[[], _Mallinfo2] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        fn = getattr(ctypes.CDLL(name), "mallinfo2", None)
    except OSError:
        return None
    if fn is None:
        return None
    fn.argtypes = []
    fn.restype = _Mallinfo2
    return fn


_MALLINFO2: Final = _mallinfo2_function()


def malloc_info() -> MallocInfo | None:
    """glibc's heap figures (``mallinfo2``), or None where the C library has no mallinfo2.

    Walks every arena's free lists under its lock: about a millisecond, for a scrape or a
    diagnostic, not for a hot path.
    """
    if _MALLINFO2 is None:
        return None
    m = _MALLINFO2()
    return MallocInfo(int(m.arena), int(m.uordblks), int(m.fordblks), int(m.hblkhd))


@dataclass(frozen=True, slots=True)
class PymallocInfo:
    """CPython's small-object allocator (bytes)."""

    arena_bytes: int
    """Its arenas, mapped outside malloc: freed only when every block in one is free."""
    used_bytes: int
    """Live blocks in them."""


_ARENAS_RE: Final = re.compile(rb"^(\d+) arenas \* (\d+) bytes/arena", re.M)
_USED_RE: Final = re.compile(rb"^# bytes in allocated blocks\s*=\s*([\d,]+)", re.M)


def parse_debugmallocstats(text: bytes) -> PymallocInfo:
    """The arena and live-block bytes in ``sys._debugmallocstats()``'s output; ValueError if absent."""
    arenas, used = _ARENAS_RE.search(text), _USED_RE.search(text)
    if arenas is None or used is None:
        raise ValueError("no pymalloc arena figures in the allocator statistics")
    return PymallocInfo(int(arenas[1]) * int(arenas[2]), int(used[1].replace(b",", b"")))


def pymalloc_info() -> PymallocInfo | None:
    """pymalloc's figures, or None if this CPython does not print them.

    ``sys._debugmallocstats`` writes to file descriptor 2, so it is pointed at a temporary
    file for the call, with every logging handler's lock held, so no log line is lost
    meanwhile. A few milliseconds with the GIL held: for the opt-in diagnostic only.
    """
    debug = getattr(sys, "_debugmallocstats", None)
    if debug is None:
        return None
    handlers = [h for name in ("", "agora") for h in logging.getLogger(name or None).handlers]
    with tempfile.TemporaryFile() as tmp, contextlib.ExitStack() as held:
        for handler in handlers:
            handler.acquire()
            held.callback(handler.release)
        for stream in (sys.stderr, sys.__stderr__):
            if stream is not None:
                with contextlib.suppress(Exception):
                    stream.flush()
        saved = os.dup(2)
        try:
            os.dup2(tmp.fileno(), 2)
            debug()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        text = tmp.read()
    try:
        return parse_debugmallocstats(text)
    except ValueError:
        return None


def process_status() -> dict[str, int]:
    """This process's RssAnon and RssFile (bytes) and thread count, from /proc/self/status ({} without /proc)."""
    out: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            field, _, rest = line.partition(":")
            if field in ("RssAnon", "RssFile"):
                out[field] = int(rest.split()[0]) * 1024
            elif field == "Threads":
                out[field] = int(rest.split()[0])
    return out


def thread_cpu_ms() -> dict[str, int]:
    """CPU (user + system, ms) this process's live threads have used, summed in three parts.

    ``cpu_main_ms``: the main thread (the node's event loop); ``cpu_python_ms``: every other
    thread Python started (the block executor, the verification pool); ``cpu_native_ms``:
    threads started by C or C++ code (LevelDB's background compaction, libuv's workers). Read
    from /proc/self/task; a thread that has ended no longer counts, so a part can fall. {}
    without /proc.
    """
    python_ids = {t.native_id for t in threading.enumerate()}
    main_id = threading.main_thread().native_id
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return {}
    ms_per_tick = 1000 / os.sysconf("SC_CLK_TCK")
    parts = {"cpu_main_ms": 0, "cpu_python_ms": 0, "cpu_native_ms": 0}
    for task in tasks:
        try:
            stat = Path(f"/proc/self/task/{task}/stat").read_text()
        except OSError:  # the thread ended meanwhile
            continue
        fields = stat.rpartition(")")[2].split()  # from field 3 (state) on: the name may hold spaces
        ticks = int(fields[11]) + int(fields[12])  # utime and stime, fields 14 and 15 of stat
        tid = int(task)
        part = "cpu_main_ms" if tid == main_id else "cpu_python_ms" if tid in python_ids else "cpu_native_ms"
        parts[part] += round(ticks * ms_per_tick)
    return parts


def sample(store: ChainStore, with_pymalloc: bool = True) -> dict[str, int]:
    """One row of every figure (bytes unless named otherwise; CPU in ms so far); absent parts are left out."""
    status = process_status()
    row: dict[str, int] = {
        "rss_anon": status.get("RssAnon", 0),
        "rss_file": status.get("RssFile", 0),
        "threads": status.get("Threads", 0),
        "py_blocks": sys.getallocatedblocks(),
        "py_traced": tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else -1,
    }
    if with_pymalloc and (pym := pymalloc_info()) is not None:
        row.update({"pymalloc_" + k: v for k, v in asdict(pym).items()})
    if (mi := malloc_info()) is not None:
        row.update({"malloc_" + k: v for k, v in asdict(mi).items()})
    if (ldb := store.leveldb_stats()) is not None:
        row["leveldb_tables"] = ldb.tables
        row.update({f"leveldb_l{i}": n for i, n in enumerate(ldb.tables_by_level)})
        row["leveldb_memory_bytes"] = ldb.memory_bytes
    row.update(thread_cpu_ms())
    return row


class MemoryCollector(Collector):
    """Prometheus gauges of the node's memory parts, read at each scrape (mallinfo2, LevelDB)."""

    def __init__(self, store: ChainStore) -> None:
        self._store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """The gauges, for the registry at scrape time."""
        ldb = self._store.leveldb_stats()
        if ldb is not None:
            tables = GaugeMetricFamily("agora_leveldb_tables", "LevelDB table files, by level", labels=["level"])
            for level, count in enumerate(ldb.tables_by_level):
                tables.add_metric([str(level)], count)
            yield tables
            yield GaugeMetricFamily(
                "agora_leveldb_memory_bytes",
                "LevelDB's approximate memory: memtables and block cache (not the open tables' index blocks)",
                value=ldb.memory_bytes,
            )
            yield GaugeMetricFamily(
                "agora_leveldb_max_open_files",
                "LevelDB's max_open_files (the table cache holds 10 fewer)",
                value=self._store.db_options.max_open_files,
            )
        mi = malloc_info()
        if mi is not None:
            heap = GaugeMetricFamily("agora_malloc_bytes", "glibc malloc's heap, by part", labels=["part"])
            for part, value in (
                ("in_use", mi.in_use_bytes),
                ("free", mi.free_bytes),
                ("mmapped", mi.mmapped_bytes),
                ("heap", mi.heap_bytes),
            ):
                heap.add_metric([part], value)
            yield heap
        status = process_status()
        if "RssAnon" in status:
            yield GaugeMetricFamily(
                "agora_process_rss_anon_bytes", "Resident anonymous memory (the heaps)", value=status["RssAnon"]
            )


def interval_from(env: Mapping[str, str]) -> float | None:
    """The sampling interval ``env`` asks for (``AGORA_MEMSTATS``, seconds >= 1), or None when off.

    Raises ValueError on a value that is not a number >= 1 (a typo must not pass silently).
    """
    return memdiag.seconds_from(env, ENV_INTERVAL, "samples")


def append_row(out: Path, elapsed: float, row: Mapping[str, int]) -> None:
    """Append ``row`` (with ``elapsed_s`` first) to the CSV ``out``, writing the header if the file is new."""
    fields = ["elapsed_s", *row]
    new = not out.exists() or out.stat().st_size == 0
    with out.open("a", newline="") as f:
        writer = csv.writer(f)
        if new:
            writer.writerow(fields)
        writer.writerow([round(elapsed, 1), *row.values()])


async def run(out: Path, interval: float, store: ChainStore, stop: asyncio.Event) -> None:
    """Append a :func:`sample` row to ``out`` at start and every ``interval`` s until ``stop`` (in a worker thread)."""
    t0 = time.monotonic()
    log.info("memory statistics every %g s in %s", interval, out)
    while not stop.is_set():
        try:
            row = await asyncio.to_thread(sample, store)
            await asyncio.to_thread(append_row, out, time.monotonic() - t0, row)
        except OSError as exc:  # a full disk must not stop the node; the next sample tries again
            log.warning("memory statistics: cannot write %s: %s", out, exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
