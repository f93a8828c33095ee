"""How ``agora trace`` shows an item and its journey: a rich tree and a timeline table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cli.output import Output


def _label(item: dict[str, Any], names: dict[str, str]) -> str:
    from rich.markup import escape

    klass = item.get("class") or {}
    name = klass.get("name", "logistic unit" if item["kind"] == "sscc" else "")
    status = "[bold red]RECALLED[/]" if item["recalled"] else escape(item["disposition"])
    amount = "" if item["kind"] != "lot" else f" {item['remaining']}/{item['initial']} {item['uom']}"
    holder = names.get(item["custodian"], item["custodian"][:14] + "...")
    return f"[bold]{escape(item['key'])}[/] {escape(name)}{amount} · {status} · held by {escape(holder)}"


def _time(event: dict[str, Any]) -> str:
    try:
        return datetime.fromisoformat(event["eventTime"]).strftime("%Y-%m-%d %H:%M %z")
    except (KeyError, ValueError):
        return str(event.get("eventTime", "?"))


def _what(event: dict[str, Any]) -> str:
    if event["type"] == "TransformationEvent":
        ins = [q["epcClass"].split("/", 3)[-1] for q in event.get("inputQuantityList", [])]
        outs = [q["epcClass"].split("/", 3)[-1] for q in event.get("outputQuantityList", [])]
        return f"{', '.join(ins)} -> {', '.join(outs)}"
    if event["type"] == "AggregationEvent":
        children = [q["epcClass"] for q in event.get("childQuantityList", [])] + event.get("childEPCs", [])
        verb = "into" if event.get("action") == "ADD" else "out of"
        return f"{len(children)} item(s) {verb} {event['parentID'].split('/', 3)[-1]}"
    items = [q["epcClass"] for q in event.get("quantityList", [])] + event.get("epcList", [])
    return ", ".join(i.split("/", 3)[-1] for i in items)


def show_journey(out: Output, journey: dict[str, Any], names: dict[str, str]) -> None:
    """Print the upstream tree, then every event in time order."""
    from rich.markup import escape
    from rich.tree import Tree

    def grow(branch: Tree, node: dict[str, Any]) -> None:
        for child in node["upstream"]:
            via = {"input": "made from", "contents": "contains", "held": "held, since unpacked"}.get(child["via"], "")
            grow(branch.add(f"[dim]{via}[/] {_label(child['item'], names)}"), child)

    root = journey["tree"]
    tree = Tree(_label(root["item"], names))
    grow(tree, root)
    out.out.print(tree)
    rows = []
    for event in journey["timeline"]:
        actor = names.get(event.get("agora:actor", ""), event.get("agora:actor", "")[:14])
        where = (event.get("bizLocation") or event.get("readPoint") or {}).get("id", "")
        extra = event.get("agora:reason") or ", ".join(d["type"] for d in event.get("agora:documents", []))
        rows.append(
            [_time(event), event["bizStep"], event.get("disposition", ""), _what(event), actor, where, escape(extra)]
        )
    out.table("Timeline", ["time", "step", "disposition", "what", "by", "where", "documents / reason"], rows)
    if journey.get("truncated"):
        out.info("the journey is longer than one answer holds; it was cut short")


def show_item(out: Output, item: dict[str, Any]) -> None:
    """Print one item's fields."""
    rows = [
        ("key", item["key"]),
        ("digital link", item["digital_link"]),
        ("class", (item.get("class") or {}).get("name")),
        ("producer", item["producer"]),
        ("custodian", item["custodian"]),
        ("in transit to", item["in_transit_to"]),
        ("quantity", f"{item['remaining']} of {item['initial']} {item['uom']}"),
        ("disposition", item["disposition"]),
        ("recalled", f"yes, through {item['recalled_by']}" if item["recalled"] else "no"),
        ("packed in", item["parent"]),
        ("contains", ", ".join(item["children"]) or None),
        ("made from", ", ".join(item["inputs"]) or None),
        ("events", item["head"]["count"]),
        ("head chain", item["head"]["chain"]),
    ]
    out.fields(item["key"], rows)


def show_order_provenance(out: Output, provenance: dict[str, Any]) -> None:
    """The provenance lines of ``agora order show``."""
    item = provenance.get("item")
    if item is None:
        return
    label = "shipped with" if provenance.get("shipped_with") else "sells"
    rows: list[tuple[str, Any]] = [(label, item["key"]), ("digital link", item["digital_link"])]
    if item["recalled"]:
        rows.append(("RECALLED", f"through {item['recalled_by']}: see agora trace show {item['key']}"))
    out.fields("Provenance", rows)


def show_verified_receipt(out: Output, verified: Any, as_json: bool) -> None:
    """Print what a verified trace receipt proves: each step, then the events in block order."""
    from rich.markup import escape

    events = sorted(verified.events, key=lambda e: (e.height, e.index))
    if as_json:
        out.json(
            {
                "ok": True,
                "chain_id": verified.chain_id,
                "item": verified.item,
                "height": verified.height,
                "time_ms": verified.time_ms,
                "items": [{"key": k, "events": n} for k, n in verified.items],
                "events": [
                    {
                        "tx": e.tx_hash.hex(),
                        "height": e.height,
                        "block_time_ms": e.block_time_ms,
                        "kind": e.kind,
                        "records": [
                            {k: v.hex() if isinstance(v, bytes) else v for k, v in r.items()} for r in e.records
                        ],
                    }
                    for e in events
                ],
                "steps": list(verified.steps),
            }
        )
        return
    for step in verified.steps:
        out.info(f"[green]✓[/] {escape(step)}")
    rows = []
    for e in events:
        first = e.records[0]
        touched = sorted({str(r.get("item", "")) for r in e.records})
        shown = ", ".join(touched[:3]) + (f" (+{len(touched) - 3})" if len(touched) > 3 else "")
        rows.append(
            [e.height, e.kind, first.get("biz_step", ""), first.get("disposition", ""), shown, e.tx_hash.hex()[:16]]
        )
    out.table(f"Journey of {verified.item}, verified", ["block", "kind", "step", "disposition", "items", "tx"], rows)
    when = datetime.fromtimestamp(verified.time_ms / 1000).astimezone().strftime("%Y-%m-%d %H:%M:%S %z")
    out.out.print(
        f"[bold green]RECEIPT VERIFIED[/]: {len(events)} events of {len(verified.items)} items on chain "
        f"{escape(verified.chain_id)}, complete as of block {verified.height} ({when})"
    )
