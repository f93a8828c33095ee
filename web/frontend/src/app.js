// Agora pages: live updates over the node's event stream (/api/v1/events).
// Progressive enhancement: every page is complete without this script; it only keeps the
// home page's latest blocks and transactions and an order's timeline current. Text from
// the chain is only ever inserted as text (textContent), never as HTML.

const MAX_ROWS = 10;
const live = (name) => document.querySelector(`[data-live="${name}"]`);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const child of children) node.append(child);
  return node;
}

const short = (text, keep = 12) => (text.length <= keep + 1 ? text : `${text.slice(0, keep)}…`);
const link = (href, text, full) => el("a", full ? { href, class: "mono", title: full } : { href }, text);

function when(ms) {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? `${ms} ms` : `${d.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

function timeEl(ms) {
  const d = new Date(ms);
  return el("time", Number.isNaN(d.getTime()) ? {} : { datetime: d.toISOString().slice(0, 19) + "+00:00" }, when(ms));
}

// minor units of an asset with `decimals` digits after the point (null: unknown, shown as minor units)
function amount(minor, asset = "AGR", decimals = 6) {
  if (decimals === null || !Number.isInteger(decimals)) return `${minor.toLocaleString("en-US")}u ${asset}`;
  const unit = 10 ** decimals;
  const whole = Math.floor(minor / unit);
  const frac = decimals ? String(minor % unit).padStart(decimals, "0").replace(/0+$/, "") : "";
  return `${whole.toLocaleString("en-US")}${frac ? "." + frac : ""} ${asset}`;
}

// the decimals of each asset, read once from the node (null: not issued or unreadable)
const decimalsCache = new Map([["AGR", Promise.resolve(6)]]);
function decimalsOf(asset) {
  if (!decimalsCache.has(asset)) {
    const found = fetch(`/api/v1/assets/${encodeURIComponent(asset)}`)
      .then((r) => (r.ok ? r.json() : {}))
      .then((body) => (Number.isInteger(body.decimals) ? body.decimals : null))
      .catch(() => null);
    decimalsCache.set(asset, found);
  }
  return decimalsCache.get(asset);
}

function say(text) {
  const status = document.getElementById("live-status");
  if (status) status.textContent = text;
}

function cell(...children) {
  return el("td", {}, ...children);
}

function prependRow(body, row) {
  for (const empty of body.querySelectorAll("tr.empty")) empty.remove();
  row.classList.add("fresh");
  body.prepend(row);
  while (body.rows.length > MAX_ROWS) body.deleteRow(body.rows.length - 1);
}

async function getJson(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

// --- the explorer's home page ---------------------------------------------------------

function homePage() {
  const heightEl = live("height");
  const blocks = live("blocks");
  const txs = live("txs");
  let shown = Number(heightEl.textContent);
  const reloadValidators = fragmentReloader("validators");

  async function addTxRows(block) {
    const hashes = block.txs.slice(-MAX_ROWS);
    const records = await Promise.all(hashes.map((h) => getJson(`/api/v1/txs/${h}`).catch(() => null)));
    records.forEach((record, i) => {
      const hash = hashes[i];
      const row = el(
        "tr",
        {},
        cell(link(`/tx/${hash}`, short(hash), hash)),
        cell(link(`/block/${block.height}`, String(block.height))),
        cell(record ? record.tx.kind : ""),
        cell(record ? link(`/address/${record.tx.sender}`, short(record.tx.sender, 14), record.tx.sender) : ""),
        cell(record && record.receipt ? record.receipt.code : ""),
      );
      prependRow(txs, row);
    });
  }

  function addBlock(block) {
    if (block.height <= shown) return;
    shown = block.height;
    heightEl.textContent = String(block.height);
    const head = document.getElementById("head-hash");
    head.textContent = short(block.hash);
    head.title = block.hash;
    document.getElementById("head-time").replaceChildren(timeEl(block.time_ms));
    const row = el(
      "tr",
      {},
      cell(link(`/block/${block.height}`, String(block.height))),
      cell(link(`/block/${block.hash}`, short(block.hash), block.hash)),
      cell(String(block.num_txs)),
      cell(timeEl(block.time_ms)),
      cell(link(`/address/${block.proposer}`, short(block.proposer, 14), block.proposer)),
    );
    prependRow(blocks, row);
    reloadValidators();
    if (block.txs.length) addTxRows(block).catch(() => say("Could not load a new block's transactions."));
  }

  // blocks committed between the page's rendering and the stream's opening are fetched once
  async function catchUp() {
    const status = await getJson("/api/v1/status");
    const from = Math.max(shown + 1, status.height - MAX_ROWS + 1);
    for (let h = from; h <= status.height; h++) addBlock(await getJson(`/api/v1/blocks/${h}`));
  }

  stream("/api/v1/events?types=block", { block: addBlock }, catchUp, "new blocks appear as they commit");
}

// --- an order's page ---------------------------------------------------------------------

function orderPage(orderId) {
  const timeline = live("timeline");

  async function refresh() {
    const order = await getJson(`/api/v1/orders/${orderId}`);
    live("order-state").textContent = order.state;
    const actions = document.getElementById("order-actions");
    if (actions && actions.dataset.state !== order.state && !actions.dataset.stale) {
      // what the parties may do next has changed: the forms above are for the old state
      actions.dataset.stale = "1";
      for (const form of actions.querySelectorAll("form")) form.hidden = true;
      const note = el("p", {}, `The order is now ${order.state}. `, link(window.location.pathname, "Reload"), " to act on it.");
      actions.append(note);
    }
    const escrow = document.getElementById("order-escrow");
    const places = escrow.dataset.decimals ? Number(escrow.dataset.decimals) : null;
    escrow.textContent = amount(order.escrow, escrow.dataset.asset || "AGR", places);
    const items = order.history.map((h) => {
      const who = h.actor
        ? el("span", { class: "who" }, "by ", link(`/address/${h.actor}`, short(h.actor, 14), h.actor))
        : el("span", { class: "who" }, "by the chain at a deadline");
      const item = el(
        "li",
        {},
        el("strong", {}, h.action),
        ` → ${h.state}`,
        el("span", { class: "when" }, "block ", link(`/block/${h.height}`, String(h.height)), ", ", timeEl(h.time_ms)),
        who,
      );
      if (h.note) item.append(el("span", { class: "note" }, h.note));
      return item;
    });
    timeline.replaceChildren(...items);
  }

  const onOrder = () => refresh().catch(() => say("Could not load the order's new state."));
  stream(`/api/v1/events?types=order&order=${orderId}`, { order: onOrder }, refresh, "the timeline follows the order");
}

// --- server-rendered parts (KPIs, validators) reloaded when an event says they changed ----

function fragmentReloader(id) {
  let pending = null;
  async function reload() {
    const box = document.getElementById(id);
    if (!box) return;
    const response = await fetch(box.dataset.fragment, { headers: { Accept: "text/html" } });
    if (!response.ok) throw new Error(`${box.dataset.fragment}: ${response.status}`);
    // the fragment is the node's own escaped HTML; parsing it runs no script (the CSP forbids inline ones)
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html").getElementById(id);
    if (fresh && Number(fresh.dataset.height) >= Number(box.dataset.height)) box.replaceWith(fresh);
  }
  return () => {
    if (pending) return;
    pending = setTimeout(() => {
      pending = null;
      reload().catch(() => say("Could not reload a live part of the page."));
    }, 300);
  };
}

function marketPage() {
  const reload = fragmentReloader("kpis");
  stream("/api/v1/events?types=order,review", { order: reload, review: reload }, async () => reload(), "the KPIs follow new orders");
}

// --- a merchant's dashboard ----------------------------------------------------------------

function merchantPage(merchant) {
  const list = live("merchant-orders");
  const reloadKpis = fragmentReloader("kpis");
  function onOrder(e) {
    reloadKpis();
    const asset = e.asset || "AGR";
    const total = el("span", { "data-total": asset }, amount(e.total, asset, asset === "AGR" ? 6 : null));
    decimalsOf(asset).then((places) => {
      total.textContent = amount(e.total, asset, places);
    });
    const item = el(
      "li",
      { class: "fresh" },
      e.prev_state ? "Order " : "New order ",
      link(`/order/${e.order_id}`, short(e.order_id), e.order_id),
      `: ${e.action} → ${e.state}, ${e.quantity} for `,
      total,
      ", block ",
      link(`/block/${e.height}`, String(e.height)),
    );
    list.prepend(item);
    while (list.children.length > 50) list.lastElementChild.remove();
  }
  const url = `/api/v1/events?types=order,review&merchant=${encodeURIComponent(merchant)}`;
  stream(url, { order: onOrder, review: reloadKpis }, async () => reloadKpis(), "new orders appear as they are placed");
}

// --- the stream ---------------------------------------------------------------------------

function stream(url, handlers, onOpen, what) {
  const source = new EventSource(url);
  source.addEventListener("open", () => {
    onOpen()
      .then(() => {
        document.body.dataset.live = "open";
        say(`Live: ${what}.`);
      })
      .catch(() => say("Live updates are connected, but catching up failed."));
  });
  source.addEventListener("error", () => {
    document.body.dataset.live = "reconnecting";
    say("Live updates paused; reconnecting…");
  });
  for (const [name, handler] of Object.entries(handlers)) {
    source.addEventListener(name, (event) => handler(JSON.parse(event.data)));
  }
}

const page = document.body.dataset.page;
if (page === "home" && live("blocks")) homePage();
if (page === "order" && document.body.dataset.order) orderPage(document.body.dataset.order);
if (page === "market" && document.getElementById("kpis")) marketPage();
if (page === "merchant" && document.body.dataset.merchant) merchantPage(document.body.dataset.merchant);
