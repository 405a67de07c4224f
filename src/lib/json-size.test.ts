import { describe, expect, it } from 'vitest';
import { jsonByteLength } from './json-size.js';

const bytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v) ?? '', 'utf8');

describe('jsonByteLength: the UTF-8 length of JSON.stringify without building it', () => {
  it.each([
    ['a tool result', { jsonrpc: '2.0', id: 7, result: { content: [{ type: 'text', text: 'Echo: hi' }], isError: false } }],
    ['escapes and controls', { s: 'quote " backslash \\ newline \n tab \t bell \u0007 nul \u0000' }],
    ['non-ASCII and pairs', { s: 'é 漢字 😀', k: ['ü', '😀😀'] }],
    ['lone surrogates', { a: '\ud800', b: 'x\udfffy' }],
    ['numbers, booleans, null', [0, -1.5, 1e21, 3.14159, true, false, null, Number.NaN, Infinity]],
    ['left-out members and holes', { a: undefined, b: () => 1, c: [undefined, () => 1], d: 1 }],
    ['dates through toJSON', { at: new Date(0) }],
    ['empty containers', { a: {}, b: [], c: '' }],
    ['keys that need escaping', { 'k"\\\n': 1, 'ключ': 'значение' }],
  ])('%s', (_name, v) => {
    expect(jsonByteLength(v)).toBe(bytes(v));
  });

  it('a 1 MiB text result', () => {
    const v = { result: { content: [{ type: 'text', text: 'x'.repeat(1 << 20) }] } };
    expect(jsonByteLength(v)).toBe(bytes(v));
  });
});
