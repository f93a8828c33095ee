// Agora trace receipts verified in the browser: the same checks as market/provenance/receipt.py
// (and chain/light_client.py under it), byte for byte: canonical msgpack (chain/encoding.py),
// SHA-256 header and validator-set hashes, Ed25519 precommit signatures over
// ["agora/vote/v1", chain id, [2, height, round, block hash]], RFC 6962 Merkle paths
// (chain/merkle.py) and the state tree's proofs (chain/state_tree.py). The only thing trusted
// is the genesis hash in the page's field; the receipt's bytes come from the node or a file.

import { ExtData, decode, encode } from "@msgpack/msgpack";
import { sha256 } from "@noble/hashes/sha2.js";
import nacl from "tweetnacl";

const MAGIC = "agora/trace-receipt";
const VERSION = 1;
const GENESIS_DOMAIN = "agora/genesis/v1";
const VOTE_DOMAIN = "agora/vote/v1";
const PRECOMMIT = 2;
const HEAD_PREFIX = "mkt/pv/head/";
const MAX_RECEIPT_BYTES = 64 * 1024 * 1024;
const CODEC = { useBigInt64: true };
// Ed25519 group order: libsodium (PyNaCl) refuses a signature whose S is not below it
const ORDER = (1n << 252n) + 27742317777372353535851937790883648493n;

const utf8 = new TextEncoder();
const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const short = (bytes, n = 16) => hex(bytes).slice(0, n);

