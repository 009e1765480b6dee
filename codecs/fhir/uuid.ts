/**
 * Deterministic resource ids: UUID version 5 (RFC 9562, SHA-1 of a namespace and a name), so
 * the same patient, encounter or order gets the same id in every message that names it.
 *
 * SHA-1 is computed here, in a reused buffer: an id's name is a few dozen bytes, where the
 * fixed cost of a `node:crypto` hash object (an op call to create, to update, to digest, a
 * Buffer) was most of the work; a bundle makes one id per resource.
 *
 * @module
 */

/** The namespace of every id the engine derives (a fixed random UUID). */
export const ID_NAMESPACE = "5f0c6a1e-8d1b-4b7e-9f3a-2c4d6e8fa0b1";

function hexBytes(uuid: string): Uint8Array {
  const hex = uuid.replaceAll("-", "");
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

const nsBytes = hexBytes(ID_NAMESPACE);
const encoder = new TextEncoder();
const W = new Int32Array(80);
/** The message being hashed (namespace + name + padding); grown when a name is long. */
let buf = new Uint8Array(256);

/** Writes `name` as UTF-8 at `at` in `buf`; returns the end. */
function putName(name: string, at: number): number {
  // ASCII (the usual id) without an encoder call; anything else through TextEncoder.
  if (buf.length < at + name.length * 3 + 72) grow(at + name.length * 3 + 72);
  let p = at;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0x80) return at + encoder.encodeInto(name, buf.subarray(at)).written;
    buf[p++] = c;
  }
  return p;
}

function grow(size: number): void {
  const next = new Uint8Array(Math.max(size, buf.length * 2));
  next.set(buf);
  buf = next;
}

/** The first four words of the last digest (not a tuple per call: one id per resource). */
let d0 = 0, d1 = 0, d2 = 0, d3 = 0;

/** SHA-1 of `buf[0, len)` (pads `buf` in place) into `d0`…`d3`. */
function sha1(len: number): void {
  const padded = (((len + 8) >> 6) + 1) * 64;
  if (buf.length < padded) grow(padded);
  const b = buf;
  b.fill(0, len, padded);
  b[len] = 0x80;
  const bits = len * 8, high = Math.floor(bits / 0x1_0000_0000);
  b[padded - 8] = high >>> 24;
  b[padded - 7] = (high >>> 16) & 0xff;
  b[padded - 6] = (high >>> 8) & 0xff;
  b[padded - 5] = high & 0xff;
  b[padded - 4] = (bits >>> 24) & 0xff;
  b[padded - 3] = (bits >>> 16) & 0xff;
  b[padded - 2] = (bits >>> 8) & 0xff;
  b[padded - 1] = bits & 0xff;
  let h0 = 0x67452301,
    h1 = 0xefcdab89 | 0,
    h2 = 0x98badcfe | 0,
    h3 = 0x10325476,
    h4 = 0xc3d2e1f0 | 0;
  for (let off = 0; off < padded; off += 64) {
    for (let t = 0, i = off; t < 16; t++, i += 4) {
      W[t] = (b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!;
    }
    for (let t = 16; t < 80; t++) {
      const x = W[t - 3]! ^ W[t - 8]! ^ W[t - 14]! ^ W[t - 16]!;
      W[t] = (x << 1) | (x >>> 31);
    }
    let a = h0, bb = h1, c = h2, d = h3, e = h4, temp = 0;
    // The four rounds as separate loops: no branch per step.
    for (let t = 0; t < 20; t++) {
      temp = (((a << 5) | (a >>> 27)) + ((bb & c) | (~bb & d)) + e + 0x5a827999 + W[t]!) | 0;
      e = d;
      d = c;
      c = (bb << 30) | (bb >>> 2);
      bb = a;
      a = temp;
    }
    for (let t = 20; t < 40; t++) {
      temp = (((a << 5) | (a >>> 27)) + (bb ^ c ^ d) + e + 0x6ed9eba1 + W[t]!) | 0;
      e = d;
      d = c;
      c = (bb << 30) | (bb >>> 2);
      bb = a;
      a = temp;
    }
    for (let t = 40; t < 60; t++) {
      temp = (((a << 5) | (a >>> 27)) + ((bb & c) | (bb & d) | (c & d)) + e + (0x8f1bbcdc | 0) +
        W[t]!) | 0;
      e = d;
      d = c;
      c = (bb << 30) | (bb >>> 2);
      bb = a;
      a = temp;
    }
    for (let t = 60; t < 80; t++) {
      temp = (((a << 5) | (a >>> 27)) + (bb ^ c ^ d) + e + (0xca62c1d6 | 0) + W[t]!) | 0;
      e = d;
      d = c;
      c = (bb << 30) | (bb >>> 2);
      bb = a;
      a = temp;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + bb) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
  }
  d0 = h0;
  d1 = h1;
  d2 = h2;
  d3 = h3;
}

/** The 36 character codes of an id, reused: the id is made as one flat string. */
const CHARS: number[] = new Array(36).fill(0x2d);
const HEX_CODES = Array.from({ length: 16 }, (_, i) => i.toString(16).charCodeAt(0));

/** Writes the 8 hex digits of `w` at `at` in CHARS, skipping the dash positions. */
function putWord(w: number, at: number): void {
  for (let i = 0, p = at; i < 8; i++, p++) {
    if (p === 8 || p === 13 || p === 18 || p === 23) p++;
    CHARS[p] = HEX_CODES[(w >>> (28 - i * 4)) & 0xf]!;
  }
}

/** UUID v5 of `name` in `namespace` (default {@link ID_NAMESPACE}). */
export function uuidV5(name: string, namespace: string = ID_NAMESPACE): string {
  buf.set(namespace === ID_NAMESPACE ? nsBytes : hexBytes(namespace), 0);
  sha1(putName(name, 16));
  // Version 5 in the high nibble of byte 6, the RFC 9562 variant in the top bits of byte 8.
  putWord(d0, 0);
  putWord((d1 & ~0xf000) | 0x5000, 9);
  putWord((d2 & ~0xc0000000) | 0x80000000, 19);
  putWord(d3, 28);
  return String.fromCharCode.apply(null, CHARS);
}
