"""Signature verification: inline on the loop (0 workers) or on a pool, same answers; config and testnet choice."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from chain.encoding import sha256
from chain.keys import PrivateKey
from chain.transfer import Transfer
from chain.tx import Transaction, sign_transaction
from node import sigverify
from node.config import ConfigError, NodeConfig, load_config
from node.testnet import init_testnet, one_machine_settings

KEY = PrivateKey(sha256(b"sigverify-key"))
SINK = PrivateKey(sha256(b"sigverify-sink")).public_key


def _batch(count: int) -> list[Transaction]:
    txs = [sign_transaction(KEY, "sv", n, 10, Transfer(SINK, 1)) for n in range(count)]
    bad = txs[count // 2]
    forged = Transaction(bad.chain_id, bad.sender, bad.nonce, bad.fee, bad.body, bytes(64), bad.raw, bad.hash)
    return [*txs[: count // 2], forged, *txs[count // 2 + 1 :]]


@pytest.fixture
def restore_workers() -> Iterator[None]:
    before = sigverify.workers()
    yield
    sigverify.configure(before)


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_every_mode_gives_the_same_answers_in_order(workers: int, restore_workers: None) -> None:
    sigverify.configure(workers)
    txs = _batch(2 * sigverify.INLINE_CHUNK + 7)  # several inline chunks, several pool chunks
    expected = [i != len(txs) // 2 for i in range(len(txs))]
    assert asyncio.run(sigverify.verify_async(txs)) == expected
    assert sigverify.verify_many(txs) == expected
    assert asyncio.run(sigverify.verify_async([])) == []


def test_inline_verifies_on_the_loop_thread_and_lets_other_tasks_run_between_chunks(restore_workers: None) -> None:
    sigverify.configure(0)
    txs = _batch(3 * sigverify.INLINE_CHUNK)
    calls: list[int] = []
    seen_at: list[int] = []
    real = Transaction.signature_valid

    def spy(tx: Transaction) -> bool:
        calls.append(threading.get_ident())
        return real(tx)

    async def main() -> list[bool]:
        async def ticker() -> None:
            seen_at.append(len(calls))

        verify = asyncio.ensure_future(sigverify.verify_async(txs))
        tick = asyncio.ensure_future(ticker())
        results, _ = await asyncio.gather(verify, tick)
        return results

    mp = pytest.MonkeyPatch()
    mp.setattr(Transaction, "signature_valid", spy)
    try:
        results = asyncio.run(main())
    finally:
        mp.undo()
    assert not results[len(txs) // 2] and sum(results) == len(txs) - 1
    assert set(calls) == {threading.get_ident()} and len(calls) == len(txs)  # no pool thread, each once
    assert 0 < seen_at[0] < len(txs)  # the other task ran between chunks, mid-verification


def test_configure_bounds(restore_workers: None) -> None:
    with pytest.raises(ValueError):
        sigverify.configure(-1)
    with pytest.raises(ValueError):
        sigverify.configure(sigverify.MAX_WORKERS + 1)
    sigverify.configure(None)
    assert sigverify.workers() == sigverify.DEFAULT_WORKERS


def test_verify_workers_setting_is_checked(tmp_path: Path) -> None:
    assert NodeConfig().verify_workers == -1
    assert NodeConfig(verify_workers=0).verify_workers == 0
    for bad in (-2, 65):
        with pytest.raises(ConfigError):
            NodeConfig(verify_workers=bad)
    with pytest.raises(ConfigError):
        NodeConfig(mempool_expiry_blocks=-1)


def test_testnet_init_verifies_inline_when_the_nodes_outnumber_the_cores(tmp_path: Path) -> None:
    assert one_machine_settings(4, cores=2) == {"verify_workers": 0}
    assert one_machine_settings(2, cores=2) == {"verify_workers": 0}
    assert one_machine_settings(1, cores=2) == {}
    net = init_testnet(tmp_path / "net", validators=4)
    config = load_config(net.nodes[0].datadir, environ={})
    expected = 0 if (os.cpu_count() or 1) <= 4 else -1
    assert config.verify_workers == expected
