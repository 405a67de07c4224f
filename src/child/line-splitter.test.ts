import { describe, expect, it } from 'vitest';
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
