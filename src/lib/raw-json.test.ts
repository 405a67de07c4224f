import { describe, expect, it } from 'vitest';
import { digestArguments } from '../mcp/tool-gate.js';
import type { RpcMessage } from '../mcp/protocol.js';
import { jsonByteLength } from './json-size.js';
import { RAW_STRING_MIN_BYTES, hasRawLiterals, materialize, parseJsonBytes, rawExtraBytes, rawLiteralsOnlyIn, toWire, wireBody, wireBytes, type WireParts } from './raw-json.js';

/** `text`'s UTF-8 bytes cut into pieces of `size` bytes (cuts fall inside multi-byte characters). */
const pieces = (text: string, size: number) => {
  const b = Buffer.from(text, 'utf8');
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size));
  return out;
};
const joined = (w: ReturnType<typeof toWire>) => (typeof w === 'string' ? w : Buffer.concat(w.parts).toString('utf8'));
// Multi-byte characters, escapes a child's JSON.stringify writes, and ones it never writes (\/, \u).
const BIG = `${'é€𝄞 "q" \\ \n\t'.repeat(3000)}\\/\u0041`.padEnd(RAW_STRING_MIN_BYTES * 2, 'x');
const LINE = `{"result":{"content":[{"type":"text","text":${JSON.stringify(BIG).replace('A"', '\\u0041"').replace('\\\\/', '\\/')}}],"structuredContent":{"id":7}},"jsonrpc":"2.0","id":3}`;

