"""The AGORA_TRACEMALLOC operator diagnostic: its settings, its report, a node refusing a bad value."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from chain.encoding import sha256
from chain.keys import PrivateKey
from node import memdiag
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
    env = dict(os.environ, PYTHONPATH=str(REPO), AGORA_PASSWORD="pw", AGORA_TRACEMALLOC="soon")
    proc = subprocess.run(
        [sys.executable, "-m", "node", "--datadir", str(datadir), "--api-port", "0"],
        capture_output=True,
        env=env,
        cwd=REPO,
        timeout=60,
    )
    assert proc.returncode == 2 and "AGORA_TRACEMALLOC='soon'" in proc.stderr.decode()
