import { describe, expect, it } from 'vitest';
import { readBodyText } from './request-body.js';

const chunked = (parts: Uint8Array[]) => {
  let pulled = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      if (pulled < parts.length) c.enqueue(parts[pulled++]!);
      else c.close();
    },
  }, { highWaterMark: 0 });
  return { req: new Request('http://x/', { method: 'POST', body, duplex: 'half' } as RequestInit), pulled: () => pulled };
};

describe('readBodyText (RFC 9110 §8.6 Content-Length, else a capped stream)', () => {
  it('refuses a declared Content-Length above the cap without reading the body', async () => {
    const { req, pulled } = chunked([new Uint8Array(10)]);
    req.headers.set('content-length', '11');
    expect(await readBodyText(req, 10)).toEqual({ tooLarge: true });
    expect(pulled()).toBe(0);
  });

  it('reads a body with a declared length within the cap', async () => {
    const req = new Request('http://x/', { method: 'POST', body: 'grant_type=x', headers: { 'content-length': '12' } });
    expect(await readBodyText(req, 12)).toEqual({ tooLarge: false, text: 'grant_type=x' });
  });

  it('stops reading a body without Content-Length as soon as more than the cap has arrived', async () => {
    const { req, pulled } = chunked([new Uint8Array(6), new Uint8Array(6), new Uint8Array(6), new Uint8Array(6)]);
    expect(await readBodyText(req, 10)).toEqual({ tooLarge: true });
    expect(pulled()).toBeLessThan(4);
  });

  it('decodes UTF-8 split across chunks', async () => {
    const bytes = Buffer.from('{"q":"grüße"}');
    const { req } = chunked([bytes.subarray(0, 9), bytes.subarray(9)]);
    expect(await readBodyText(req, 100)).toEqual({ tooLarge: false, text: '{"q":"grüße"}' });
  });
});