describe('raw-json: large literals relayed as the bytes a peer wrote', () => {
  it('parses a skeleton whose large literal stays the chunks\' own memory, and writes the same JSON back (no copy of the literal)', () => {
    const chunks = pieces(LINE, 4093);
    const msg = parseJsonBytes(chunks) as RpcMessage;
    expect(hasRawLiterals(msg)).toBe(true);
    expect(JSON.stringify(msg).length).toBeLessThan(500); // the skeleton, not the 64 KiB text
    const w = toWire(msg) as WireParts;
    expect(joined(w)).toBe(LINE); // byte for byte, escapes as the peer wrote them
    expect(w.bytes).toBe(Buffer.byteLength(LINE));
    // The literal, whole, is views of the chunks' memory; only the skeleton's text is new bytes.
    const views = w.parts.filter((p) => chunks.some((c) => c.buffer === p.buffer));
    expect(views.length).toBeGreaterThan(1);
    expect(Buffer.concat(views).toString()).toBe(LINE.slice(LINE.indexOf('"text":') + 7, LINE.indexOf('}],"structuredContent"')));
    expect(JSON.parse(joined(w))).toEqual(JSON.parse(LINE));
  });

  it('tells escaped quotes from closing ones wherever the chunks are cut (odd and even runs of backslashes)', () => {
    const text = `{"a":"${'x'.repeat(RAW_STRING_MIN_BYTES)}\\\\\\"q\\\\","b":"\\""}`; // …\\\"q\\ then "\""
    const tail = Buffer.byteLength(text) - 20;
    for (let cut = tail; cut < Buffer.byteLength(text); cut++) {
      const b = Buffer.from(text);
      const msg = parseJsonBytes([b.subarray(0, cut), b.subarray(cut)]);
      expect(hasRawLiterals(msg), `cut at ${cut}`).toBe(true);
      expect(joined(toWire(msg)), `cut at ${cut}`).toBe(text);
    }
    const oneByteChunks = pieces(text, 1);
    expect(joined(toWire(parseJsonBytes(oneByteChunks)))).toBe(text);
    expect(materialize(parseJsonBytes(oneByteChunks))).toEqual(JSON.parse(text));
  });

  it('serialises the message as changed after parsing: new id, added and removed members (the relay\'s rewrites)', () => {
    const msg = parseJsonBytes(pieces(LINE, 1000)) as RpcMessage & { result: Record<string, unknown> };
    msg.id = 'client-9';
    msg.result.resultType = 'complete';
    delete msg.result.structuredContent;
    const copy = { ...msg, result: { ...msg.result } }; // spread copies keep the literals (tool gate)
    const expected = JSON.parse(LINE);
    expected.id = 'client-9';
    expected.result.resultType = 'complete';
    delete expected.result.structuredContent;
    expect(JSON.parse(joined(toWire(copy)))).toEqual(expected);
    (msg.result.content as unknown[]).length = 0; // the literal's member removed: its bytes are not written
    expect(wireBytes(toWire(msg))).toBeLessThan(200);
  });

  it('counts the real size: skeleton JSON plus rawExtraBytes is the message\'s byte length (audit resultBytes)', () => {
    const msg = parseJsonBytes(pieces(LINE, 777));
    expect(jsonByteLength(msg) + rawExtraBytes(msg)).toBe(Buffer.byteLength(LINE));
  });

  it('decodes a literal that is not valid JSON string content or UTF-8, so JSON.parse judges it as usual (RFC 8259 §7, §8.1)', () => {
    const control = `{"a":"${'x'.repeat(RAW_STRING_MIN_BYTES)}\u0001"}`;
    expect(() => parseJsonBytes(pieces(control, 1000))).toThrow(SyntaxError);
    const badEscape = `{"a":"${'x'.repeat(RAW_STRING_MIN_BYTES)}\\q"}`;
    expect(() => parseJsonBytes(pieces(badEscape, 1000))).toThrow(SyntaxError);
    const shortUnicode = `{"a":"${'x'.repeat(RAW_STRING_MIN_BYTES)}\\u12"}`;
    expect(() => parseJsonBytes(pieces(shortUnicode, 1000))).toThrow(SyntaxError);
    const bytes = Buffer.concat([Buffer.from('{"a":"'), Buffer.alloc(RAW_STRING_MIN_BYTES, 0x78), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
    const msg = parseJsonBytes([bytes.subarray(0, 100), bytes.subarray(100)]);
    expect(hasRawLiterals(msg)).toBe(false);
    expect(msg).toEqual(JSON.parse(bytes.toString('utf8'))); // U+FFFD, as the text path gives
  });

  it('keeps nothing as bytes below the size bound, or when the message is not an object', () => {
    const small = `{"a":"${'x'.repeat(RAW_STRING_MIN_BYTES - 3)}"}`;
    expect(hasRawLiterals(parseJsonBytes(pieces(small, 1000)))).toBe(false);
    const batch = `[{"a":"${'x'.repeat(RAW_STRING_MIN_BYTES)}"}]`;
    const parsed = parseJsonBytes(pieces(batch, 1000));
    expect(parsed).toEqual(JSON.parse(batch));
    expect(toWire(parsed)).toBe(batch);
  });

  it('does not resolve a marker in another message, nor a string that only looks like one', () => {
    const a = parseJsonBytes(pieces(LINE, 5000)) as RpcMessage & { result: { content: { text: string }[] } };
    const stolen = a.result.content[0]!.text;
    expect(stolen).toMatch(/^fjmcp-raw\//);
    const other = { jsonrpc: '2.0', id: 1, result: { text: stolen } };
    expect(toWire(other)).toBe(JSON.stringify(other));
    // A string with this message's own prefix but no literal of that number stays text, whole.
    const own = stolen.slice(0, stolen.lastIndexOf('/') + 1);
    (a.result as Record<string, unknown>).note = `${own}99`;
    expect(JSON.parse(joined(toWire(a))).result.note).toBe(`${own}99`);
    const b = parseJsonBytes(pieces(LINE, 5000)) as RpcMessage & { result: { content: { text: string }[] } };
    b.result.content.push({ text: stolen }); // a's marker inside b: b's nonce differs
    expect(joined(toWire(b))).toContain(JSON.stringify(stolen));
  });

  it('materialize gives the ordinary parse; a body of parts streams the same bytes', async () => {
    const msg = parseJsonBytes(pieces(LINE, 3000));
    expect(materialize(msg)).toEqual(JSON.parse(LINE));
    expect(hasRawLiterals(materialize(msg))).toBe(false);
    expect(await new Response(wireBody(toWire(msg))).text()).toBe(LINE);
  });

  it('tells whether every literal kept as bytes sits in a given part of the message (values only, not member names)', () => {
    const call = (args: string) => parseJsonBytes(pieces(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":${args}}}`, 2000)) as RpcMessage & { params: { arguments: unknown } };
    const big = JSON.stringify('y'.repeat(RAW_STRING_MIN_BYTES));
    const inArgs = call(`{"message":${big}}`);
    expect(rawLiteralsOnlyIn(inArgs, inArgs.params.arguments)).toBe(true);
    expect(rawLiteralsOnlyIn(inArgs, {})).toBe(false);
    const asKey = call(`{${big}:1}`);
    expect(rawLiteralsOnlyIn(asKey, asKey.params.arguments)).toBe(false);
  });

  it('digests arguments kept as bytes as it digests the parsed arguments (canonical JSON, with \\/ and \\u escapes decoded)', () => {
    for (const literal of [JSON.stringify('z'.repeat(RAW_STRING_MIN_BYTES)), JSON.stringify(BIG), `"${'w'.repeat(RAW_STRING_MIN_BYTES)}\\/\\u00e9\\u0041"`]) {
      const text = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"b":[${literal}],"a":1}}}`;
      const msg = parseJsonBytes(pieces(text, 999)) as RpcMessage & { params: { arguments: unknown } };
      expect(hasRawLiterals(msg)).toBe(true);
      const plain = JSON.parse(text) as { params: { arguments: unknown } };
      expect(digestArguments(msg.params.arguments, msg)).toBe(digestArguments(plain.params.arguments));
    }
  });
});
