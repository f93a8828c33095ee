"""Who holds a LevelDB ``LOCK`` file: a plain answer for "database in use", never a bytes literal."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

PROC_LOCKS: Final = Path("/proc/locks")
MAX_COMMAND_CHARS: Final = 200


def lock_owner(lock_file: Path, proc_locks: Path = PROC_LOCKS) -> int | None:
    """The pid holding a lock on ``lock_file`` according to ``proc_locks`` (Linux), else None.

    None when the file or the lock table cannot be read, or no held lock names the file's
    device and inode (waiting locks, marked ``->``, are skipped).
    """
    try:
        st = os.stat(lock_file)
        table = proc_locks.read_text()
    except OSError:
        return None
    for line in table.splitlines():
        fields = line.split()
        if len(fields) < 6 or fields[1] == "->":
            continue
        pid_text, where = fields[4], fields[5]
        parts = where.split(":")
        if len(parts) != 3 or not pid_text.isdigit():
            continue
        try:
            major, minor, inode = int(parts[0], 16), int(parts[1], 16), int(parts[2])
        except ValueError:
            continue
        if (major, minor, inode) == (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino):
            return int(pid_text)
    return None


def describe_process(pid: int) -> str:
    """``pid`` with its command line when it can be read ("pid 42: python -m node ..."), else "pid 42"."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return f"pid {pid}"
    command = " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)
    if len(command) > MAX_COMMAND_CHARS:
        command = command[:MAX_COMMAND_CHARS] + "..."
    return f"pid {pid}: {command}" if command else f"pid {pid}"


def in_use_message(db_path: Path) -> str:
    """One line saying which process holds the database at ``db_path`` (or that another one does)."""
    pid = lock_owner(db_path / "LOCK")
    holder = "another process" if pid is None else f"another process ({describe_process(pid)})"
    return f"the database is in use by {holder}; stop that node first or use another datadir"
