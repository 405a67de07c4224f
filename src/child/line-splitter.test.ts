import { describe, expect, it } from 'vitest';
import { RAW_LINE_MIN_BYTES } from '../lib/raw-json.js';
import { LineSplitter, MessageTooLargeError } from './line-splitter.js';

function collect(max: number) {
  const lines: string[] = [];
  const errors: MessageTooLargeError[] = [];
  return { lines, errors, s: new LineSplitter(max, (l) => lines.push(l), (e) => errors.push(e)) };
}

describe('LineSplitter', () => {
  it('splits newline-delimited messages across arbitrary chunk boundaries (MCP stdio transport)', () => {
    const { lines, s } = collect(1024);
    const text = '{"a":1}\n{"b":"é"}\r\n\n{"c":3}\n';
    const bytes = Buffer.from(text);
    for (let i = 0; i < bytes.length; i += 3) s.push(bytes.subarray(i, i + 3));
    expect(lines).toEqual(['{"a":1}', '{"b":"é"}', '{"c":3}']);
  });

  it('reports a message over the cap once and then ignores input', () => {
    const { lines, errors, s } = collect(8);
    s.push(Buffer.from('12345'));
    s.push(Buffer.from('67890'));
    s.push(Buffer.from('\n{}\n'));
    expect(errors).toHaveLength(1);
    expect(lines).toEqual([]);
  });

  it('accepts a message of exactly the cap', () => {
    const { lines, errors, s } = collect(4);
    s.push(Buffer.from('abcd\n'));
    expect(errors).toHaveLength(0);
    expect(lines).toEqual(['abcd']);
  });

  it('handles a 16 MiB message in 64 KiB chunks in linear time', () => {
    const { lines, s } = collect(32 << 20);
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const t0 = performance.now();
    for (let i = 0; i < 256; i++) s.push(chunk);
    s.push(Buffer.from('\n'));
    expect(lines[0]).toHaveLength(16 << 20);
    expect(performance.now() - t0).toBeLessThan(2000); // quadratic re-concatenation takes minutes
  });
});

describe('LineSplitter: large lines as bytes', () => {
  it('hands a line of at least RAW_LINE_MIN_BYTES that spans chunks on as views of those chunks (no joined copy), CR removed; a smaller one as text', () => {
    const lines: string[] = [];
    const large: Buffer[][] = [];
    const s = new LineSplitter(1 << 20, (l) => lines.push(l), () => {}, (p) => large.push(p));
    const a = Buffer.alloc(RAW_LINE_MIN_BYTES, 0x61);
    const b = Buffer.concat([Buffer.from('bc\r\n{"small":"'), Buffer.from([0xc3])]); // é's first byte
    const c = Buffer.from([0xa9]); // ...and its second, in the next chunk
    s.push(a);
    s.push(b);
    s.push(Buffer.concat([c, Buffer.from('"}\n')]));
    expect(large).toHaveLength(1);
    expect(large[0]!.map((p) => p.buffer)).toEqual([a.buffer, b.buffer]);
    expect(Buffer.concat(large[0]!).toString()).toBe(`${'a'.repeat(RAW_LINE_MIN_BYTES)}bc`);
    expect(lines).toEqual(['{"small":"é"}']);
  });
});
