/**
 * For 2025-era clients: SSE resumability (MCP 2025-11-25 basic/transports §resumability-and-
 * redelivery). A client whose POST stream drops in the middle of a long call reconnects with
 * `GET` + `Last-Event-ID` and receives what it missed, the call's result included; the per-session
 * buffer is bounded (FJMCP_SSE_REPLAY_BYTES) and a resume it cannot serve whole is refused with a
 * clear error, never a silent partial replay.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/ops/log.js';
import { lineSink } from '../support/broker.js';
import { EVERYTHING, personHeaders, relayConfig, startRelay, until, type RunningRelay } from './relay-harness.js';

const ACCEPT = { accept: 'application/json, text/event-stream', 'content-type': 'application/json' };

interface SseEvent { id?: string; data: string }

/** Reads SSE events from a response body, calling `onEvent` for each until it returns true or the body ends. */
async function readEvents(res: Response, onEvent: (e: SseEvent) => boolean | void): Promise<void> {
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let buf = '';
  for (;;) {
    const r = await reader.read();
    if (r.done) return;
    buf += dec.decode(r.value, { stream: true });
    let cut: number;
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      const e: SseEvent = { data: '' };
      for (const line of block.split('\n')) {
        if (line.startsWith('id: ')) e.id = line.slice(4);
        else if (line.startsWith('data: ')) e.data += line.slice(6);
      }
      if (e.id === undefined && !e.data) continue; // a comment
      if (onEvent(e)) {
        await reader.cancel().catch(() => {});
        return;
      }
    }
  }
}

async function initialize(url: string, who: Record<string, string>, protocolVersion = '2025-11-25'): Promise<string> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { ...who, ...ACCEPT },
    body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion, capabilities: {}, clientInfo: { name: 'resumer', version: '1' } } }),
  });
  const sid = res.headers.get('mcp-session-id')!;
  await res.text();
  await fetch(url, { method: 'POST', headers: { ...who, ...ACCEPT, 'mcp-session-id': sid, 'mcp-protocol-version': protocolVersion }, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
  return sid;
}

/** Starts a long call (server-everything's trigger-long-running-operation with progress), drops its stream after the first progress event; returns the last event id seen. */
async function startAndDrop(url: string, headers: Record<string, string>, id: number): Promise<string> {
  const stop = new AbortController();
  const res = await fetch(url, {
    method: 'POST',
    signal: stop.signal,
    headers,
    body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'trigger-long-running-operation', arguments: { duration: 2, steps: 4 }, _meta: { progressToken: `p${id}` } } }),
  });
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  let lastId: string | undefined;
  await readEvents(res, (e) => {
    if (e.id) lastId = e.id;
    return e.data.includes('notifications/progress');
  });
  stop.abort(); // the connection drops, as behind a proxy that cut it
  expect(lastId, 'events carry ids').toBeDefined();
  return lastId!;
}

