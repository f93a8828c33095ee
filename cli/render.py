"""Human views of the node's JSON records (status, blocks, transactions, receipts)."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, Final

from cli.amounts import format_amount
from cli.output import Output


def when(time_ms: Any) -> str:
    """An ISO UTC timestamp for a chain time in milliseconds."""
    if not isinstance(time_ms, int):
        return "-"
    moment = datetime.datetime.fromtimestamp(time_ms / 1000, tz=datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def duration(ms: int) -> str:
    """Milliseconds as the largest units that fit, e.g. "2d", "1d 6h", "15m", "90s" -> "1m 30s", "500ms"."""
    if ms < 1000:
        return f"{max(ms, 0)}ms"
    seconds = ms // 1000
    parts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts[:2])


def local_time(time_ms: int) -> str:
    """A chain time in milliseconds as local wall-clock time with its zone ("2026-12-03 14:05:00 CET")."""
    moment = datetime.datetime.fromtimestamp(time_ms / 1000).astimezone()
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def deadline(time_ms: Any, now_ms: int | None = None) -> str:
    """A deadline as local time and the time left ("... (in 1d 23h)", "... (passed 5m ago)")."""
    if not isinstance(time_ms, int) or time_ms <= 0:
        return "-"
    import time

    now = int(time.time() * 1000) if now_ms is None else now_ms
    left = time_ms - now
    relation = f"in {duration(left)}" if left > 0 else f"passed {duration(-left)} ago"
    return f"{local_time(time_ms)} ({relation})"


def agr(minor: Any, asset: str = "AGR", decimals: int = 6) -> str:
    """``minor`` units as "1.5 AGR (1500000)" (an asset with ``decimals`` digits after the point)."""
    if not isinstance(minor, int) or minor < 0:
        return str(minor)
    return f"{format_amount(minor, decimals)} {asset} ({minor})"


AMOUNT_ATTRS: Final = frozenset({"amount", "total", "price", "fee", "escrow", "unit_price", "shipping_price"})
DEADLINE_ATTRS: Final = frozenset({"deadline_ms"})
TIME_ATTRS: Final = frozenset({"time_ms", "created_ms", "updated_ms", "reply_time_ms"})
NO_NAMES: Final[Mapping[str, str]] = {}


def account(address: Any, names: Mapping[str, str] = NO_NAMES) -> Any:
    """An ``agora1...`` address with the local wallet's name after it when there is one."""
    if not isinstance(address, str) or not address:
        return address
    name = names.get(address)
    return f"{address} ({name})" if name else address


def attr_value(name: str, value: Any, names: Mapping[str, str] = NO_NAMES, asset: str = "AGR") -> Any:
    """An event attribute or body field for people: accounts named, amounts in AGR (in minor
    units of ``asset`` when the event names an issued asset, whose decimals only the node
    knows), deadlines as local time with the time left, times as local time, listing windows
    as durations."""
    if isinstance(value, str) and value.startswith("agora1"):
        return account(value, names)
    if isinstance(value, bool) or not isinstance(value, int):
        return value
    if name in AMOUNT_ATTRS:
        return agr(value) if asset == "AGR" else f"{value}u {asset}"
    if name in DEADLINE_ATTRS:
        return deadline(value)
    if name in TIME_ATTRS:
        return local_time(value) if value > 0 else "-"
    if name.endswith("_ms"):
        return duration(value)
    return value


