/**
 * @module lib/raw-json
 * Large JSON-RPC messages relayed without their large strings being decoded, parsed or
 * re-serialised. A message read as bytes (a child's stdout line of at least
 * {@link RAW_LINE_MIN_BYTES}) is parsed as a *skeleton*: each string literal of at least
 * {@link RAW_STRING_MIN_BYTES} is replaced by a short marker, and its bytes (views of the chunks
 * as read, quotes and escapes included) are kept on the message. Everything else is an ordinary
 * parsed object, which the relay may change as it likes (id, `resultType`, a filtered tool list):
 * on the way out the skeleton is serialised with `JSON.stringify` and each marker is replaced by
 * its literal's bytes, unchanged. So a 10 MiB result is held once, as the bytes the child wrote,
 * instead of as those bytes, their text, the parsed string, the re-serialised text and its bytes.
 *
 * A literal's bytes are relayed only when they are valid JSON string content (no raw control
 * character, only the escapes RFC 8259 §7 allows) and valid UTF-8; otherwise the literal stays in
 * the skeleton and `JSON.parse` judges it as it judges any message.
 *
 * Markers carry a random nonce per message and are looked up only in their own message's map,
 * so a string a child or client writes cannot stand for another message's bytes.
 */
import { isUtf8 } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';

/** Lines shorter than this (bytes) are parsed as text, the ordinary way. */
export const RAW_LINE_MIN_BYTES = 64 * 1024;
/** String literals at least this long (bytes, quotes included) are kept as bytes. */
export const RAW_STRING_MIN_BYTES = 32 * 1024;

/** A message's JSON as the wire takes it: text, or the text around large literals and their bytes. */
export type WireJson = string | WireParts;

export interface WireParts {
  /** In order: the skeleton's text between literals (encoded), and views of the bytes a peer wrote. */
  readonly parts: readonly Buffer[];
  /** UTF-8 length of the whole, bytes. */
  readonly bytes: number;
}

/** The large literals of one message: marker `fjmcp-raw/<nonce>/<n>` stands for `literals[n]`. */
interface RawLiterals {
  readonly nonce: string;
  readonly literals: readonly Buffer[][];
  /** Per literal: its bytes are exactly `JSON.stringify` of its string (no escape but \" \\ \b \f \n \r \t). */
  readonly canonical: readonly boolean[];
  /** Σ (literal bytes − marker literal bytes): what the skeleton's JSON lacks of the real size. */
  readonly extraBytes: number;
}

const RAW = Symbol('fjmcp.rawLiterals');
// The slashes make a marker fail every check of a repository segment (policy/policy.ts), so a
// marker standing for an `owner` or `repo` can never be mistaken for one.
const MARKER = 'fjmcp-raw/';

type WithRaw = { [RAW]?: RawLiterals };

const ESCAPABLE = new Set([0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74]); // " \ / b f n r t
const isHex = (c: number) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);

/**
 * Parses one JSON text given as consecutive byte chunks (a stdout line, newline excluded), keeping
 * large string literals as bytes when the result is an object (see the module comment).
 * @throws SyntaxError when the bytes are not one JSON text, as `JSON.parse` does.
 */
export function parseJsonBytes(chunks: readonly Buffer[]): unknown {
  const big = findLargeLiterals(chunks);
  if (big.length === 0) return JSON.parse(decode(chunks, 0, Infinity));
  const nonce = randomBytes(8).toString('hex');
  let skeleton = '';
  let at = 0;
  let extraBytes = 0;
  const literals: Buffer[][] = [];
  const canonical: boolean[] = [];
  for (const { start, end, bytes, canonical: isCanonical } of big) {
    skeleton += decode(chunks, at, start);
    const marker = `"${MARKER}${nonce}/${literals.length}"`;
    skeleton += marker;
    literals.push(bytes);
    canonical.push(isCanonical);
    extraBytes += end - start - marker.length;
    at = end;
  }
  skeleton += decode(chunks, at, Infinity);
  const msg: unknown = JSON.parse(skeleton);
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) {
    return JSON.parse(decode(chunks, 0, Infinity)); // nothing to hang the bytes on: parsed whole
  }
  (msg as WithRaw)[RAW] = { nonce, literals, canonical, extraBytes };
  return msg;
}

/** The literal number a marker ends with, when it is one of `raw`'s. */
function literalNumber(digits: string, raw: RawLiterals): number | undefined {
  const n = /^\d{1,9}$/.test(digits) ? Number(digits) : -1;
  return n >= 0 && n < raw.literals.length ? n : undefined;
}

/** True when `msg` holds literals kept as bytes. */
export function hasRawLiterals(msg: unknown): boolean {
  return typeof msg === 'object' && msg !== null && (msg as WithRaw)[RAW] !== undefined;
}

/** Drops `msg`'s literals kept as bytes (once written: what still writes them holds its own references). */
export function releaseRawLiterals(msg: unknown): void {
  if (hasRawLiterals(msg)) delete (msg as WithRaw)[RAW];
}

