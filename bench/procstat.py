"""What the kernel says about a node process: CPU seconds used and resident memory (Linux /proc)."""

from __future__ import annotations

import os
from pathlib import Path

_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds ``pid`` has used so far (fields 14 and 15 of /proc/<pid>/stat).

    Raises OSError if the process is gone.
    """
    text = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) is in parentheses and may hold spaces: split after its ')'.
    fields = text[text.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / _CLK_TCK


def rss(pid: int) -> tuple[int, int]:
    """(anonymous, file-backed) resident bytes of ``pid``: the heap, and mapped files such as LevelDB tables.

    Raises OSError if the process is gone.
    """
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("RssAnon", "RssFile"):
            fields[name] = int(rest.split()[0]) * 1024
    return fields.get("RssAnon", 0), fields.get("RssFile", 0)
