// Agora wallet in the browser: a key created or imported here, kept encrypted in this
// browser's localStorage (scrypt + NaCl secretbox) and never sent to the node; orders
// signed here (Ed25519 over the canonical msgpack of chain/tx.py's signing message) with
// the delivery address sealed to the merchant (libsodium's crypto_box_seal construction).

import { encode } from "@msgpack/msgpack";
import { blake2b } from "@noble/hashes/blake2.js";
import { scryptAsync } from "@noble/hashes/scrypt.js";
import { bech32m } from "@scure/base";
import ed2curve from "ed2curve";
import nacl from "tweetnacl";

const STORE = "agora.wallet.v1";
const TX_DOMAIN = "agora/tx/v1";
const KDF = { N: 2 ** 15, r: 8, p: 1, dkLen: 32 };
const MIN_PASSWORD = 8;
const MAX_DELIVERY_BYTES = 1024 - 48; // market/limits.py: MAX_CIPHERTEXT - SEALED_BOX_OVERHEAD
const COMMIT_DEADLINE_MS = 30_000;

const $ = (id) => document.getElementById(id);
const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const text = new TextEncoder();

function unhex(s) {
  if (!/^([0-9a-fA-F]{2})*$/.test(s)) throw new Error("not hex");
  return Uint8Array.from(s.match(/../g) || [], (b) => parseInt(b, 16));
}

export const address = (publicKey) => bech32m.encode("agora", bech32m.toWords(publicKey));

class WalletError extends Error {}

// --- the encrypted key in localStorage ------------------------------------------------------

function stored() {
  const raw = localStorage.getItem(STORE);
  if (!raw) return null;
  try {
    const w = JSON.parse(raw);
    return typeof w.address === "string" && typeof w.box === "string" ? w : null;
  } catch {
    return null;
  }
}

async function derive(password, salt) {
  return scryptAsync(text.encode(password), salt, KDF);
}

async function save(seed, password) {
  if (password.length < MIN_PASSWORD) throw new WalletError(`The password needs at least ${MIN_PASSWORD} characters.`);
  const pair = nacl.sign.keyPair.fromSeed(seed);
  const salt = nacl.randomBytes(16);
  const nonce = nacl.randomBytes(nacl.secretbox.nonceLength);
  const box = nacl.secretbox(seed, nonce, await derive(password, salt));
  const wallet = {
    v: 1,
    address: address(pair.publicKey),
    public_key: hex(pair.publicKey),
    kdf: { name: "scrypt", N: KDF.N, r: KDF.r, p: KDF.p },
    salt: hex(salt),
    nonce: hex(nonce),
    box: hex(box),
  };
  localStorage.setItem(STORE, JSON.stringify(wallet));
  return wallet;
}

async function unlock(wallet, password) {
  const key = await scryptAsync(text.encode(password), unhex(wallet.salt), {
    N: wallet.kdf.N,
    r: wallet.kdf.r,
    p: wallet.kdf.p,
    dkLen: 32,
  });
  const seed = nacl.secretbox.open(unhex(wallet.box), unhex(wallet.nonce), key);
  if (!seed) throw new WalletError("Wrong password: the key was not unlocked.");
  return nacl.sign.keyPair.fromSeed(seed);
}

// --- transactions -------------------------------------------------------------------------

function safeInt(value, what) {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new WalletError(`${what} must be a whole number.`);
  return n;
}

export function signTransaction(pair, chainId, nonce, fee, kind, body) {
  const sender = pair.publicKey;
  const message = encode([TX_DOMAIN, chainId, [sender, nonce, fee, kind, body]]);
  const signature = nacl.sign.detached(message, pair.secretKey);
  return encode([chainId, sender, nonce, fee, kind, body, signature]);
}

export function sealFor(recipientEdKey, plaintext) {
  const recipient = ed2curve.convertPublicKey(recipientEdKey);
  if (!recipient) throw new WalletError("The merchant's key cannot receive sealed messages.");
  const eph = nacl.box.keyPair();
  const nonce = blake2b(new Uint8Array([...eph.publicKey, ...recipient]), { dkLen: nacl.box.nonceLength });
  const box = nacl.box(plaintext, nonce, recipient, eph.secretKey);
  const out = new Uint8Array(eph.publicKey.length + box.length);
  out.set(eph.publicKey);
  out.set(box, eph.publicKey.length);
  return out;
}

async function api(path, init) {
  const response = await fetch(path, init);
  const body = await response.json().catch(() => ({}));
  return { status: response.status, body };
}

