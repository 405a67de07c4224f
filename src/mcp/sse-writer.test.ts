import { describe, expect, it } from 'vitest';
import { SseWriter } from './sse-writer.js';

function writer(maxBuffered?: number, signal = new AbortController().signal) {
  const seen = { opened: 0, closed: [] as boolean[] };
  let onClosed = () => {};
  const closed = new Promise<void>((r) => (onClosed = r));
  const sse = new SseWriter(signal, {
    opened: () => seen.opened++,
    closed: (byClient) => {
      seen.closed.push(byClient);
      onClosed();
    },
  }, maxBuffered === undefined ? {} : { maxBuffered });
  return { sse, seen, closed };
}

describe('SseWriter: the broker-written SSE stream', () => {
  it('writes a comment first, then message events (with an id line when given), reporting open and close once', async () => {
    const { sse, seen } = writer();
    expect(sse.response.headers.get('x-accel-buffering')).toBe('no');
    expect(sse.response.headers.get('cache-control')).toBe('no-cache, no-transform');
    sse.send({ jsonrpc: '2.0', method: 'a' });
    sse.prime('s.1.e');
    sse.message('{"jsonrpc":"2.0","id":1,"result":{}}', 's.2.e');
    sse.end();
    sse.end();
    expect(await sse.response.text()).toBe(
      ': stream open\n\nevent: message\ndata: {"jsonrpc":"2.0","method":"a"}\n\nid: s.1.e\ndata: \n\n'
      + 'event: message\nid: s.2.e\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\n\n',
    );
    expect(seen).toEqual({ opened: 1, closed: [false] });
  });

  it('writes a message larger than one frame in pieces with the same bytes (UTF-8 included)', async () => {
    const { sse } = writer();
    const json = JSON.stringify({ text: 'é'.repeat(100_000) });
    sse.message(json, 'x');
    sse.end();
    expect(await sse.response.text()).toBe(`: stream open\n\nevent: message\nid: x\ndata: ${json}\n\n`);
  });

  it('cuts a stream whose client stops reading once the backlog passes the bound, and reports it once', async () => {
    const { sse, seen, closed } = writer(2 << 20);
    const mib = 'x'.repeat(1 << 20);
    for (let i = 0; i < 4 && !sse.ended; i++) sse.message(mib); // nobody reads the response
    await closed;
    expect(seen.closed).toEqual([true]);
    expect(sse.ended).toBe(true);
    await expect(sse.response.text()).rejects.toThrow(/too slow/);
  });

  it('lets one message larger than the bound through', async () => {
    const { sse } = writer(2 << 20);
    sse.message('x'.repeat(3 << 20));
    sse.end();
    expect((await sse.response.arrayBuffer()).byteLength).toBe((3 << 20) + ': stream open\n\nevent: message\ndata: \n\n'.length);
  });

  it('closes and reports when the client disconnects (request signal aborted)', async () => {
    const ac = new AbortController();
    const { sse, seen, closed } = writer(undefined, ac.signal);
    ac.abort();
    await closed;
    expect(seen.closed).toEqual([true]);
    sse.send({ jsonrpc: '2.0', method: 'late' }); // ignored, never throws
    expect(sse.ended).toBe(true);
  });

  it('reports a client already gone before the stream was made after construction, not during it', async () => {
    const ac = new AbortController();
    ac.abort();
    const { sse, seen, closed } = writer(undefined, ac.signal);
    expect(seen).toEqual({ opened: 1, closed: [] }); // the owner can register the writer first
    await closed;
    expect(seen.closed).toEqual([true]);
    expect(sse.ended).toBe(true);
  });
});
