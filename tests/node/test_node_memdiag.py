"""The AGORA_TRACEMALLOC operator diagnostic: its settings, its report, a node refusing a bad value."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from daemon_run import run_daemon

from chain.encoding import sha256
from chain.keys import PrivateKey
from node import memdiag
from node.daemon import MALLOC_ARENAS, limit_malloc_arenas
from node.datadir import dev_genesis, init_datadir

REPO = Path(__file__).resolve().parents[2]


def test_settings_are_off_by_default_and_refuse_typos() -> None:
    assert memdiag.interval_from({}) is None and memdiag.interval_from({"AGORA_TRACEMALLOC": " "}) is None
    assert memdiag.interval_from({"AGORA_TRACEMALLOC": "30"}) == 30.0
    for bad in ("0.5", "x", "-3", "nan"):
        with pytest.raises(ValueError, match="AGORA_TRACEMALLOC"):
            memdiag.interval_from({"AGORA_TRACEMALLOC": bad})
    assert memdiag.frames_from({}) == 1 and memdiag.frames_from({"AGORA_TRACEMALLOC_FRAMES": "8"}) == 8
    for bad in ("0", "51", "two"):
        with pytest.raises(ValueError, match="AGORA_TRACEMALLOC_FRAMES"):
            memdiag.frames_from({"AGORA_TRACEMALLOC_FRAMES": bad})


async def test_the_report_names_the_line_that_grows(tmp_path: Path) -> None:
    out = tmp_path / "tracemalloc.log"
    stop = asyncio.Event()
    hoard: list[bytes] = []
    task = asyncio.create_task(memdiag.run(out, 1.0, 1, stop))
    deadline = asyncio.get_running_loop().time() + 20
    while not out.exists() or "--- t=" not in out.read_text():
        assert asyncio.get_running_loop().time() < deadline, "no report within 20 s"
        hoard.extend(os.urandom(64) for _ in range(2000))  # the growing line
        await asyncio.sleep(0.05)
    stop.set()
    await task
    assert not tracemalloc.is_tracing()
    text = out.read_text()
    first = text.split("--- t=")[1].splitlines()
    assert "rss_anon=" in first[0] and "traced=" in first[0]
    assert "test_node_memdiag.py" in first[1], text[:2000]  # the biggest grower is the hoard
    assert hoard


def test_a_node_refuses_a_bad_setting_before_it_starts(tmp_path: Path) -> None:
    key = PrivateKey(sha256(b"memdiag-validator"))
    datadir = tmp_path / "node"
    init_datadir(datadir, dev_genesis("memdiag", [key.public_key], {}, time_ms=1), key, "pw", {})
    proc = run_daemon(datadir, AGORA_TRACEMALLOC="soon")
    assert proc.returncode == 2 and "AGORA_TRACEMALLOC='soon'" in proc.stderr.decode()


_ARENAS_PROBE = """
import ctypes, ctypes.util, sys, threading
from node.daemon import limit_malloc_arenas
capped = limit_malloc_arenas({}) if sys.argv[1] == "cap" else False
hold, barrier = [], threading.Barrier(8)
def work():
    barrier.wait()  # all at once: each thread contends, glibc hands out arenas
    hold.append([bytes(4096 + i) for i in range(2000)])
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
fp = libc.fopen(sys.argv[2].encode(), b"w")
libc.malloc_info(0, fp)
libc.fclose(fp)
print(capped, open(sys.argv[2]).read().count("<heap nr="))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc arenas")
def test_the_node_caps_malloc_arenas_and_an_operator_setting_wins(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("MALLOC_ARENA_MAX", None)

    def arenas(mode: str) -> tuple[str, int]:
        out = subprocess.run(
            [sys.executable, "-c", _ARENAS_PROBE, mode, str(tmp_path / f"{mode}.xml")],
            capture_output=True, text=True, cwd=REPO, timeout=60, env=env,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        capped, count = out.stdout.split()
        return capped, int(count)

    capped, count = arenas("cap")
    assert capped == "True" and 1 <= count <= MALLOC_ARENAS
    capped, count = arenas("free")
    assert capped == "False" and count > MALLOC_ARENAS, "without the cap, threads take arenas of their own"
    assert limit_malloc_arenas({"MALLOC_ARENA_MAX": "4"}) is False  # the operator's setting is glibc's


_TRIM_PROBE = """
import sys
from node.daemon import trim_malloc
from node.memdiag import rss_anon_kib
# 1,000-byte strings come from malloc (not pymalloc); keeping every 64th pins the heap's top,
# so free() alone cannot give the freed chunks below it back
chunks = [bytes(1000) + i.to_bytes(4, "big") for i in range(150_000)]
kept = chunks[::64]
del chunks
before = rss_anon_kib()
released = trim_malloc()
after = rss_anon_kib()
assert all(k[:1000] == bytes(1000) for k in kept) and len(kept) == 2344  # live memory untouched
print(released, before, after)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc_trim")
def test_trimming_gives_freed_heap_pages_back_and_keeps_live_memory() -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run(
        [sys.executable, "-c", _TRIM_PROBE], capture_output=True, text=True, cwd=REPO, timeout=60, env=env
    )
    assert out.returncode == 0, out.stderr
    released, before, after = out.stdout.split()
    assert released == "True"
    assert int(before) - int(after) > 100 * 1024, f"RssAnon {before} -> {after} KiB: under 100 MiB released"