async function submit(pair, kind, body) {
  const status = await api("/api/v1/status");
  const account = await api(`/api/v1/accounts/${address(pair.publicKey)}`);
  const nonce = account.status === 200 ? account.body.pending_nonce : 0;
  const raw = signTransaction(pair, status.body.chain_id, nonce, status.body.min_fee, kind, body);
  const sent = await api("/api/v1/txs", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ tx: hex(raw) }),
  });
  if (sent.status !== 202) throw new WalletError(`The node refused the transaction: ${sent.body.detail || sent.status}`);
  return sent.body.hash;
}

async function committed(hash, deadline = Date.now() + COMMIT_DEADLINE_MS) {
  while (Date.now() < deadline) {
    const got = await api(`/api/v1/txs/${hash}`);
    if (got.status === 200 && got.body.status === "committed") return got.body;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  throw new WalletError("The transaction was sent but is not committed yet; look it up later.");
}

// --- the wallet page ------------------------------------------------------------------------

function say(id, message, bad = false) {
  const el = $(id);
  el.textContent = message;
  el.classList.toggle("bad", bad);
}

async function showWallet() {
  const wallet = stored();
  $("wallet-current").hidden = !wallet;
  if (!wallet) return;
  const link = $("wallet-address");
  link.textContent = wallet.address;
  link.href = `/address/${wallet.address}`;
  $("wallet-dashboard").href = `/merchant/${wallet.address}`;
  const account = await api(`/api/v1/accounts/${wallet.address}`);
  $("wallet-balance").textContent =
    account.status === 200 ? `${account.body.balances.AGR / 1e6} AGR` : "0 AGR (not funded yet)";
}

function walletPage() {
  $("wallet").hidden = false;
  const guard = (id, action) =>
    $(id).addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await action();
        await showWallet();
      } catch (err) {
        say("wallet-message", err instanceof WalletError ? err.message : `Failed: ${err.message}`, true);
      }
    });
  guard("wallet-create", async () => {
    const password = $("create-password").value;
    if (password !== $("create-confirm").value) throw new WalletError("The two passwords differ.");
    say("wallet-message", "Creating the key…");
    const wallet = await save(nacl.randomBytes(32), password);
    say("wallet-message", `Key created: ${wallet.address}. It is kept encrypted in this browser only.`);
  });
  guard("wallet-import", async () => {
    let seed;
    try {
      seed = unhex($("import-seed").value.trim());
    } catch {
      seed = null;
    }
    if (!seed || seed.length !== 32) throw new WalletError("A secret key is 64 hex digits.");
    const wallet = await save(seed, $("import-password").value);
    say("wallet-message", `Key imported: ${wallet.address}.`);
  });
  $("wallet-forget").addEventListener("click", async () => {
    localStorage.removeItem(STORE);
    say("wallet-message", "The key was removed from this browser.");
    await showWallet();
  });
  showWallet().catch(() => say("wallet-message", "Could not read the balance.", true));
}

// --- buying on a listing page ---------------------------------------------------------------