/**
 * Bytes the skeleton's JSON lacks of `msg`'s real JSON (0 for an ordinary message); every large
 * literal counts, wherever it sits in the message.
 */
export function rawExtraBytes(msg: unknown): number {
  return hasRawLiterals(msg) ? (msg as WithRaw)[RAW]!.extraBytes : 0;
}

/**
 * The literal `s` stands for when it is one of `msg`'s markers: its bytes (quotes included) and
 * whether they are exactly `JSON.stringify` of the string; undefined for any other string.
 */
export function rawLiteralOf(msg: unknown, s: string): { bytes: readonly Buffer[]; canonical: boolean } | undefined {
  if (!s.startsWith(MARKER) || !hasRawLiterals(msg)) return undefined;
  const raw = (msg as WithRaw)[RAW]!;
  const prefix = `${MARKER}${raw.nonce}/`;
  if (!s.startsWith(prefix)) return undefined;
  const n = literalNumber(s.slice(prefix.length), raw);
  return n === undefined ? undefined : { bytes: raw.literals[n]!, canonical: raw.canonical[n]! };
}

/** The string a literal kept as bytes stands for (decoded: a copy, for the rare reader that needs it). */
export function decodeLiteral(bytes: readonly Buffer[]): string {
  return JSON.parse(Buffer.concat(bytes).toString('utf8')) as string;
}

/**
 * True when every literal `msg` keeps as bytes sits inside `within` (or it keeps none): the relay
 * keeps bytes only where it never reads the strings, and decodes the rest ({@link materialize}).
 */
export function rawLiteralsOnlyIn(msg: unknown, within: unknown): boolean {
  if (!hasRawLiterals(msg)) return true;
  const found = new Set<string>();
  let asKey = false; // a member name kept as bytes: readers sort and compare names, so decoded
  const walk = (v: unknown): void => {
    if (typeof v === 'string') {
      if (rawLiteralOf(msg, v)) found.add(v);
    } else if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (rawLiteralOf(msg, k)) asKey = true;
        walk(x);
      }
    }
  };
  walk(within);
  return !asKey && found.size === (msg as WithRaw)[RAW]!.literals.length;
}

/**
 * Serialises a message for the wire: `JSON.stringify` text, or for a message with literals kept as
 * bytes, the skeleton's text split at its markers with each literal's bytes in between. Object
 * copies made with spread syntax keep the literals (the symbol key is copied); a marker moved
 * into another message is not resolved there, so a message's parts are used only with it.
 */
export function toWire(msg: unknown): WireJson {
  const text = JSON.stringify(msg);
  const raw = hasRawLiterals(msg) ? (msg as WithRaw)[RAW]! : undefined;
  if (!raw) return text;
  const prefix = `"${MARKER}${raw.nonce}/`;
  const parts: Buffer[] = [];
  let at = 0; // the text before `at` is in `parts`
  for (let i = text.indexOf(prefix); i !== -1; i = text.indexOf(prefix, i + 1)) {
    const close = text.indexOf('"', i + prefix.length);
    const n = literalNumber(text.slice(i + prefix.length, close), raw);
    const literal = n === undefined ? undefined : raw.literals[n];
    if (!literal) continue; // not one of ours (cannot be forged without the nonce): stays text
    if (at < i) parts.push(Buffer.from(text.slice(at, i), 'utf8'));
    parts.push(...literal);
    at = close + 1;
  }
  if (at < text.length) parts.push(Buffer.from(text.slice(at), 'utf8'));
  let bytes = 0;
  for (const b of parts) bytes += b.length;
  return { parts, bytes };
}

/** UTF-8 length of wire JSON, bytes. */
export function wireBytes(w: WireJson): number {
  return typeof w === 'string' ? Buffer.byteLength(w) : w.bytes;
}

/**
 * `msg` as an ordinary parsed message (large literals decoded into strings), for messages the
 * relay reads or re-uses rather than passes on as they are. Costs one parse of the whole message.
 */
export function materialize<T>(msg: T): T {
  if (!hasRawLiterals(msg)) return msg;
  const w = toWire(msg) as WireParts;
  // Joined as bytes: a literal's pieces may cut a character in two.
  return JSON.parse(Buffer.concat(w.parts, w.bytes).toString('utf8')) as T;
}

/** A `Response` body for wire JSON: the text, or a stream of its parts (no joined copy). */
export function wireBody(w: WireJson): string | ReadableStream<Uint8Array> {
  if (typeof w === 'string') return w;
  return new ReadableStream<Uint8Array>({
    start(c) {
      for (const p of w.parts) c.enqueue(p);
      c.close();
    },
  });
}

/**
 * Byte ranges [start, end) (quotes included), and views of those bytes, of the string literals at
 * least {@link RAW_STRING_MIN_BYTES} long whose content is valid (see the module comment), each with
 * whether it is canonical (no `\/` and no `\u` escape). Finds quotes with `indexOf` (a quote is
 * escaped when an odd run of backslashes precedes it); only large literals are read byte by byte.
 */