describe('SSE resumability with Last-Event-ID (2025-era clients)', () => {
  let r: RunningRelay;
  const logLines: string[] = [];
  beforeAll(async () => {
    r = await startRelay(relayConfig(EVERYTHING, { FJMCP_SSE_REPLAY_BYTES: '65536' }), 0, createLogger('debug', lineSink(logLines)));
  });
  afterAll(async () => {
    await r.close();
  });

  it('a long call whose POST stream dropped delivers its remaining progress and its result on GET with Last-Event-ID', async () => {
    const who = personHeaders('resume');
    const sid = await initialize(r.url, who);
    const headers = { ...who, ...ACCEPT, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' };
    const lastId = await startAndDrop(r.url, headers, 7);
    // The call keeps running in the child after the drop (disconnect is not cancellation).
    expect(await until(() => r.relay.stats().inFlight === 0, 10_000)).toBe(true);
    // The operator can tell a stream the client side dropped from one the broker ended.
    const dropped = logLines.filter((l) => l.includes('a request stream ended before its answers were sent') && l.includes(sid));
    expect(dropped.map((l) => (JSON.parse(l) as { unanswered?: number }).unanswered)).toEqual([1]);

    const resumed = await fetch(r.url, { headers: { ...headers, accept: 'text/event-stream', 'last-event-id': lastId } });
    expect(resumed.status).toBe(200);
    const got: unknown[] = [];
    await readEvents(resumed, (e) => {
      const m = JSON.parse(e.data) as { id?: number; method?: string };
      got.push(m);
      return m.id === 7;
    });
    const result = got.find((m) => (m as { id?: number }).id === 7) as { result?: { content: Array<{ text: string }> } };
    expect(result?.result?.content[0]?.text).toMatch(/Long running operation completed/);
    // Only what came after the last event seen: the progress already received is not repeated.
    const progress = got.filter((m) => (m as { method?: string }).method === 'notifications/progress') as Array<{ params: { progress: number } }>;
    expect(progress.map((p) => p.params.progress)).toEqual([2, 3, 4]);
  });

  it('refuses, with the reason, a resume whose missed events no longer fit the bounded buffer', async () => {
    const own = await startRelay(relayConfig(EVERYTHING, { FJMCP_SSE_REPLAY_BYTES: '200' }));
    try {
      const who = personHeaders('tiny-buffer');
      const sid = await initialize(own.url, who);
      const headers = { ...who, ...ACCEPT, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' };
      const lastId = await startAndDrop(own.url, headers, 8);
      expect(await until(() => own.relay.stats().inFlight === 0, 10_000)).toBe(true);
      const res = await fetch(own.url, { headers: { ...headers, accept: 'text/event-stream', 'last-event-id': lastId } });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/no longer fit the replay buffer \(FJMCP_SSE_REPLAY_BYTES\); re-issue the request/);
    } finally {
      await own.close();
    }
  });

  it('answers a Last-Event-ID this session never sent (minted before a restart or on another replica) with a fresh GET stream, not an error', async () => {
    const who = personHeaders('resume-unknown');
    const sid = await initialize(r.url, who);
    const stop = new AbortController();
    const res = await fetch(r.url, { signal: stop.signal, headers: { ...who, accept: 'text/event-stream', 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25', 'last-event-id': '_GET_stream.3.someoneelse' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const first = await res.body!.getReader().read();
    expect(new TextDecoder().decode(first.value)).toContain(': stream open');
    stop.abort();
  });
});

/**
 * JSON responses (MCP 2025-11-25 basic/transports §sending-messages-to-the-server), decided per
 * request (src/mcp/session.ts JSON_ANSWERED_METHODS): requests that only ever get their one
 * response are answered with `application/json`; calls that may need a stream keep SSE.
 */
describe('JSON responses for 2025-era requests that need no stream', () => {
  let r: RunningRelay;
  beforeAll(async () => {
    r = await startRelay(relayConfig(EVERYTHING));
  });
  afterAll(async () => {
    await r.close();
  });

  const post = (headers: Record<string, string>, body: unknown) => fetch(r.url, { method: 'POST', headers, body: JSON.stringify(body) });

  it('answers tools/list and ping as application/json, tools/call and a list with a progress token as SSE', async () => {
    const who = personHeaders('json');
    const sid = await initialize(r.url, who);
    const headers = { ...who, ...ACCEPT, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' };

    const list = await post(headers, { jsonrpc: '2.0', id: 'l1', method: 'tools/list', params: {} });
    expect(list.headers.get('content-type')).toBe('application/json');
    expect(list.headers.get('mcp-session-id')).toBe(sid);
    const listed = (await list.json()) as { id: string; result: { tools: Array<{ name: string }> } };
    expect(listed.id).toBe('l1');
    expect(listed.result.tools.map((t) => t.name)).toContain('echo');

    const ping = await post(headers, { jsonrpc: '2.0', id: 2, method: 'ping' });
    expect(ping.headers.get('content-type')).toBe('application/json');
    expect(await ping.json()).toEqual({ jsonrpc: '2.0', id: 2, result: {} });

    const call = await post(headers, { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'echo', arguments: { message: 'hi' } } });
    expect(call.headers.get('content-type')).toBe('text/event-stream');
    expect(await call.text()).toContain('Echo: hi');

    const withProgress = await post(headers, { jsonrpc: '2.0', id: 4, method: 'tools/list', params: { _meta: { progressToken: 'pt' } } });
    expect(withProgress.headers.get('content-type')).toBe('text/event-stream');
    await withProgress.text();
  });

  it('a JSON-answered request with a wrong Mcp-Session-Id is still refused (404), as on the SSE path', async () => {
    const who = personHeaders('json-wrong-session');
    await initialize(r.url, who);
    const res = await post({ ...who, ...ACCEPT, 'mcp-session-id': 'no-such-session', 'mcp-protocol-version': '2025-11-25' }, { jsonrpc: '2.0', id: 1, method: 'tools/list' });
    expect(res.status).toBe(404);
  });

  it('the SDK v1 and v2 clients take the JSON answers as they are', async () => {
    const { Client: ClientV1 } = await import('@modelcontextprotocol/sdk/client/index.js');
    const { StreamableHTTPClientTransport: TransportV1 } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
    const { Client: ClientV2, StreamableHTTPClientTransport: TransportV2 } = await import('@modelcontextprotocol/client');
    const types: string[] = [];
    const spying = (async (u: string | URL, init?: RequestInit) => {
      const res = await fetch(u, init);
      if (init?.method === 'POST' && String(init.body).includes('"tools/list"')) types.push(res.headers.get('content-type') ?? '');
      return res;
    }) as typeof fetch;
    const headers = personHeaders('json-sdk');
    const v1 = new ClientV1({ name: 'v1', version: '1' });
    await v1.connect(new TransportV1(new URL(r.url), { requestInit: { headers }, fetch: spying }));
    expect((await v1.listTools()).tools.length).toBeGreaterThan(0);
    const v2 = new ClientV2({ name: 'v2', version: '2' });
    await v2.connect(new TransportV2(new URL(r.url), { requestInit: { headers }, fetch: spying }));
    expect((await v2.listTools()).tools.length).toBeGreaterThan(0);
    expect(types).toEqual(['application/json', 'application/json']);
    await v1.close();
    await v2.close();
  });
});
