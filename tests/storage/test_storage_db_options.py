"""LevelDB's memory bounds: the store's options reach the database, bad ones are refused."""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path
from types import ModuleType

import plyvel
import pytest

from chain.transfer import CORE_KINDS
from storage import store as st
from storage.store import DbOptions, leveldb_stats, open_db

TABLES = 90
"""Tables written by :func:`_many_tables`: more than the smallest table cache (64) holds."""


def _many_tables(path: Path) -> None:
    """A LevelDB of ascending keys whose every memtable flush stays one table of its own.

    A 64 KiB write buffer flushes about every 60 KiB; a flushed table that overlaps nothing is
    placed at level 2 without a compaction (LevelDB's kMaxMemCompactLevel), so each stays.
    """
    rng = random.Random(8)
    db = plyvel.DB(str(path), create_if_missing=True, write_buffer_size=64 * 1024)
    key = 0
    while len(list(path.glob("*.ldb"))) < TABLES:
        assert key < 3 * TABLES * 64, "the flushed tables were merged: LevelDB placed them otherwise"
        with db.write_batch() as batch:
            for _ in range(64):
                batch.put(key.to_bytes(8, "big"), rng.randbytes(1000))  # incompressible: one table per flush
                key += 1
    db.close()


def _mapped_tables(path: Path) -> int:
    """Table files of ``path`` this process has mapped (LevelDB maps each table it holds open)."""
    names = {line.split()[-1] for line in Path("/proc/self/maps").read_text().splitlines() if str(path) in line}
    return sum(1 for name in names if name.endswith(".ldb"))


def _read_every_table(db: object, keys: int) -> None:
    for key in range(0, keys, 16):
        assert db.get(key.to_bytes(8, "big")) is not None  # type: ignore[attr-defined]


def test_max_open_files_bounds_the_tables_held_open(tmp_path: Path) -> None:
    path = tmp_path / "db"
    _many_tables(path)
    db = open_db(path, DbOptions(max_open_files=1000))
    with db.iterator(reverse=True, include_value=False) as it:
        keys = int.from_bytes(next(it), "big") + 1
    stats = leveldb_stats(db)  # the reopening may have written one more table, from the log
    assert stats.tables >= TABLES > 74 - 10 and stats.memory_bytes > 0
    _read_every_table(db, keys)
    assert _mapped_tables(path) == stats.tables  # LevelDB's default: every table read stays open
    db.close()
    assert _mapped_tables(path) == 0

    db = open_db(path, DbOptions(max_open_files=74))
    _read_every_table(db, keys)
    assert 0 < _mapped_tables(path) <= 74 - 10  # the table cache's capacity: max_open_files - 10
    db.close()


def test_block_cache_bytes_bounds_leveldbs_cache(tmp_path: Path) -> None:
    path = tmp_path / "db"
    db = plyvel.DB(str(path), create_if_missing=True)
    for i in range(6_000):
        db.put(i.to_bytes(8, "big"), bytes([i % 251]) * 1000)  # compressible: blocks are cached decompressed
    db.compact_range()
    db.close()

    def cached_after_reading_all(cache_bytes: int) -> int:
        db = open_db(path, DbOptions(block_cache_bytes=cache_bytes))
        try:
            assert sum(1 for _ in db.iterator()) == 6_000
            return leveldb_stats(db).memory_bytes
        finally:
            db.close()

    assert cached_after_reading_all(1024 * 1024) <= 1.5 * 1024 * 1024
    assert cached_after_reading_all(64 * 1024 * 1024) >= 4 * 1024 * 1024


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_open_files": 73},
        {"max_open_files": 50_001},
        {"max_open_files": True},
        {"block_cache_bytes": 1024 * 1024 - 1},
        {"block_cache_bytes": 16 * 1024**3 + 1},
        {"block_cache_bytes": 8.0},
        {"compression": "zlib"},
        {"compression": None},
    ],
)
def test_bad_options_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        DbOptions(**kwargs)  # type: ignore[arg-type]


def test_compression_changes_the_bytes_written_and_either_reads_what_the_other_wrote(tmp_path: Path) -> None:
    value = b"agora " * 500  # compresses well: the two ways must differ on disk
    sizes = {}
    for first, second in (("snappy", "none"), ("none", "snappy")):
        path = tmp_path / first
        db = open_db(path, DbOptions(compression=first))
        for n in range(2_000):
            db.put(n.to_bytes(4, "big"), value)
        db.compact_range(start=b"", stop=b"\xff" * 8)  # into tables written the first way
        db.close()
        sizes[first] = sum(f.stat().st_size for f in path.glob("*.ldb"))
        db = open_db(path, DbOptions(compression=second))
        assert all(db.get(n.to_bytes(4, "big")) == value for n in range(2_000))
        db.close()
    assert sizes["none"] > 10 * sizes["snappy"]


def test_the_store_opens_with_its_options_and_reports_its_tables(tmp_path: Path) -> None:
    options = DbOptions(max_open_files=100, block_cache_bytes=2 * 1024 * 1024)
    store = st.ChainStore.open(tmp_path / "db", _writer().test_genesis(), CORE_KINDS, db_options=options)
    assert store.db_options == options
    stats = store.leveldb_stats()
    assert stats is not None and len(stats.tables_by_level) == 7
    store.close()
    assert store.leveldb_stats() is None


def _writer() -> ModuleType:
    writer = Path(__file__).with_name("storage_chain_writer.py")
    spec = importlib.util.spec_from_file_location("storage_chain_writer", writer)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