function findLargeLiterals(chunks: readonly Buffer[]): { start: number; end: number; bytes: Buffer[]; canonical: boolean }[] {
  const out: { start: number; end: number; bytes: Buffer[]; canonical: boolean }[] = [];
  let pos = 0;
  let inString = false;
  let start = 0;
  /** Backslashes that ended the previous chunk, inside a string. */
  let carry = 0;
  for (const chunk of chunks) {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      const q = chunk.indexOf(0x22, i);
      if (!inString) {
        if (q === -1) break;
        inString = true;
        start = pos + q;
        i = q + 1;
        continue;
      }
      if (q === -1) {
        carry = backslashesBefore(chunk, n, i, carry);
        i = n;
        break;
      }
      const escaped = backslashesBefore(chunk, q, i, carry) % 2 === 1;
      carry = 0;
      i = q + 1;
      if (escaped) continue;
      inString = false;
      const end = pos + q + 1;
      if (end - start < RAW_STRING_MIN_BYTES) continue;
      const bytes = slices(chunks, start, end);
      const canonical = literalContent(bytes);
      if (canonical !== undefined) out.push({ start, end, bytes, canonical });
    }
    pos += n;
  }
  return out;
}

/** Backslashes right before `at` in `chunk`, scanning back to `from`; `carry` counts when the run reaches the chunk's start. */
function backslashesBefore(chunk: Buffer, at: number, from: number, carry: number): number {
  let k = at - 1;
  while (k >= from && chunk[k] === 0x5c) k--;
  const run = at - 1 - k;
  return k < 0 ? run + carry : run;
}

/**
 * Whether a literal's bytes (quotes included) are valid JSON string content in valid UTF-8:
 * true when canonical (no `\/`, no `\u`), false when valid but not, undefined when invalid.
 */
function literalContent(pieces: readonly Buffer[]): boolean | undefined {
  let canonical = true;
  let escaped = false;
  let hex = 0;
  const last = pieces.length - 1;
  for (let p = 0; p <= last; p++) {
    const b = pieces[p]!;
    const from = p === 0 ? 1 : 0; // the quotes themselves are not content
    const to = p === last ? b.length - 1 : b.length;
    for (let i = from; i < to; i++) {
      const c = b[i]!;
      if (hex > 0) {
        if (!isHex(c)) return undefined;
        hex--;
      } else if (escaped) {
        escaped = false;
        if (c === 0x75) (hex = 4), (canonical = false);
        else if (c === 0x2f) canonical = false;
        else if (!ESCAPABLE.has(c)) return undefined;
      } else if (c === 0x5c) escaped = true;
      else if (c < 0x20) return undefined;
    }
  }
  if (hex > 0) return undefined; // `\u` cut short by the closing quote
  return utf8Valid(pieces) ? canonical : undefined;
}

/** Views of the bytes [start, end) across `chunks` (no copy). */
function slices(chunks: readonly Buffer[], start: number, end: number): Buffer[] {
  const out: Buffer[] = [];
  let pos = 0;
  for (const chunk of chunks) {
    const from = Math.max(start, pos);
    const to = Math.min(end, pos + chunk.length);
    if (from < to) out.push(chunk.subarray(from - pos, to - pos));
    pos += chunk.length;
    if (pos >= end) break;
  }
  return out;
}

/** Text of the bytes [start, end) across `chunks`; a character split between chunks is joined. */
function decode(chunks: readonly Buffer[], start: number, end: number): string {
  const parts = slices(chunks, start, end);
  if (parts.length === 1) return parts[0]!.toString('utf8');
  const d = new StringDecoder('utf8');
  let s = '';
  for (const p of parts) s += d.write(p);
  return s + d.end();
}

/**
 * Whether consecutive byte pieces are valid UTF-8 together. Each piece is checked up to the start
 * of its last character; that character's bytes are checked with the continuation bytes that
 * begin the next piece (UTF-8 is valid iff its pieces cut at character starts are).
 */
function utf8Valid(pieces: readonly Buffer[]): boolean {
  let carry: Buffer | undefined;
  for (let b of pieces) {
    if (carry) {
      let j = 0;
      while (j < b.length && j < 4 && (b[j]! & 0xc0) === 0x80) j++;
      if (!isUtf8(Buffer.concat([carry, b.subarray(0, j)]))) return false;
      b = b.subarray(j);
      carry = undefined;
    }
    let k = b.length;
    let back = 0;
    while (k > 0 && back < 4 && (b[k - 1]! & 0xc0) === 0x80) k--, back++;
    if (k > 0) k--; // the start of the last character
    if (!isUtf8(b.subarray(0, k))) return false;
    carry = b.subarray(k);
  }
  return carry === undefined || isUtf8(carry);
}