def _attrs(attrs: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    asset = str(attrs.get("asset") or "AGR")
    return {key: _nested(key, value, names, asset) for key, value in attrs.items()}


def _nested(key: str, value: Any, names: Mapping[str, str], asset: str = "AGR") -> Any:
    if isinstance(value, Mapping):
        shown = {k: _nested(k, v, names, asset) for k, v in _quantities(value).items()}
        return ", ".join(f"{k}={v}" for k, v in shown.items() if v is not None and v != "")  # unset parts left out
    if isinstance(value, list):
        return "; ".join(str(_nested(key, v, names, asset)) for v in value)
    return attr_value(key, value, names, asset)


def show_node(out: Output, status: dict[str, Any], url: str) -> None:
    """The node's own view of itself as a key/value table."""
    out.fields(
        f"Node {url}",
        [
            ("node id", status.get("node_id")),
            ("version", status.get("version")),
            ("validator", status.get("validator")),
            ("chain id", status.get("chain_id")),
            ("height", status.get("height")),
            ("consensus", f"round {status.get('round', 0)}, {status.get('step') or '-'}"),
            ("peers", status.get("peers", 0)),
            ("p2p", status.get("p2p_url") or "off"),
            ("sync", sync_line(status)),
            ("mempool", status.get("mempool_size")),
            ("min fee", agr(status.get("min_fee"))),
        ],
    )


def sync_line(status: dict[str, Any]) -> str:
    """'caught up', or how far a syncing node is: target, remaining blocks, blocks/s."""
    if not status.get("syncing"):
        return "caught up"
    height = int(status.get("height") or 0)
    target = int(status.get("sync_target_height") or height)
    rate = float(status.get("sync_blocks_per_second") or 0.0)
    return f"syncing to {target}: {target - height} blocks left at {rate:.0f} blocks/s"


def show_chain(out: Output, status: dict[str, Any], head: dict[str, Any]) -> None:
    """The chain as one node sees it: identity and head block."""
    out.fields(
        f"Chain {status.get('chain_id')}",
        [
            ("genesis hash", status.get("genesis_hash")),
            ("height", head.get("height")),
            ("head hash", head.get("hash")),
            ("head time", when(head.get("time_ms"))),
            ("state root", head.get("state_root")),
            ("min fee", agr(status.get("min_fee"))),
            ("mempool", status.get("mempool_size")),
        ],
    )


NO_DECIMALS: Final[Mapping[str, int]] = {}


def show_supply(out: Output, supply: dict[str, Any], decimals: Mapping[str, int] = NO_DECIMALS) -> None:
    """Per asset: total supply, in accounts, escrow, offers, funds, financing offers, fees paid; do they add up.

    Amounts are in the asset's unit when its ``decimals`` are known (AGR: 6), else in minor units.
    """
    known = {"AGR": 6, **decimals}

    def amount(value: Any, asset: str) -> str:
        if not isinstance(value, int) or value < 0 or asset not in known:
            return f"{value}u"
        return f"{format_amount(value, known[asset])} {asset} ({value})"

    rows = []
    for a in supply.get("assets") or []:
        asset = str(a.get("asset"))
        rows.append(
            (
                asset,
                amount(a.get("total_supply"), asset),
                amount(a.get("in_accounts"), asset),
                amount(a.get("in_escrow"), asset),
                amount(a.get("in_offers"), asset),
                amount(a.get("in_funds"), asset),
                amount(a.get("in_financing"), asset),
                amount(a.get("fees_paid"), asset),
                a.get("accounts"),
                "yes" if a.get("balanced") is True else "NO",
            )
        )
    out.table(
        f"Supply at height {supply.get('height')}",
        (
            "asset",
            "total supply",
            "in accounts",
            "in escrow",
            "in offers",
            "in funds",
            "in financing offers",
            "fees paid",
            "accounts",
            "adds up",
        ),
        rows,
    )
    out.info(str(supply.get("identity", "")))


def show_replay(out: Output, report: dict[str, Any]) -> None:
    """What ``agora chain replay`` recomputed and compared."""
    checked = report.get("accounts_checked")
    out.fields(
        "Replay",
        [
            ("height", report.get("height")),
            ("state root", report.get("state_root")),
            ("transactions", report.get("txs")),
            ("block events", report.get("block_events")),
            ("accounts compared", "not compared (the head kept moving)" if checked is None else checked),
            ("differences", len(report.get("mismatches") or [])),
        ],
    )


def show_block(out: Output, block: dict[str, Any]) -> None:
    """A block header and its transaction hashes."""
    out.fields(
        f"Block {block.get('height')}",
        [
            ("hash", block.get("hash")),
            ("time", when(block.get("time_ms"))),
            ("parent", block.get("parent_hash")),
            ("proposer", block.get("proposer")),
            ("tx root", block.get("tx_root")),
            ("state root", block.get("state_root")),
            ("validators", block.get("validators_hash")),
            ("last commit", block.get("last_commit_hash")),
            ("transactions", block.get("num_txs")),
        ],
    )
    txs = block.get("txs") or []
    if txs:
        out.table(None, ["#", "transaction"], list(enumerate(txs)))


def _body_rows(kind: str, body: dict[str, Any], names: Mapping[str, str]) -> list[tuple[str, Any]]:
    if kind == "transfer":
        asset = str(body.get("asset", "AGR"))
        rows: list[tuple[str, Any]] = [
            ("to", account(body.get("to"), names)),
            ("amount", agr(body.get("amount")) if asset == "AGR" else f"{body.get('amount')}u {asset}"),
        ]
        if body.get("memo"):
            rows.append(("memo", body.get("memo")))
        return rows
    return [(f"body.{key}", _nested(key, value, names)) for key, value in _quantities(body).items()]


def _quantities(fields: Mapping[str, Any]) -> Mapping[str, Any]:
    """``fields`` with an ``amount`` that sits beside a ``uom`` (a traced item's quantity, e.g. 800 KGM)
    shown in that unit rather than as AGR."""
    amount, uom = fields.get("amount"), fields.get("uom")
    if not isinstance(uom, str) or not uom or isinstance(amount, bool) or not isinstance(amount, int):
        return fields
    return {key: f"{amount} {uom}" if key == "amount" else value for key, value in fields.items() if key != "uom"}


def show_tx(out: Output, record: dict[str, Any], names: Mapping[str, str] = NO_NAMES) -> None:
    """A transaction, where it is, and its receipt (accounts with the wallet names in ``names``)."""
    tx = record.get("tx") or {}
    receipt = record.get("receipt") or {}
    kind = str(tx.get("kind", "?"))
    rows: list[tuple[str, Any]] = [
        ("hash", record.get("hash")),
        ("status", record.get("status")),
        ("height", record.get("height")),
        ("index", record.get("index")),
        ("kind", kind),
        ("from", account(tx.get("sender"), names)),
        *_body_rows(kind, tx.get("body") or {}, names),
        ("nonce", tx.get("nonce")),
        ("fee", agr(tx.get("fee"))),
    ]
    if receipt:
        code = receipt.get("code")
        result = "ok" if code == "ok" else f"FAILED: {code}"
        rows.append(("result", result))
        if receipt.get("message"):
            rows.append(("message", receipt.get("message")))
    out.fields(f"Transaction ({kind})", [(k, v) for k, v in rows if v is not None])
    events = receipt.get("events") or []
    if events:
        out.table(
            "Events",
            ["type", "attributes"],
            [(e.get("type"), _attrs(e.get("attrs") or {}, names)) for e in events],
        )
