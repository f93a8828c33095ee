"""Human views of listings, orders, reputation and live order events (the node's JSON records)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cli.output import Output
from cli.pricing import listing_assets, money
from cli.render import NO_NAMES, account, deadline, duration, when

Decimals = Mapping[str, int] | None
"""The decimals of the issued assets a view shows (cli.pricing.asset_decimals); AGR needs none."""


def prices_text(listing: dict[str, Any], decimals: Decimals = None) -> str:
    """Every unit price of a listing, its own asset first ("12 USDX (1200) | 10 EURX (1000)")."""
    return " | ".join(money(p.get("price"), str(p.get("asset")), decimals) for p in listing_assets(listing))


def show_listing(
    out: Output, listing: dict[str, Any], names: Mapping[str, str] = NO_NAMES, decimals: Decimals = None
) -> None:
    """One listing with its prices in each asset's unit, its shipping options and arbiters
    (windows as durations such as "2d")."""
    windows = listing.get("windows") or {}
    prices = listing_assets(listing)
    out.fields(
        f"Listing {listing.get('title')!r}",
        [
            ("id", listing.get("id")),
            ("merchant", account(listing.get("merchant"), names)),
            ("status", listing.get("status")),
            ("price", prices_text(listing, decimals)),
            ("stock", listing.get("stock")),
            ("description", listing.get("description") or None),
            ("windows", {k.removesuffix("_ms"): duration(int(v)) for k, v in windows.items()}),
            ("created", when(listing.get("created_ms"))),
            ("updated", when(listing.get("updated_ms"))),
        ],
    )
    out.table(
        "Shipping options",
        ["#", "name", *(f"price in {p.get('asset')}" for p in prices)],
        [
            (
                s.get("index"),
                s.get("name"),
                *(_nth_shipping(p, i, decimals) for p in prices),
            )
            for i, s in enumerate(listing.get("shipping") or [])
        ],
    )
    arbiters = listing.get("arbiters") or []
    if arbiters:
        out.table(
            "Accepted arbiters",
            ["arbiter", "fee (bps)"],
            [(account(a.get("arbiter"), names), a.get("fee_bps")) for a in arbiters],
        )


def _nth_shipping(price: dict[str, Any], index: int, decimals: Decimals) -> str:
    shipping = price.get("shipping") or []
    return money(shipping[index], str(price.get("asset")), decimals) if index < len(shipping) else "-"


def show_listings(out: Output, page: dict[str, Any], decimals: Decimals = None) -> None:
    """A page of listings as a table, and how to get the next one."""
    items = page.get("items") or []
    if not items:
        out.info("no listings match")
    else:
        out.table(
            None,
            ["id", "title", "price", "stock", "status", "merchant"],
            [
                (
                    i.get("id"),
                    i.get("title"),
                    prices_text(i, decimals),
                    i.get("stock"),
                    i.get("status"),
                    i.get("merchant"),
                )
                for i in items
            ],
        )
    _more(out, page)


def _redeemed(redeemed: Any, paid: Any) -> str | None:
    if not isinstance(redeemed, dict):
        return None
    return f"{redeemed.get('points')} points, {paid(redeemed.get('discount'))} off (borne by the merchant)"


def show_order(
    out: Output,
    order: dict[str, Any],
    opened: dict[str, str],
    names: Mapping[str, str] = NO_NAMES,
    decimals: Decimals = None,
) -> None:
    """An order, what the local key could decrypt (``opened``), its review and its full history
    (amounts in the order's asset, accounts with the wallet names in ``names``, the deadline as
    local time and time left)."""
    ruling = order.get("ruling")
    asset = str(order.get("asset") or "AGR")

    def paid(minor: Any) -> str:
        return money(minor, asset, decimals)

    rows: list[tuple[str, Any]] = [
        ("id", order.get("id")),
        ("listing", order.get("listing_id")),
        ("state", order.get("state")),
        ("buyer", account(order.get("buyer"), names)),
        ("merchant", account(order.get("merchant"), names)),
        ("arbiter", account(order.get("arbiter"), names)),
        ("quantity", order.get("quantity")),
        ("paid in", asset),
        ("unit price", paid(order.get("unit_price"))),
        ("shipping", paid(order.get("shipping_price"))),
        ("total", paid(order.get("total"))),
        ("in escrow", paid(order.get("escrow"))),
        ("points redeemed", _redeemed(order.get("points_redeemed"), paid)),
        ("financed by", account(order.get("financed_by"), names)),
        ("deadline", deadline(order.get("deadline_ms")) if order.get("deadline_ms") else None),
        ("disputed by", account(order.get("disputed_by"), names)),
    ]
    if ruling:
        rows.append(("ruling", {k: paid(v) for k, v in ruling.items()}))
    rows.extend(opened.items())
    rows.extend(sealed_hints(order, opened))
    out.fields(f"Order ({order.get('state')})", [(k, v) for k, v in rows if v is not None])
    review = order.get("review")
    if review:
        out.fields(
            "Review",
            [
                ("rating", f"{review.get('rating')}/5"),
                ("comment", review.get("comment")),
                ("reply", review.get("reply")),
            ],
        )
    out.table(
        "History",
        ["time", "height", "action", "state", "by", "made by", "note"],
        [
            (
                when(h.get("time_ms")),
                h.get("height"),
                h.get("action"),
                h.get("state"),
                "chain (deadline)" if h.get("automatic") else account(h.get("actor"), names),
                made_by(h.get("made_by")),
                h.get("note") or "",
            )
            for h in order.get("history") or []
        ],
    )


def made_by(value: Any) -> str:
    """A history entry's origin: the transaction's hash (its first 16 digits; --json has it all),
    or the block whose begin-block step made it."""
    if isinstance(value, dict):
        if isinstance(value.get("tx_hash"), str):
            return f"tx {value['tx_hash'][:16]}…"
        if isinstance(value.get("block_event_height"), int):
            return f"block {value['block_event_height']} (deadline step)"
    return "unknown"


SEALED_FIELDS = (
    ("delivery details", "delivery", "merchant"),
    ("tracking", "tracking", "buyer"),
    ("return tracking", "return_tracking", "merchant"),
)
"""(label, order field, the party it is sealed to)."""


def sealed_hints(order: dict[str, Any], opened: dict[str, str]) -> list[tuple[str, str]]:
    """A row for each sealed field that is set but was not decrypted, saying how to read it."""
    return [
        (label, f"encrypted: add --as <the {party}'s wallet> to read it")
        for label, name, party in SEALED_FIELDS
        if order.get(name) and label not in opened
    ]


def show_orders(out: Output, page: dict[str, Any], decimals: Decimals = None) -> None:
    """A page of orders as a table, and how to get the next one."""
    items = page.get("items") or []
    if not items:
        out.info("no orders match")
    else:
        out.table(
            None,
            ["id", "state", "total", "qty", "buyer", "merchant", "deadline"],
            [
                (
                    o.get("id"),
                    o.get("state"),
                    money(o.get("total"), str(o.get("asset") or "AGR"), decimals),
                    o.get("quantity"),
                    o.get("buyer"),
                    o.get("merchant"),
                    deadline(o.get("deadline_ms")) if o.get("deadline_ms") else "-",
                )
                for o in items
            ],
        )
    _more(out, page)


def show_reputation(out: Output, rep: dict[str, Any]) -> None:
    """A merchant's reputation."""
    reviews = int(rep.get("reviews") or 0)
    mean = f"{int(rep.get('mean_rating_milli') or 0) / 1000:.2f}/5" if reviews else "-"
    rate = f"{int(rep.get('dispute_rate_bps') or 0) / 100:.2f} %"
    out.fields(
        f"Reputation of {rep.get('merchant')}",
        [
            ("reviews", reviews),
            ("mean rating", mean),
            ("closed orders", rep.get("closed_orders")),
            ("settled", rep.get("settled_orders")),
            ("refunded", rep.get("refunded_orders")),
            ("disputed", rep.get("disputed_orders")),
            ("dispute rate", rate),
        ],
    )


