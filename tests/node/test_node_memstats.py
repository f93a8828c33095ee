"""Memory diagnostics (AGORA_MEMSTATS, /metrics) and the LevelDB settings reaching a node's store."""

from __future__ import annotations

import asyncio
import csv
import sys
import threading
import time
from pathlib import Path

import aiohttp
import pytest
from daemon_run import run_daemon

from chain.encoding import sha256
from chain.keys import PrivateKey
from node import memstats
from node.config import (
    LEVELDB_BLOCK_CACHE_RANGE,
    LEVELDB_COMPRESSIONS,
    LEVELDB_MAX_OPEN_FILES_RANGE,
    ConfigError,
    NodeConfig,
    load_config,
)
from node.datadir import dev_genesis, init_datadir, open_datadir
from node.service import Node, db_options_of
from storage import store as st

LINUX = sys.platform.startswith("linux")


def test_leveldb_settings_default_validate_and_match_the_store() -> None:
    assert (LEVELDB_MAX_OPEN_FILES_RANGE, LEVELDB_BLOCK_CACHE_RANGE) == (
        st.MAX_OPEN_FILES_RANGE,
        st.BLOCK_CACHE_RANGE,
    )
    config = NodeConfig()
    assert db_options_of(config) == st.DbOptions(
        config.leveldb_max_open_files, config.leveldb_block_cache_bytes, config.leveldb_compression
    )
    assert LEVELDB_COMPRESSIONS == st.COMPRESSIONS
    assert db_options_of(NodeConfig(leveldb_compression="none")).compression == "none"
    assert db_options_of(config) == st.DbOptions()  # the store's default is the node's
    for name, bad in (
        ("leveldb_max_open_files", 73),
        ("leveldb_max_open_files", 50_001),
        ("leveldb_block_cache_bytes", 1024 * 1024 - 1),
        ("leveldb_block_cache_bytes", 16 * 1024**3 + 1),
        ("leveldb_compression", "zlib"),
    ):
        with pytest.raises(ConfigError, match=name):
            NodeConfig(**{name: bad})  # type: ignore[arg-type]


def test_a_bad_leveldb_setting_from_the_environment_names_its_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="AGORA_LEVELDB_MAX_OPEN_FILES"):
        load_config(tmp_path, environ={"AGORA_LEVELDB_MAX_OPEN_FILES": "many"})
    with pytest.raises(ConfigError, match=r"leveldb_max_open_files must be 74\.\.50000"):
        load_config(tmp_path, environ={"AGORA_LEVELDB_MAX_OPEN_FILES": "10"})
    assert load_config(tmp_path, environ={"AGORA_LEVELDB_MAX_OPEN_FILES": "500"}).leveldb_max_open_files == 500


def test_memstats_interval_is_off_by_default_and_refuses_typos() -> None:
    assert memstats.interval_from({}) is None and memstats.interval_from({"AGORA_MEMSTATS": ""}) is None
    assert memstats.interval_from({"AGORA_MEMSTATS": "10"}) == 10.0
    for bad in ("0", "ten", "-1", "nan"):
        with pytest.raises(ValueError, match="AGORA_MEMSTATS"):
            memstats.interval_from({"AGORA_MEMSTATS": bad})


@pytest.mark.skipif(not LINUX, reason="glibc and /proc")
def test_the_figures_follow_what_the_process_holds() -> None:
    before, pym = memstats.malloc_info(), memstats.pymalloc_info()
    assert before is not None and pym is not None
    assert pym.arena_bytes >= pym.used_bytes > 0
    hoard = [bytes(1000) + i.to_bytes(4, "big") for i in range(20_000)]  # 20 MB from malloc
    small = [i.to_bytes(8, "big") + b"x" for i in range(100_000)]  # ~4 MB from pymalloc
    after, pym_after = memstats.malloc_info(), memstats.pymalloc_info()
    assert after is not None and pym_after is not None
    grown = after.in_use_bytes + after.mmapped_bytes - before.in_use_bytes - before.mmapped_bytes
    assert grown >= 19_000_000
    assert pym_after.used_bytes - pym.used_bytes >= 3_000_000
    assert hoard and small


