import { describe, expect, it } from 'vitest';
import { guardSse } from './sse-guard.js';

function sseResponse(chunks: Uint8Array[], keepOpen = true): { res: Response; cancelled: () => boolean } {
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      for (const ch of chunks) c.enqueue(ch);
      if (!keepOpen) c.close();
    },
    cancel() {
      cancelled = true;
    },
  });
  return { res: new Response(body, { headers: { 'content-type': 'text/event-stream' } }), cancelled: () => cancelled };
}
const tick = () => new Promise((r) => setTimeout(r, 20));

describe('guardSse', () => {
  it('writes a comment first and passes events through, reporting open and close once', async () => {
    let opened = 0;
    let closed = 0;
    const { res } = sseResponse([new TextEncoder().encode('event: message\ndata: {}\n\n')], false);
    const out = guardSse(res, new AbortController().signal, () => opened++, () => closed++);
    expect(out.headers.get('x-accel-buffering')).toBe('no');
    const text = await out.text();
    expect(text).toBe(': stream open\n\nevent: message\ndata: {}\n\n');
    expect([opened, closed]).toEqual([1, 1]);
  });

  it('cuts a stream whose client stops reading once the backlog passes the bound, and cancels the source', async () => {
    let closed = 0;
    const mib = new Uint8Array(1 << 20);
    const { res, cancelled } = sseResponse([mib, mib, mib, mib]);
    const out = guardSse(res, new AbortController().signal, () => {}, () => closed++, 2 << 20);
    await tick(); // nobody reads `out`
    expect(closed).toBe(1);
    expect(cancelled()).toBe(true);
    await expect(out.text()).rejects.toThrow(/too slow/);
  });

  it('lets one message larger than the bound through', async () => {
    const big = new Uint8Array(3 << 20);
    const { res } = sseResponse([big], false);
    const out = guardSse(res, new AbortController().signal, () => {}, () => {}, 2 << 20);
    expect((await out.arrayBuffer()).byteLength).toBe((3 << 20) + 15);
  });

  it('closes and reports when the client disconnects (request signal aborted)', async () => {
    let closed = 0;
    const ac = new AbortController();
    const { res, cancelled } = sseResponse([]);
    guardSse(res, ac.signal, () => {}, () => closed++);
    ac.abort();
    await tick();
    expect(closed).toBe(1);
    expect(cancelled()).toBe(true);
  });
});