def show_ratings(out: Output, ratings: dict[str, Any]) -> None:
    """How many reviews gave each rating, with a bar per rating."""
    counts = {int(k): int(v) for k, v in (ratings.get("counts") or {}).items()}
    total = sum(counts.values())
    if total == 0:
        out.info("no reviews yet")
        return
    title = "Ratings" if ratings.get("complete", True) else "Ratings (oldest orders only: the merchant has more)"
    widest = max(counts.values())
    out.table(
        title,
        ["rating", "reviews", ""],
        [(f"{r}/5", counts.get(r, 0), "#" * round(20 * counts.get(r, 0) / widest)) for r in range(5, 0, -1)],
    )


def event_line(name: str, event: dict[str, Any], names: Mapping[str, str] = NO_NAMES) -> str:
    """One line for a live market event (new orders stand out; accounts with their wallet
    names, the next deadline as local time and time left)."""
    if name != "order":
        return f"{when(event.get('time_ms'))}  {name}  {event.get('order_id') or event.get('listing_id') or ''}"
    headline = "NEW ORDER" if event.get("action") == "place" else str(event.get("action"))
    who = "chain (deadline)" if event.get("automatic") else account(event.get("actor"), names)
    due = event.get("deadline_ms")
    next_due = f"  next deadline {deadline(due)}" if isinstance(due, int) and due > 0 else ""
    return (
        f"{when(event.get('time_ms'))}  {headline}  order {event.get('order_id')}  "
        f"{event.get('prev_state') or '-'} -> {event.get('state')}  "
        f"total {money(event.get('total'), str(event.get('asset') or 'AGR'))}  by {who}"
        f"{next_due}"
    )


