"""The node key: the node's identity on the p2p network (not a validator or wallet key).

It holds no funds and signs no votes, only p2p handshakes, so like CometBFT's
``node_key.json`` it is kept unencrypted (hex seed, mode 0600) and created on first start.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from chain.keys import SEED_SIZE, PrivateKey

NODE_KEY_FILE: Final = "node.key"


class NodeKeyError(Exception):
    """The node key file exists but is unreadable or malformed."""


def load_or_create_node_key(path: Path) -> PrivateKey:
    """Return the node key at ``path``, creating it (atomically, mode 0600) if missing."""
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        key = PrivateKey.generate()
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key.seed.hex() + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return key
    except OSError as exc:
        raise NodeKeyError(f"cannot read the node key {path}: {exc.strerror}") from None
    try:
        seed = bytes.fromhex(text)
    except ValueError:
        seed = b""
    if len(seed) != SEED_SIZE:
        raise NodeKeyError(f"{path} is not a node key (expected {SEED_SIZE * 2} hex digits)")
    return PrivateKey(seed)
