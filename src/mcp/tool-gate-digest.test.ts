import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { digestArguments } from './tool-gate.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('digestArguments: SHA-256 of canonical JSON (keys in RFC 8785 §3.2.3 order, no whitespace)', () => {
  it('digests the canonical text, whatever the key order', () => {
    const text = '{"a":[1,"x",null,{"b":true,"c":{}}],"owner":"alice","repo":"x/y"}';
    expect(digestArguments({ repo: 'x/y', owner: 'alice', a: [1, 'x', null, { c: {}, b: true }] })).toBe(sha(text));
    expect(digestArguments({ owner: 'alice', a: [1, 'x', null, { b: true, c: {} }], repo: 'x/y' })).toBe(sha(text));
  });

  it('leaves out undefined members, writes undefined array items as null, and digests absent arguments as {}', () => {
    expect(digestArguments({ a: undefined, b: [undefined] })).toBe(sha('{"b":[null]}'));
    expect(digestArguments(undefined)).toBe(sha('{}'));
  });

  it('gives the same digest for values around and far over the 64 KiB piece size', () => {
    for (const n of [65_535, 65_536, 65_537, 3 * 1024 * 1024]) {
      const big = 'é'.repeat(n);
      const args = { z: big, a: ['k'.repeat(n - 10), 2], m: 'ü"\\' };
      const text = `{"a":[${JSON.stringify('k'.repeat(n - 10))},2],"m":${JSON.stringify('ü"\\')},"z":${JSON.stringify(big)}}`;
      expect(digestArguments(args), `n=${n}`).toBe(sha(text));
    }
  });
});