export class ReceiptError extends Error {
  constructor(where, reason, message) {
    super(message);
    this.where = where;
    this.reason = reason;
  }
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function same(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function less(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] < b[i];
  return a.length < b.length;
}

const H = (...parts) => sha256(concat(...parts));
const big = (n) => BigInt(n);

// --- canonical decoding ------------------------------------------------------------------

function checkTree(value, depth) {
  if (depth > 32) throw new Error("value nested too deeply");
  if (Array.isArray(value)) {
    for (const v of value) checkTree(v, depth + 1);
  } else if (typeof value === "number") {
    if (!Number.isInteger(value)) throw new Error("type float is not allowed in canonical encoding");
  } else if (value instanceof ExtData) {
    throw new Error(`msgpack extension type ${value.type} is not allowed`);
  } else if (!(value === null || value instanceof Uint8Array || ["bigint", "string", "boolean"].includes(typeof value))) {
    throw new Error("type dict is not allowed in canonical encoding");
  }
}

// decode that accepts only the one canonical encoding (encode(decode(x)) == x), as Python's does
export function canonicalDecode(bytes) {
  const value = decode(bytes, CODEC);
  checkTree(value, 0);
  if (!same(encode(value, CODEC), bytes)) throw new Error("non-canonical encoding");
  return value;
}

const enc = (value) => encode(value, CODEC);

// --- field readers ---------------------------------------------------------------------------

function list(v, what, length) {
  if (!Array.isArray(v)) throw new Error(`${what}: expected a list`);
  if (length !== undefined && v.length !== length) throw new Error(`${what}: expected ${length} fields, got ${v.length}`);
  return v;
}
function bytes(v, what, size) {
  if (!(v instanceof Uint8Array)) throw new Error(`${what}: expected bytes`);
  if (size !== undefined && v.length !== size) throw new Error(`${what}: expected ${size} bytes, got ${v.length}`);
  return v;
}
function int(v, what, lo = 0) {
  if (typeof v !== "number" && typeof v !== "bigint") throw new Error(`${what}: expected an integer`);
  if (big(v) < big(lo)) throw new Error(`${what}: ${v} is below ${lo}`);
  return v;
}
function str(v, what) {
  if (typeof v !== "string") throw new Error(`${what}: expected a string`);
  return v;
}

function parse(where, fn) {
  try {
    return fn();
  } catch (exc) {
    if (exc instanceof ReceiptError) throw exc;
    throw new ReceiptError(where, "malformed", `not well-formed: ${exc.message}`);
  }
}

function validators(wire, what) {
  return list(wire, what).map((v, i) => {
    const f = list(v, `${what} ${i}`, 2);
    return { key: bytes(f[0], "validator key", 32), power: big(int(f[1], "power", 1)) };
  });
}

function header(wire) {
  const f = list(wire, "header", 12);
  return {
    wire,
    chainId: str(f[0], "chain_id"),
    height: Number(int(f[1], "height", 1)),
    timeMs: big(int(f[2], "time_ms")),
    parentHash: bytes(f[3], "parent_hash", 32),
    txRoot: bytes(f[4], "tx_root", 32),
    stateRoot: bytes(f[5], "state_root", 32),
    resultsRoot: bytes(f[6], "results_root", 32),
    validatorsHash: bytes(f[8], "validators_hash", 32),
    nextValidatorsHash: bytes(f[9], "next_validators_hash", 32),
    hash: H(enc(wire)),
  };
}

function lightBlock(wire) {
  const f = list(wire, "light block", 4);
  const c = list(f[1], "commit", 4);
  const sigs = list(c[3], "commit signatures").map((s) => {
    const pair = list(s, "commit signature", 2);
    return { key: bytes(pair[0], "validator", 32), sig: bytes(pair[1], "signature", 64) };
  });
  return {
    header: header(f[0]),
    commit: { height: c[0], round: int(c[1], "round"), blockHash: bytes(c[2], "block hash", 32), sigs },
    validators: validators(f[2], "validators"),
    validatorsWire: f[2],
    next: validators(f[3], "next validators"),
    nextWire: f[3],
  };
}

function merkle(wire, what) {
  const f = list(wire, what, 3);
  return {
    index: Number(int(f[0], `${what} index`)),
    size: Number(int(f[1], `${what} size`, 1)),
    path: list(f[2], `${what} path`).map((p) => bytes(p, `${what} sibling`, 32)),
  };
}

// --- framing diagnosis (market/provenance/receipt.py locate_framing_fault) --------------------
// When a file does not decode, walk its msgpack frames in the format's order and name the part,
// the field, its byte offset, what was expected and what was found, in the Python verifier's words.

const FIELDS = ["magic", "version", "genesis", "item key", "height", "light blocks", "events", "items"];
const FIELD_KINDS = ["a string", "an integer", "bytes", "a string", "an integer"];
const EVENT_FIELDS = [
  ["transaction", "bytes"],
  ["receipt", "bytes"],
  ["height", "an integer"],
  ["tx proof", "a proof"],
  ["result proof", "a proof"],
];
const ITEM_FIELDS = [
  ["item key", "a string"],
  ["head value", "bytes or nil"],
  ["head proof", "bytes"],
  ["event indices", "a list of event indices"],
];
const MARKERS = [
  [0x00, 0x7f, "a small integer"],
  [0x80, 0x8f, "a map"],
  [0x90, 0x9f, "an array"],
  [0xa0, 0xbf, "a string"],
  [0xc0, 0xc0, "nil"],
  [0xc1, 0xc1, "the unused byte 0xc1"],
  [0xc2, 0xc3, "a boolean"],
  [0xc4, 0xc6, "bytes"],
  [0xc7, 0xc9, "an extension"],
  [0xca, 0xcb, "a float"],
  [0xcc, 0xd3, "an integer"],
  [0xd4, 0xd8, "an extension"],
  [0xd9, 0xdb, "a string"],
  [0xdc, 0xdd, "an array"],
  [0xde, 0xdf, "a map"],
  [0xe0, 0xff, "a small negative integer"],
];

// What Python's strict UTF-8 decoder says of the first bad sequence in ``b`` ("byte 0x89 in
// position 8: invalid start byte"), or null if ``b`` is UTF-8
function utf8Fault(b) {
  const at = (i, j, why) =>
    j - i === 1 ? `byte 0x${b[i].toString(16).padStart(2, "0")} in position ${i}: ${why}` : `bytes in position ${i}-${j - 1}: ${why}`;
  for (let i = 0; i < b.length; ) {
    const c = b[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    const need = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : 0;
    if (!need) return at(i, i + 1, "invalid start byte");
    const lo = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
    for (let k = 1; k <= need; k++) {
      if (i + k >= b.length) return at(i, b.length, "unexpected end of data");
      const d = b[i + k];
      if (d < (k === 1 ? lo : 0x80) || d > (k === 1 ? hi : 0xbf)) return at(i, i + k, "invalid continuation byte");
    }
    i += need + 1;
  }
  return null;
}

const MAX_FRAME_DEPTH = 1024;
// the Python type a map key's type byte unpacks to, when strict_map_key refuses it (str and bytes pass)
const MAP_KEY_TYPES = [
  [0x00, 0x7f, "int"],
  [0x80, 0x8f, "dict"],
  [0x90, 0x9f, "list"],
  [0xa0, 0xbf, ""],
  [0xc0, 0xc0, "NoneType"],
  [0xc2, 0xc3, "bool"],
  [0xc4, 0xc6, ""],
  [0xca, 0xcb, "float"],
  [0xcc, 0xd3, "int"],
  [0xd9, 0xdb, ""],
  [0xdc, 0xdd, "list"],
  [0xde, 0xdf, "dict"],
  [0xe0, 0xff, "int"],
];

class Fault extends Error {
  constructor(where, message) {
    super(message);
    this.where = where;
  }
}
class OutOfData extends Error {}
class Unusable extends Error {}

function marker(byte) {
  const kind = MARKERS.find(([lo, hi]) => lo <= byte && byte <= hi)[2];
  return `${kind} (type byte 0x${byte.toString(16).padStart(2, "0")})`;
}

function arrayHeader(n) {
  if (n < 16) return Uint8Array.of(0x90 | n);
  if (n < 0x10000) return Uint8Array.of(0xdc, n >> 8, n & 0xff);
  return Uint8Array.of(0xdd, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
}

// One msgpack frame's head at ``at``: [kind, end of the head, entries or payload length]
function frameHead(data, at) {
  const need = (end) => {
    if (end > data.length) throw new OutOfData();
  };
  const uint = (from, n) => {
    need(from + n);
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 256 + data[from + i];
    return v;
  };
  need(at + 1);
  const b = data[at];
  if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) return ["scalar", at + 1, 0];
  if (b <= 0x8f) return ["map", at + 1, b & 0x0f];
  if (b <= 0x9f) return ["array", at + 1, b & 0x0f];
  if (b <= 0xbf) return ["str", at + 1, b & 0x1f];
  if (b === 0xc1) throw new Unusable();
  const sized = { 0xc4: ["bin", 1], 0xc5: ["bin", 2], 0xc6: ["bin", 4], 0xd9: ["str", 1], 0xda: ["str", 2], 0xdb: ["str", 4] };
  if (sized[b]) return [sized[b][0], at + 1 + sized[b][1], uint(at + 1, sized[b][1])];
  const ext = { 0xc7: 1, 0xc8: 2, 0xc9: 4 };
  if (ext[b]) return ["ext", at + 2 + ext[b], uint(at + 1, ext[b])];
  const fixext = { 0xd4: 1, 0xd5: 2, 0xd6: 4, 0xd7: 8, 0xd8: 16 };
  if (fixext[b]) return ["ext", at + 2, fixext[b]];
  const fixed = { 0xca: 4, 0xcb: 8, 0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8, 0xd0: 1, 0xd1: 2, 0xd2: 4, 0xd3: 8 };
  if (fixed[b]) {
    need(at + 1 + fixed[b]);
    return ["scalar", at + 1 + fixed[b], 0];
  }
  const containers = { 0xdc: ["array", 2], 0xdd: ["array", 4], 0xde: ["map", 2], 0xdf: ["map", 4] };
  const [kind, n] = containers[b];
  return [kind, at + 1 + n, uint(at + 1, n)];
}

// The end of the whole value at ``at``. The first fault msgpack itself would raise while
// unpacking it (a string that is not UTF-8, an extension, a map key that is not a string or
// bytes) is noted in ``seen.fault`` in Python's words. Like msgpack's skip, containers nested
// deeper than MAX_FRAME_DEPTH do not decode.
function skipValue(data, at, seen, depth = 0) {
  const [kind, body, n] = frameHead(data, at);
  const note = (fault) => {
    if (seen.fault === undefined) seen.fault = fault;
  };
  if (kind === "scalar") return body;
  if (kind === "str" || kind === "bin" || kind === "ext") {
    if (body + n > data.length) throw new OutOfData();
    if (kind === "str") {
      const bad = utf8Fault(data.subarray(body, body + n));
      if (bad) note(`malformed msgpack: 'utf-8' codec can't decode ${bad}`);
    }
    if (kind === "ext") note(`msgpack extension type ${(data[body - 1] << 24) >> 24} is not allowed`);
    return body + n;
  }
  if (depth >= MAX_FRAME_DEPTH) throw new Unusable();
  let end = body;
  for (let i = 0; i < n; i++) {
    if (kind === "map") {
      const key = data[end];
      end = skipValue(data, end, seen, depth + 1);
      const named = MAP_KEY_TYPES.find(([lo, hi]) => lo <= key && key <= hi);
      if (named && named[2]) note(`malformed msgpack: ${named[2]} is not allowed for map key when strict_map_key=True`);
    }
    end = skipValue(data, end, seen, depth + 1);
  }
  return end;
}

class Frames {
  constructor(data) {
    this.data = data;
    this.at = 0;
  }

  found(start) {
    return start >= this.data.length ? "the end of the file (truncated?)" : marker(this.data[start]);
  }

  cut(start) {
    if (start >= this.data.length) return this.found(start);
    return `${this.found(start)} that runs past the end of the file at byte ${this.data.length} (truncated, or a damaged length)`;
  }

  array(where, what, length) {
    const start = this.at;
    let head;
    try {
      head = frameHead(this.data, start);
    } catch (exc) {
      if (exc instanceof OutOfData) throw new Fault(where, `${what} at byte ${start}: expected an array, found ${this.cut(start)}`);
      throw new Fault(where, `${what} at byte ${start}: expected an array, found ${this.found(start)}`);
    }
    const [kind, end, n] = head;
    if (kind !== "array") throw new Fault(where, `${what} at byte ${start}: expected an array, found ${this.found(start)}`);
    if (length !== undefined && n !== length)
      throw new Fault(where, `${what} at byte ${start}: expected an array of ${length} fields, found an array of ${n}`);
    if (!same(this.data.subarray(start, end), arrayHeader(n)))
      throw new Fault(where, `${what} at byte ${start}: the array header of ${n} entries is not canonically encoded`);
    this.at = end;
    return n;
  }

  value(where, what, expected) {
    const start = this.at;
    const seen = {};
    let end;
    try {
      end = skipValue(this.data, start, seen);
    } catch (exc) {
      if (exc instanceof OutOfData) throw new Fault(where, `${what} at byte ${start}: expected ${expected}, found ${this.cut(start)}`);
      if (exc instanceof Unusable) throw new Fault(where, `${what} at byte ${start}: expected ${expected}, found ${this.found(start)} that does not decode: `);
      throw exc;
    }
    this.at = end;
    let problem = seen.fault;
    if (problem === undefined) {
      try {
        canonicalDecode(this.data.subarray(start, end));
      } catch (exc) {
        problem = exc.message;
      }
    }
    if (problem !== undefined)
      throw new Fault(where, `${what} at bytes ${start}..${end}: expected ${expected}, found ${this.found(start)} that is not well-formed: ${problem}`);
  }

  end() {
    if (this.at !== this.data.length)
      throw new Fault("file", `${this.data.length - this.at} bytes follow the end of the receipt at byte ${this.at}`);
  }
}

// Where the framing of a receipt file breaks: [part, message], or null if every frame decodes
export function locateFramingFault(data) {
  const frames = new Frames(data);
  try {
    frames.array("file", "the receipt", FIELDS.length);
    FIELD_KINDS.forEach((kind, i) => frames.value(FIELDS[i] === "genesis" ? "genesis" : "file", FIELDS[i], kind));
    const blocks = frames.array("file", "light blocks");
    for (let i = 0; i < blocks; i++) frames.value(`light block ${i}`, `light block ${i}`, "a light block");
    const events = frames.array("file", "events");
    for (let i = 0; i < events; i++) {
      frames.array(`event ${i}`, `event ${i}`, EVENT_FIELDS.length);
      EVENT_FIELDS.forEach(([name, kind], j) => frames.value(`event ${i}`, `field ${j} (${name})`, kind));
    }
    const items = frames.array("file", "items");
    for (let i = 0; i < items; i++) {
      frames.array(`item ${i}`, `item ${i}`, ITEM_FIELDS.length);
      ITEM_FIELDS.forEach(([name, kind], j) => frames.value(`item ${i}`, `field ${j} (${name})`, kind));
    }
    frames.end();
  } catch (exc) {
    if (exc instanceof Fault) return [exc.where, exc.message];
    throw exc;
  }
  return null;
}

function parseReceipt(data) {
  if (data.length > MAX_RECEIPT_BYTES) throw new ReceiptError("file", "too_large", `${data.length} bytes is too large`);
  let top;
  try {
    top = canonicalDecode(data);
  } catch (exc) {
    const located = locateFramingFault(data);
    if (located) throw new ReceiptError(located[0], "malformed", located[1]);
    throw new ReceiptError("file", "malformed", `the file is not a well-formed receipt (damaged?): ${exc.message}`);
  }
  parse("file", () => list(top, "receipt", 8));
  if (top[0] !== MAGIC) throw new ReceiptError("file", "not_a_receipt", `the file does not start with "${MAGIC}"`);
  if (top[1] !== VERSION) throw new ReceiptError("file", "unsupported_version", `receipt version ${top[1]}; this verifier reads ${VERSION}`);
  return {
    genesis: parse("genesis", () => bytes(top[2], "genesis")),
    item: parse("file", () => str(top[3], "item key")),
    height: parse("file", () => Number(int(top[4], "height", 1))),
    blocks: parse("file", () => list(top[5], "light blocks")).map((b, i) => parse(`light block ${i}`, () => lightBlock(b))),
    events: parse("file", () => list(top[6], "events")).map((e, i) =>
      parse(`event ${i}`, () => {
        const f = list(e, "event", 5);
        return {
          tx: bytes(f[0], "transaction"),
          receipt: bytes(f[1], "receipt"),
          height: Number(int(f[2], "height", 1)),
          txProof: merkle(f[3], "tx proof"),
          resultProof: merkle(f[4], "result proof"),
        };
      }),
    ),
    items: parse("file", () => list(top[7], "items")).map((it, i) =>
      parse(`item ${i}`, () => {
        const f = list(it, "item", 4);
        return {
          key: str(f[0], "item key"),
          head: f[1] === null ? null : bytes(f[1], "head value"),
          proof: bytes(f[2], "head proof"),
          events: list(f[3], "event indices").map((n) => Number(int(n, "event index"))),
        };
      }),
    ),
  };
}

// --- the light client (chain/light_client.py) ---------------------------------------------

const totalPower = (set) => set.reduce((n, v) => n + v.power, 0n);
const quorum = (set) => (totalPower(set) * 2n) / 3n + 1n;
const powerOf = (set, key) => (set.find((v) => same(v.key, key)) || { power: 0n }).power;

function ed25519(key, message, sig) {
  let s = 0n;
  for (let i = 63; i >= 32; i--) s = (s << 8n) | big(sig[i]);
  return s < ORDER && nacl.sign.detached.verify(message, sig, key);
}

function signedPower(chainId, commit, set, membersOnly) {
  const message = enc([VOTE_DOMAIN, chainId, [PRECOMMIT, commit.height, commit.round, commit.blockHash]]);
  let power = 0n;
  let previous = new Uint8Array(0);
  for (const s of commit.sigs) {
    if (!less(previous, s.key)) throw new ReceiptError("", "forged_commit", "certificate signatures are not sorted and distinct");
    previous = s.key;
    const weight = powerOf(set, s.key);
    if (weight === 0n) {
      if (membersOnly) throw new ReceiptError("", "forged_commit", `certificate signed by ${short(s.key)}, not a validator of the set`);
      continue;
    }
    if (!ed25519(s.key, message, s.sig)) throw new ReceiptError("", "forged_commit", `signature of validator ${short(s.key)} does not verify`);
    power += weight;
  }
  return power;
}

function checkLightBlock(chainId, b) {
  const h = b.header;
  if (h.chainId !== chainId) throw new ReceiptError("", "wrong_chain", `header is for chain "${h.chainId}", not "${chainId}"`);
  if (!same(H(enc(b.validatorsWire)), h.validatorsHash))
    throw new ReceiptError("", "validators_mismatch", `the validator set given for height ${h.height} does not hash to the header's validators_hash`);
  if (!same(H(enc(b.nextWire)), h.nextValidatorsHash))
    throw new ReceiptError("", "validators_mismatch", `the next validator set given for height ${h.height} does not hash to the header's next_validators_hash`);
  if (Number(b.commit.height) !== h.height) throw new ReceiptError("", "forged_commit", `certificate is for height ${b.commit.height}, the header is ${h.height}`);
  if (!same(b.commit.blockHash, h.hash))
    throw new ReceiptError("", "forged_header", `the certificate at height ${h.height} is for block ${short(b.commit.blockHash)}, not for this header (${short(h.hash)})`);
  const power = signedPower(chainId, b.commit, b.validators, true);
  if (power < quorum(b.validators))
    throw new ReceiptError("", "insufficient_power", `certificate at height ${h.height} carries ${power} of ${totalPower(b.validators)} power`);
}

function verifyStep(trusted, b) {
  const h = b.header;
  if (h.height <= trusted.height) throw new ReceiptError("", "not_ahead", `height ${h.height} is not above the trusted ${trusted.height}`);
  checkLightBlock(trusted.chainId, b);
  if (h.height === trusted.height + 1) {
    if (!same(h.parentHash, trusted.hash)) throw new ReceiptError("", "forged_header", `header ${h.height} names parent ${short(h.parentHash)}, not the trusted header`);
    if (!same(h.validatorsHash, H(enc(trusted.nextWire))))
      throw new ReceiptError("", "validators_mismatch", `header ${h.height} is certified by another set than the trusted header named`);
  }
  if (h.timeMs <= trusted.timeMs) throw new ReceiptError("", "time_not_increasing", `header ${h.height} is timed ${h.timeMs}, not after the trusted ${trusted.timeMs}`);
  if (h.height > trusted.height + 1) {
    const power = signedPower(trusted.chainId, b.commit, trusted.next, false);
    if (power * 3n <= totalPower(trusted.next))
      throw new ReceiptError("", "not_enough_trust", `validators trusted at height ${trusted.height} signed header ${h.height} with ${power} of ${totalPower(trusted.next)} power`);
  }
  return { chainId: trusted.chainId, height: h.height, hash: h.hash, timeMs: h.timeMs, next: b.next, nextWire: b.nextWire };
}

// --- Merkle paths (chain/merkle.py) and state proofs (chain/state_tree.py) -----------------

function split(n) {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function verifyMerkle(root, leaf, proof) {
  if (!(proof.index >= 0 && proof.index < proof.size)) return false;
  const sides = [];
  let index = proof.index;
  let size = proof.size;
  while (size > 1) {
    const k = split(size);
    if (index < k) {
      sides.push(true);
      size = k;
    } else {
      sides.push(false);
      index -= k;
      size -= k;
    }
  }
  if (sides.length !== proof.path.length) return false;
  let current = H(Uint8Array.of(0), leaf);
  sides.reverse().forEach((right, i) => {
    const sibling = proof.path[i];
    current = right ? H(Uint8Array.of(1), current, sibling) : H(Uint8Array.of(1), sibling, current);
  });
  return same(current, root);
}

function verifyState(root, key, value, proofBytes) {
  let levels;
  let leaf;
  try {
    const f = list(canonicalDecode(proofBytes), "state proof", 2);
    levels = list(f[0], "proof levels").map((l) => {
      const lf = list(l, "proof level", 2);
      return { bitmap: Number(int(lf[0], "bitmap", 1)), siblings: list(lf[1], "siblings").map((s) => bytes(s, "sibling hash", 32)) };
    });
    const lf = list(f[1], "proof leaf");
    if (lf.length !== 0 && lf.length !== 2) throw new Error("proof leaf: expected [] or [key hash, value hash]");
    leaf = lf.length ? [bytes(lf[0], "leaf key hash", 32), bytes(lf[1], "leaf value hash", 32)] : null;
  } catch (exc) {
    throw new ReceiptError("", "malformed_proof", `state proof is not well-formed: ${exc.message}`);
  }
  const bad = (message) => new ReceiptError("", "bad_state_proof", message);
  const keyHash = sha256(key);
  const path = hex(keyHash);
  const depth = levels.length;
  if (depth > 64) throw bad("proof is deeper than any tree");
  let current;
  if (leaf) {
    if (hex(leaf[0]).slice(0, depth) !== path.slice(0, depth)) throw bad(`the proof's leaf does not lie on the key's path at depth ${depth}`);
    if (value !== null) {
      if (!same(leaf[0], keyHash)) throw bad("the proof shows another key: the key is not in the state");
      if (!same(leaf[1], sha256(value))) throw bad("the proof commits to another value for this key");
    } else if (same(leaf[0], keyHash)) throw bad("the proof shows the key present, not absent");
    current = H(Uint8Array.of(0), leaf[0], leaf[1]);
  } else {
    if (value !== null) throw bad("the proof shows the key absent");
    current = null;
  }
  for (let d = depth - 1; d >= 0; d--) {
    const { bitmap, siblings } = levels[d];
    const nibble = parseInt(path[d], 16);
    const onPath = ((bitmap >> nibble) & 1) === 1;
    if (current === null && onPath) throw bad(`level ${d}: the key's slot is marked present but the proof ends empty`);
    if (current !== null && !onPath) throw bad(`level ${d}: the key's slot is marked empty`);
    let ones = 0;
    for (let n = 0; n < 16; n++) ones += (bitmap >> n) & 1;
    const expected = ones - (current !== null ? 1 : 0);
    if (siblings.length !== expected) throw bad(`level ${d}: ${siblings.length} sibling hashes where the bitmap needs ${expected}`);
    if (expected + (current !== null ? 1 : 0) < 1) throw bad(`level ${d}: an internal node with no children`);
    const hashes = [];
    let next = 0;
    for (let n = 0; n < 16; n++) {
      if ((bitmap >> n) & 1) hashes.push(n === nibble && current !== null ? current : siblings[next++]);
    }
    current = H(Uint8Array.of(1), Uint8Array.of(bitmap >> 8, bitmap & 0xff), ...hashes);
  }
  const got = current === null ? new Uint8Array(32) : current;
  if (!same(got, root)) throw bad("the proof does not lead to the certified state root");
}

// --- the receipt (market/provenance/receipt.py) --------------------------------------------

function records(receiptWire) {
  const f = list(receiptWire, "receipt", 5);
  const events = list(f[4], "events").map((e) => {
    const ef = list(e, "event", 2);
    return { type: str(ef[0], "event type"), attrs: Object.fromEntries(list(ef[1], "attributes").map((kv) => list(kv, "attribute", 2))) };
  });
  return { txHash: bytes(f[0], "tx hash", 32), code: str(f[1], "code"), provenance: events.filter((e) => e.type === "provenance").map((e) => e.attrs) };
}

function at(where, fn) {
  try {
    return fn();
  } catch (exc) {
    if (exc instanceof ReceiptError && !exc.where) throw new ReceiptError(where, exc.reason, exc.message);
    throw exc;
  }
}

// Verify ``data`` (the receipt file) against the trusted genesis hash (64 hex). Calls
// ``step(text)`` for each check passed; throws ReceiptError naming what fails.
export function verifyReceipt(data, trustedGenesisHex, step = () => {}) {
  const r = parseReceipt(data);
  const genesisHash = H(utf8.encode(GENESIS_DOMAIN), r.genesis);
  if (hex(genesisHash) !== trustedGenesisHex.trim().toLowerCase())
    throw new ReceiptError("genesis", "wrong_genesis", `the receipt's genesis hashes to ${hex(genesisHash)}, the trusted genesis is ${trustedGenesisHex}`);
  const g = parse("genesis", () => list(canonicalDecode(r.genesis), "genesis", 5));
  const chainId = parse("genesis", () => str(g[0], "chain_id"));
  let trusted = { chainId, height: 0, hash: genesisHash, timeMs: big(g[1]), next: parse("genesis", () => validators(g[3], "validators")), nextWire: g[3] };
  step(`genesis ${short(genesisHash)} of chain ${chainId} is the trusted one`);

  const headers = new Map();
  r.blocks.forEach((b, i) => {
    trusted = at(`light block ${i} (height ${b.header.height})`, () => verifyStep(trusted, b));
    headers.set(b.header.height, b.header);
    step(`header ${b.header.height} ${short(b.header.hash)}: certificate of ${b.commit.sigs.length} of ${b.validators.length} validators verified`);
  });
  if (trusted.height !== r.height)
    throw new ReceiptError("light blocks", "missing_header", `the last verified header is at height ${trusted.height}, the receipt claims height ${r.height}`);

  const seen = new Set();
  const events = r.events.map((e, i) => {
    const txHash = sha256(e.tx);
    const where = `event ${i} (tx ${short(txHash)}, block ${e.height})`;
    const h = headers.get(e.height);
    if (!h) throw new ReceiptError(where, "missing_header", `the receipt holds no verified header at height ${e.height}`);
    if (!verifyMerkle(h.txRoot, txHash, e.txProof)) throw new ReceiptError(where, "bad_tx_proof", `the transaction is not in the tx_root of block ${h.height}`);
    if (e.resultProof.index !== e.txProof.index + 1 || e.resultProof.size !== e.txProof.size + 1)
      throw new ReceiptError(where, "bad_result_proof", "the receipt's position does not match the transaction's position in the block");
    if (!verifyMerkle(h.resultsRoot, e.receipt, e.resultProof)) throw new ReceiptError(where, "bad_result_proof", `the receipt is not in the results_root of block ${h.height}`);
    let rec;
    let kind;
    try {
      rec = records(canonicalDecode(e.receipt));
      kind = str(list(canonicalDecode(e.tx), "transaction", 7)[4], "kind");
    } catch (exc) {
      throw new ReceiptError(where, "malformed", `the committed transaction or receipt does not parse: ${exc.message}`);
    }
    if (!same(rec.txHash, txHash) || rec.code !== "ok") throw new ReceiptError(where, "not_recorded", `the transaction failed (${rec.code}): it recorded no event`);
    if (!rec.provenance.length) throw new ReceiptError(where, "not_recorded", `the ${kind} transaction recorded no provenance event`);
    const key = hex(txHash);
    if (seen.has(key)) throw new ReceiptError(`event ${i}`, "duplicate", "the same transaction is listed twice");
    seen.add(key);
    step(`event ${i} (${kind}, tx ${short(txHash)}): in block ${e.height}'s tx_root, receipt in its results_root`);
    return { index: i, txHash, height: e.height, timeMs: h.timeMs, kind, records: rec.provenance };
  });

  if (!r.items.length || r.items[0].key !== r.item) throw new ReceiptError("items", "malformed", `the first item must be the receipt's item ${r.item}`);
  const root = headers.get(r.height).stateRoot;
  const used = new Set();
  const keys = new Set();
  const counts = [];
  for (const item of r.items) {
    const where = `item ${item.key}`;
    if (keys.has(item.key)) throw new ReceiptError(where, "duplicate", "the item is listed twice");
    keys.add(item.key);
    try {
      verifyState(root, utf8.encode(HEAD_PREFIX + item.key), item.head, item.proof);
    } catch (exc) {
      if (exc instanceof ReceiptError) throw new ReceiptError(where, exc.reason, `head state proof at height ${r.height}: ${exc.message}`);
      throw exc;
    }
    let count = 0;
    let chain = new Uint8Array(32);
    if (item.head !== null) {
      const head = parse(where, () => list(canonicalDecode(item.head), "head", 3));
      count = Number(head[0]);
      chain = parse(where, () => bytes(head[1], "chain", 32));
    }
    if (count !== item.events.length)
      throw new ReceiptError(where, "event_count", `the head proven at height ${r.height} counts ${count} events, the receipt lists ${item.events.length}: an event was ${count > item.events.length ? "left out" : "added"}`);
    let running = new Uint8Array(32);
    item.events.forEach((index, position) => {
      const ev = events[index];
      if (!ev) throw new ReceiptError(where, "malformed", `event index ${index} is beyond the ${events.length} events`);
      running = H(running, ev.txHash);
      if (!ev.records.some((a) => a.item === item.key && Number(a.count) === position + 1))
        throw new ReceiptError(where, "wrong_event", `event ${index} (tx ${short(ev.txHash)}) does not record event #${position + 1} of ${item.key}`);
      used.add(index);
    });
    if (!same(running, chain)) throw new ReceiptError(where, "event_chain", `the events listed do not hash to the head proven at height ${r.height}: one was replaced`);
    counts.push([item.key, count]);
    step(`item ${item.key}: head at height ${r.height} proven, ${count} events, none left out`);
  }
  const unused = events.findIndex((_, i) => !used.has(i));
  if (unused >= 0) throw new ReceiptError(`event ${unused}`, "unused", "the event is in no item's log");
  return { chainId, item: r.item, height: r.height, timeMs: headers.get(r.height).timeMs, events, items: counts };
}

// --- the item page's "verify" button ---------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const child of children) node.append(child);
  return node;
}

function show(data, source) {
  const steps = document.getElementById("receipt-steps");
  const result = document.getElementById("receipt-result");
  const genesis = document.getElementById("receipt-genesis").value;
  steps.replaceChildren();
  result.removeAttribute("data-ok");
  result.dataset.source = source;
  result.textContent = `Verifying ${source}…`;
  try {
    const done = verifyReceipt(data, genesis, (text) => steps.append(el("li", { class: "ok" }, `✓ ${text}`)));
    result.dataset.ok = "true";
    result.className = "ok";
    result.textContent =
      `Receipt verified in this browser: ${done.events.length} events of ${done.items.length} items on chain ` +
      `${done.chainId}, complete as of block ${done.height}.`;
  } catch (exc) {
    const where = exc instanceof ReceiptError ? `${exc.where} (${exc.reason}): ` : "";
    steps.append(el("li", { class: "bad" }, `✗ ${where}${exc.message}`));
    result.dataset.ok = "false";
    result.className = "bad";
    result.textContent = `RECEIPT VERIFICATION FAILED at ${where}${exc.message}`;
  }
}

function itemPage() {
  const button = document.getElementById("receipt-verify");
  const file = document.getElementById("receipt-file");
  if (!button) return;
  button.hidden = false;
  button.addEventListener("click", async () => {
    const url = `/api/v1/items${window.location.pathname}/receipt`;
    try {
      const response = await fetch(url);
      if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
      show(new Uint8Array(await response.arrayBuffer()), "the receipt this node sent");
    } catch (exc) {
      document.getElementById("receipt-result").textContent = `Could not fetch the receipt: ${exc.message}`;
    }
  });
  file.addEventListener("change", async () => {
    if (file.files.length) show(new Uint8Array(await file.files[0].arrayBuffer()), file.files[0].name);
  });
}

if (typeof document !== "undefined" && document.body.dataset.page === "item") itemPage();