function buyForm() {
  const section = $("buy");
  const wallet = stored();
  section.hidden = false;
  if (!wallet) {
    $("buy-form").hidden = true;
    $("buy-wallet").hidden = false;
    return;
  }
  $("buy-from").textContent = wallet.address;
  const payChoice = $("buy-pay");
  const showConversion = () => {
    const pay = payChoice.selectedOptions[0];
    const converting = Boolean(pay && pay.dataset.payWith);
    $("buy-convert").hidden = !converting;
    $("buy-max-rate").required = converting;
    if (converting) {
      $("buy-pay-unit").textContent = pay.dataset.payWith;
      $("buy-order-unit").textContent = pay.dataset.asset;
    }
    // the shipping prices of the asset the order is priced in
    const label = `data-label-${(pay ? pay.dataset.asset : "").toLowerCase()}`;
    for (const option of $("buy-ship").options) {
      if (option.hasAttribute(label)) option.textContent = option.getAttribute(label);
    }
  };
  payChoice.addEventListener("change", showConversion);
  showConversion();
  $("buy-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = $("buy-submit");
    button.disabled = true;
    try {
      const quantity = safeInt($("buy-qty").value, "The quantity");
      const ship = $("buy-ship").selectedOptions[0];
      const delivery = text.encode($("buy-delivery").value);
      if (delivery.length > MAX_DELIVERY_BYTES) throw new WalletError("The delivery address is too long.");
      // the node checks the order as `agora order place` does, before anything is signed
      const pay = payChoice.selectedOptions[0];
      const params = new URLSearchParams({
        buyer: wallet.address,
        asset: pay.dataset.asset,
        quantity: String(quantity),
        shipping: String(safeInt(ship.value, "The shipping option")),
      });
      if (pay.dataset.payWith) {
        const rate = $("buy-max-rate").value.trim();
        if (!rate) throw new WalletError(`Give the most you pay, in ${pay.dataset.payWith} per ${pay.dataset.asset}.`);
        params.set("pay_with", pay.dataset.payWith);
        params.set("max_rate", rate);
      }
      const points = $("buy-redeem") ? $("buy-redeem").value.trim() || "0" : "0";
      if (!/^\d{1,20}$/.test(points)) throw new WalletError("The points to redeem must be a whole number.");
      if (!/^0+$/.test(points)) params.set("redeem", points);
      const arbiter = $("buy-arbiter").value;
      if (arbiter) params.set("arbiter", arbiter); // the quote checks the listing accepts this arbiter
      say("buy-result", "Checking the order…");
      const quote = await api(`/listing/${section.dataset.listing}/quote?${params}`);
      if (quote.status !== 200) throw new WalletError(`Not sent: ${quote.body.detail || `the node answered ${quote.status}`}`);
      const q = quote.body;
      if (q.unit_price !== safeInt(pay.dataset.price, "The price")) {
        throw new WalletError("Not sent: the price changed since this page was loaded; reload it.");
      }
      say("buy-result", `Unlocking your key… (${q.summary})`);
      const pair = await unlock(wallet, $("buy-password").value);
      const body = [
        unhex(section.dataset.listing),
        quantity,
        safeInt(ship.value, "The shipping option"),
        safeInt(q.unit_price, "The price"),
        safeInt(q.shipping_price, "The shipping price"),
        arbiter ? unhex(arbiter) : new Uint8Array(0),
        sealFor(unhex(section.dataset.merchantKey), delivery),
      ];
      // the order's asset ("" for the listing's own) and the conversion or null, then the points
      if (q.asset || q.redeem) body.push(q.asset, q.conversion);
      if (q.redeem) body.push(safeInt(q.redeem, "The points to redeem"));
      say("buy-result", "Signing and sending the order…");
      const hash = await submit(pair, "order.place", body);
      const record = await committed(hash);
      if (record.receipt.code !== "ok") {
        throw new WalletError(`The chain refused the order: ${record.receipt.code} ${record.receipt.message}`);
      }
      say("buy-result", "Order placed.");
      window.location.assign(`/order/${hash}`);
    } catch (err) {
      say("buy-result", err instanceof WalletError ? err.message : `Failed: ${err.message}`, true);
    } finally {
      button.disabled = false;
    }
  });
}

// --- acting on an order's page ------------------------------------------------------------

function orderActions() {
  const section = $("order-actions");
  const wallet = stored();
  if (!wallet) return;
  const d = section.dataset;
  const role = wallet.public_key === d.buyerKey ? "buyer" : wallet.public_key === d.merchantKey ? "merchant" : "";
  if (!role) return;
  const forms = [...section.querySelectorAll("form.order-action")].filter(
    (f) => f.dataset.role === role || f.dataset.role === "party",
  );
  if (!forms.length) return;
  section.hidden = false;
  $("act-who").textContent = `You are this order's ${role} (${wallet.address}).`;
  for (const form of forms) {
    form.hidden = false;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = form.querySelector("button");
      button.disabled = true;
      try {
        const f = form.elements;
        const action = form.dataset.action;
        const orderId = unhex(d.order);
        let body = [orderId];
        if (form.dataset.shape === "note") body = [orderId, f.note.value];
        if (form.dataset.shape === "review") body = [orderId, safeInt(f.rating.value, "The rating"), f.comment.value];
        if (form.dataset.shape === "sealed") {
          const to = form.dataset.sealTo === "buyer" ? d.buyerKey : d.merchantKey;
          const tracking = text.encode(f.tracking.value);
          if (tracking.length > MAX_DELIVERY_BYTES) throw new WalletError("The tracking reference is too long.");
          body = [orderId, sealFor(unhex(to), tracking)];
        }
        say("act-result", "Unlocking your key…");
        const pair = await unlock(wallet, f.password.value);
        say("act-result", "Signing and sending…");
        const record = await committed(await submit(pair, `order.${action}`, body));
        if (record.receipt.code !== "ok") {
          throw new WalletError(`The chain refused it: ${record.receipt.code} ${record.receipt.message}`);
        }
        say("act-result", "Done.");
        window.location.reload();
      } catch (err) {
        say("act-result", err instanceof WalletError ? err.message : `Failed: ${err.message}`, true);
      } finally {
        button.disabled = false;
      }
    });
  }
}

if ($("wallet")) walletPage();
if ($("buy")) buyForm();
if ($("order-actions")) orderActions();