@pytest.mark.skipif(not LINUX, reason="/proc")
def test_thread_cpu_is_split_between_the_main_thread_and_the_python_threads() -> None:
    def spin(seconds: float) -> None:  # CPU, not wall time: the machine may be busy
        start = time.thread_time()
        while time.thread_time() - start < seconds:
            pass

    before = memstats.thread_cpu_ms()
    assert set(before) == {"cpu_main_ms", "cpu_python_ms", "cpu_native_ms"}
    done = threading.Event()

    def work() -> None:
        spin(0.3)
        done.wait(30)  # alive until read: an ended thread's CPU no longer counts

    worker = threading.Thread(target=work)
    worker.start()
    try:
        spin(0.3)
        deadline = time.monotonic() + 30
        while (during := memstats.thread_cpu_ms())["cpu_python_ms"] - before["cpu_python_ms"] < 250:
            assert time.monotonic() < deadline, during  # the worker has not spun its 0.3 s yet
            time.sleep(0.01)
        assert during["cpu_main_ms"] - before["cpu_main_ms"] >= 250  # this thread's own 0.3 s
    finally:
        done.set()
        worker.join()


def test_the_stats_parser_refuses_foreign_text() -> None:
    with pytest.raises(ValueError, match="pymalloc"):
        memstats.parse_debugmallocstats(b"nothing here\n")
    text = b"2 arenas * 1048576 bytes/arena     =   2,097,152\n# bytes in allocated blocks        =   1,234,567\n"
    assert memstats.parse_debugmallocstats(text) == memstats.PymallocInfo(2 * 1048576, 1_234_567)


VALIDATOR = PrivateKey(sha256(b"memstats-validator"))


def _datadir(tmp_path: Path, **config: object) -> Path:
    datadir = tmp_path / "node"
    genesis = dev_genesis("memstats", [VALIDATOR.public_key], {}, time_ms=1)
    settings: dict[str, object] = {"api_port": 0, "heartbeat_interval_ms": 3_600_000, **config}
    init_datadir(datadir, genesis, VALIDATOR, "pw", settings)
    return datadir


@pytest.mark.skipif(not LINUX, reason="glibc and /proc")
async def test_a_node_opens_leveldb_as_configured_and_serves_the_gauges(tmp_path: Path) -> None:
    node = Node(open_datadir(_datadir(tmp_path, leveldb_max_open_files=100)), VALIDATOR)
    url = await node.start()
    try:
        assert node.services is not None
        store = node.services.store
        assert store.db_options == st.DbOptions(max_open_files=100)
        async with aiohttp.ClientSession() as http, http.get(url + "/metrics") as r:
            text = await r.text()
        assert "agora_leveldb_max_open_files 100.0" in text
        assert 'agora_leveldb_tables{level="0"}' in text and "agora_leveldb_memory_bytes" in text
        assert 'agora_malloc_bytes{part="in_use"}' in text and "agora_process_rss_anon_bytes" in text

        out = tmp_path / "memstats.csv"
        stop = asyncio.Event()
        task = asyncio.create_task(memstats.run(out, 1.0, store, stop))
        deadline = asyncio.get_running_loop().time() + 10
        while not out.exists() or len(out.read_text().splitlines()) < 3:
            assert asyncio.get_running_loop().time() < deadline, "no two samples within 10 s"
            await asyncio.sleep(0.05)
        stop.set()
        await task
    finally:
        await node.stop()
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) >= 2
    for row in rows:
        assert int(row["rss_anon"]) > 0 and int(row["malloc_in_use_bytes"]) > 0
        assert int(row["pymalloc_arena_bytes"]) >= int(row["pymalloc_used_bytes"]) > 0
        assert int(row["leveldb_tables"]) == sum(int(row[f"leveldb_l{i}"]) for i in range(7))
        assert int(row["py_traced"]) == -1  # tracemalloc is off
        assert int(row["cpu_main_ms"]) > 0 and int(row["cpu_native_ms"]) >= 0  # LevelDB's thread is native


def test_a_node_refuses_a_bad_memstats_setting_before_it_starts(tmp_path: Path) -> None:
    datadir = _datadir(tmp_path)
    proc = run_daemon(datadir, AGORA_MEMSTATS="often")
    assert proc.returncode == 2 and "AGORA_MEMSTATS='often'" in proc.stderr.decode()
