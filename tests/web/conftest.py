"""Makes the helpers next to this file and tests/node/node_market_kit.py importable by name."""

from __future__ import annotations

import sys
from pathlib import Path

for _dir in (Path(__file__).resolve().parent, Path(__file__).resolve().parent.parent / "node"):
    if str(_dir) not in sys.path:
        sys.path.insert(0, str(_dir))