def _more(out: Output, page: dict[str, Any]) -> None:
    cursor = page.get("next_cursor")
    if cursor:
        out.info(f"more results: repeat with  [bold]--cursor {cursor}[/]")


def _rate(part: Mapping[str, Any]) -> str:
    rate = part.get("rate")
    shown = "-" if rate is None else f"{float(rate) * 100:.1f} %"
    return f"{shown} ({part.get('count')} of {part.get('of')})"


def _volume(asset: str, minor: Any) -> str:
    return money(int(minor), asset)


def show_stats(out: Output, stats: dict[str, Any]) -> None:
    """The marketplace KPIs of GET /api/v1/market/stats: figures, orders by state, ratings, sales per day."""
    settlement = stats.get("settlement") or {}
    mean, p90 = settlement.get("mean_ms"), settlement.get("p90_ms")
    fees = stats.get("fees") or {}
    per_order = fees.get("per_order")
    volume = stats.get("sales_volume") or {}
    out.fields(
        f"Market KPIs of {stats.get('merchant') or 'the whole chain'} at height {stats.get('height')}",
        [
            ("orders", stats.get("orders")),
            ("trades (accepted)", stats.get("trades")),
            ("sales (settled)", stats.get("sales")),
            *((f"sales volume {asset}", _volume(asset, v)) for asset, v in sorted(volume.items())),
            ("time to settlement, mean", "-" if mean is None else duration(int(mean))),
            ("time to settlement, p90", "-" if p90 is None else duration(int(p90))),
            ("return rate", _rate(stats.get("return_rate") or {})),
            ("refund rate", _rate(stats.get("refund_rate") or {})),
            ("dispute rate", _rate(stats.get("dispute_rate") or {})),
            ("repeat-purchase rate", _rate(stats.get("repeat_purchase_rate") or {})),
            ("fees paid", money(int(fees.get("total") or 0))),
            ("fees per order", "-" if per_order is None else money(int(per_order))),
        ],
    )
    states = [(s, n) for s, n in (stats.get("orders_by_state") or {}).items() if n]
    out.table("Orders by state", ["state", "orders"], states)
    ratings = stats.get("ratings") or {}
    show_ratings(out, {"counts": ratings.get("distribution") or {}})
    out.table(
        "Sales per day (UTC)",
        ["day", "sales", "volume"],
        [
            (
                when(d.get("day"))[:10],
                d.get("sales"),
                ", ".join(_volume(a, v) for a, v in (d.get("volume") or {}).items()),
            )
            for d in stats.get("sales_per_day") or []
        ],
    )
