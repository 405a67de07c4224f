/**
 * The streamable HTTP transport of 2025-era sessions as the broker serves it (MCP 2025-11-25
 * basic/transports §streamable-http): the refusals a client can meet, each with its status and a
 * JSON-RPC error body, batches on one stream, DELETE, and a resume that takes over a stream whose
 * old connection is still open.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVERYTHING, personHeaders, relayConfig, startRelay, type RunningRelay } from './relay-harness.js';

const ACCEPT = { accept: 'application/json, text/event-stream', 'content-type': 'application/json' };
const V = '2025-11-25';

const init = (id: number | string = 0) => ({ jsonrpc: '2.0', id, method: 'initialize', params: { protocolVersion: V, capabilities: {}, clientInfo: { name: 'transport-test', version: '1' } } });
const call = (id: number, message = 'hi', meta?: Record<string, unknown>) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message }, ...(meta ? { _meta: meta } : {}) } });

/** The `data` of each SSE `message` event of a body that ends. */
async function events(res: Response): Promise<Array<Record<string, unknown>>> {
  const text = await res.text();
  return text.split('\n\n').flatMap((block) => {
    const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('');
    return data ? [JSON.parse(data) as Record<string, unknown>] : [];
  });
}

async function rpcError(res: Response): Promise<{ code: number; message: string }> {
  const body = (await res.json()) as { error: { code: number; message: string }; id: unknown };
  expect(body.id).toBeNull();
  return body.error;
}

describe('2025 streamable HTTP transport served by the broker', () => {
  let r: RunningRelay;
  let who: Record<string, string>;
  let sid: string;
  let headers: Record<string, string>;
  const post = (body: unknown, h: Record<string, string> = headers) => fetch(r.url, { method: 'POST', headers: h, body: JSON.stringify(body) });

  beforeAll(async () => {
    r = await startRelay(relayConfig(EVERYTHING, { FJMCP_SSE_REPLAY_BYTES: '65536' }));
    who = personHeaders('transport');
    const res = await post(init(), { ...who, ...ACCEPT });
    sid = res.headers.get('mcp-session-id')!;
    await res.text();
    headers = { ...who, ...ACCEPT, 'mcp-session-id': sid, 'mcp-protocol-version': V };
    expect((await post({ jsonrpc: '2.0', method: 'notifications/initialized' })).status).toBe(202);
  });
  afterAll(async () => {
    await r.close();
  });

  it('refuses a POST whose Accept lacks text/event-stream with 406 (§sending-messages: the client MUST accept both)', async () => {
    const res = await post(call(1), { ...headers, accept: 'application/json' });
    expect(res.status).toBe(406);
    expect(await rpcError(res)).toEqual({ code: -32000, message: 'Not Acceptable: Client must accept both application/json and text/event-stream' });
  });

  it('refuses a body that is not application/json with 415', async () => {
    const res = await post(call(2), { ...headers, 'content-type': 'text/plain' });
    expect(res.status).toBe(415);
    expect((await rpcError(res)).code).toBe(-32000);
  });

  it('refuses JSON that is not a JSON-RPC message (wrong version, unknown member, fractional id) with 400 -32700', async () => {
    for (const bad of [{ jsonrpc: '1.0', id: 3, method: 'ping' }, { ...call(3), extra: true }, { jsonrpc: '2.0', id: 3.5, method: 'ping' }, [call(3), { id: 4 }]]) {
      const res = await post(bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(await rpcError(res)).toEqual({ code: -32700, message: 'Parse error: Invalid JSON-RPC message' });
    }
  });

  it('refuses a batch of more than 100 messages with 400 -32600', async () => {
    const res = await post(Array.from({ length: 101 }, (_, i) => ({ jsonrpc: '2.0', method: 'notifications/x', params: { i } })));
    expect(res.status).toBe(400);
    expect((await rpcError(res)).code).toBe(-32600);
  });

  it('refuses an unsupported MCP-Protocol-Version with 400 naming the supported ones', async () => {
    const res = await post(call(5), { ...headers, 'mcp-protocol-version': '1999-01-01' });
    expect(res.status).toBe(400);
    expect((await rpcError(res)).message).toBe('Bad Request: Unsupported protocol version: 1999-01-01 (supported versions: 2025-11-25, 2025-06-18, 2025-03-26, 2024-11-05)');
  });

  it('refuses an initialize batched with other messages (§lifecycle: initialize comes alone) and keeps no session for it', async () => {
    const before = r.relay.stats().sessions;
    const res = await post([init(1), { jsonrpc: '2.0', id: 2, method: 'ping' }], { ...who, ...ACCEPT });
    expect(res.status).toBe(400);
    expect(await rpcError(res)).toEqual({ code: -32600, message: 'Invalid Request: Only one initialization request is allowed' });
    expect(res.headers.get('mcp-session-id')).toBeNull();
    expect(r.relay.stats().sessions).toBe(before);
  });

  it('answers a batch of two calls on one stream that ends after the second response', async () => {
    const res = await post([call(6, 'six'), call(7, 'seven')]);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    expect(res.headers.get('mcp-session-id')).toBe(sid);
    const got = (await events(res)).filter((m) => 'result' in m).map((m) => m.id);
    expect(got.sort()).toEqual([6, 7]);
  });

  it('takes a notification-only POST with 202 and no body', async () => {
    const res = await post({ jsonrpc: '2.0', method: 'notifications/roots/list_changed' });
    expect(res.status).toBe(202);
    expect(await res.text()).toBe('');
  });

  it('resuming a stream whose old connection is still open moves it to the new connection (no 409) and ends the old one', async () => {
    const res = await post({ jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 'trigger-long-running-operation', arguments: { duration: 1, steps: 2 }, _meta: { progressToken: 'p8' } } });
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let buf = '';
    let lastId: string | undefined;
    while (!lastId) {
      const chunk = await reader.read();
      expect(chunk.done).toBe(false);
      buf += dec.decode(chunk.value, { stream: true });
      lastId = /^id: (.+)$/m.exec(buf)?.[1];
    }
    const resumed = await fetch(r.url, { headers: { ...headers, accept: 'text/event-stream', 'last-event-id': lastId } });
    expect(resumed.status).toBe(200);
    const got = await events(resumed); // ends after the call's response
    expect(got.at(-1)?.id).toBe(8);
    for (;;) if ((await reader.read()).done) break; // the old connection was ended
  });

  it('ends the session on DELETE: 200, then 404 for its id', async () => {
    const res = await post(init('d'), { ...who, ...ACCEPT });
    const id = res.headers.get('mcp-session-id')!;
    await res.text();
    const h = { ...headers, 'mcp-session-id': id };
    expect((await fetch(r.url, { method: 'DELETE', headers: h })).status).toBe(200);
    const after = await post(call(9), h);
    expect(after.status).toBe(404);
    expect((await rpcError(after)).code).toBe(-32001);
  });
});
