"""storage.lock_owner: reading /proc/locks-style tables for the pid that holds a LOCK file."""

from __future__ import annotations

import os
from pathlib import Path

from storage.lock_owner import describe_process, lock_owner


def _table_line(n: int, pid: int, path: Path, waiting: bool = False) -> str:
    st = os.stat(path)
    where = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    arrow = "-> " if waiting else ""
    return f"{n}: {arrow}POSIX  ADVISORY  WRITE {pid} {where} 0 EOF"


def test_the_holder_of_the_file_is_found_and_others_are_ignored(tmp_path: Path) -> None:
    lock, other = tmp_path / "LOCK", tmp_path / "OTHER"
    lock.write_bytes(b"")
    other.write_bytes(b"")
    table = tmp_path / "locks"
    table.write_text(
        "\n".join(
            [
                _table_line(1, 111, other),
                _table_line(2, 222, lock, waiting=True),
                "garbage line",
                _table_line(3, 333, lock),
            ]
        )
    )
    assert lock_owner(lock, table) == 333
    assert lock_owner(other, table) == 111
    assert lock_owner(tmp_path / "missing", table) is None
    assert lock_owner(lock, tmp_path / "no-table") is None


def test_a_process_is_described_by_its_command_line() -> None:
    assert describe_process(os.getpid()).startswith(f"pid {os.getpid()}: ")
    assert describe_process(2**22 + 12345) == f"pid {2**22 + 12345}"
