/**
 * @module lib/json-size
 * The UTF-8 length of a value's JSON text, computed by walking the value instead of serialising
 * it: the relay needs the size of every message it keeps for replay and of every audited result,
 * and `JSON.stringify` would build a second copy of a result that may be tens of MiB
 * (FJMCP_MAX_MESSAGE_BYTES) only to measure it.
 */

// Characters JSON.stringify escapes: `"`, `\` and the C0 controls (2 or 6 bytes instead of 1), and
// lone surrogates (6 bytes as `\uXXXX` instead of the 3 of U+FFFD that Buffer.byteLength counts).
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;
const SHORT_ESCAPES = new Set([0x22, 0x5c, 0x08, 0x09, 0x0a, 0x0c, 0x0d]);

function stringBytes(s: string): number {
  let n = Buffer.byteLength(s, 'utf8') + 2;
  if (!NEEDS_ESCAPE.test(s)) return n;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20) n += SHORT_ESCAPES.has(c) ? 1 : 5;
    else if (c === 0x22 || c === 0x5c) n += 1;
    else if (c >= 0xd800 && c <= 0xdfff) {
      const next = s.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) i++; // a pair: 4 bytes either way
      else n += 3; // lone: `\uXXXX` (6) instead of U+FFFD (3)
    }
  }
  return n;
}

/**
 * Bytes of `JSON.stringify(v)` as UTF-8 (0 when it yields undefined). Follows JSON.stringify's
 * rules for plain data (what JSON.parse produced): `undefined` and functions are left out of
 * objects and become `null` in arrays, non-finite numbers are `null`. Objects with `toJSON`
 * (dates) are measured through it.
 */
export function jsonByteLength(v: unknown): number {
  switch (typeof v) {
    case 'string':
      return stringBytes(v);
    case 'number':
      return Number.isFinite(v) ? String(v).length : 4;
    case 'boolean':
      return v ? 4 : 5;
    case 'bigint':
      throw new TypeError('Do not know how to serialize a BigInt');
    case 'object': {
      if (v === null) return 4;
      if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return jsonByteLength((v as { toJSON: () => unknown }).toJSON());
      if (Array.isArray(v)) {
        let n = 2 + Math.max(0, v.length - 1);
        for (const x of v) n += x === undefined || typeof x === 'function' || typeof x === 'symbol' ? 4 : jsonByteLength(x);
        return n;
      }
      let n = 2;
      let members = 0;
      for (const k in v) {
        if (!Object.prototype.hasOwnProperty.call(v, k)) continue;
        const x = (v as Record<string, unknown>)[k];
        if (x === undefined || typeof x === 'function' || typeof x === 'symbol') continue;
        n += stringBytes(k) + 1 + jsonByteLength(x);
        members++;
      }
      return n + Math.max(0, members - 1);
    }
    default:
      return 0; // undefined, function, symbol at the top: JSON.stringify gives undefined
  }
}
