/**
 * The 2025 path's loose ends and the drain: a client's `notifications/cancelled` (and a 2026-07-28
 * stream close) reaches the child; a child's request outside any call goes to a capable session
 * of that person (roots); a re-attached session keeps its capabilities; a call still running when
 * the shutdown grace ends gets a JSON-RPC error on its stream.
 */
import { randomBytes } from 'node:crypto';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFORMANCE_FIXTURE, EVERYTHING, personHeaders, processesWithEnv, relayConfig, startRelay, until, type RunningRelay } from './relay-harness.js';
import { connectClient, textOf } from './sdk-clients.js';

const marker = `tok-${randomBytes(6).toString('hex')}`;

async function poll<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  let v = await fn();
  while (!ok(v) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    v = await fn();
  }
  return v;
}

describe('cancellation reaches the child (MCP basic/utilities/cancellation)', () => {
  let r: RunningRelay;
  beforeAll(async () => {
    r = await startRelay(relayConfig(CONFORMANCE_FIXTURE));
  });
  afterAll(async () => {
    await r.close();
  });

  it('forwards a 2025 client\'s notifications/cancelled, and a 2026-07-28 stream close, to the child', async () => {
    const who = personHeaders('cancel');
    const c = new Client({ name: 'canceller', version: '1' }, { capabilities: {} });
    await c.connect(new StreamableHTTPClientTransport(new URL(r.url), { requestInit: { headers: who } }));
    const seen = async () => JSON.parse(textOf(await c.callTool({ name: 'fixture_cancellations', arguments: {} }))) as string[];
    expect(await seen()).toEqual([]);

    const ac = new AbortController();
    const call = c.callTool({ name: 'fixture_wait_for_cancel', arguments: {} }, { signal: ac.signal }).catch((e: Error) => e);
    expect(await until(() => r.relay.stats().inFlight === 1)).toBe(true);
    ac.abort('the person pressed stop');
    await call;
    expect(await poll(seen, (v) => v.length === 1)).toEqual([expect.stringContaining('the person pressed stop')]);
    expect(r.relay.stats().inFlight).toBe(0);

    // 2026-07-28: no notification; closing the request's stream is the cancellation.
    const stop = new AbortController();
    const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
    const pending = fetch(r.url, {
      method: 'POST',
      signal: stop.signal,
      headers: { ...who, accept: 'application/json, text/event-stream', 'content-type': 'application/json', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'fixture_wait_for_cancel' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'fixture_wait_for_cancel', arguments: {}, _meta: meta } }),
    }).then((res) => res.text()).catch((e: Error) => e);
    expect(await until(() => r.relay.stats().inFlight === 1)).toBe(true);
    stop.abort();
    await pending;
    expect(await poll(seen, (v) => v.length === 2)).toEqual([expect.any(String), expect.stringContaining('closed the request stream')]);
    await c.close();
  });
});

describe('with server-everything as the child', () => {
  let r: RunningRelay;
  const config = relayConfig(EVERYTHING);
  beforeAll(async () => {
    r = await startRelay(config);
  });
  afterAll(async () => {
    await r.close();
    expect(await until(() => processesWithEnv(marker).length === 0)).toBe(true);
  });

  it('sends the child\'s roots/list made outside any call to a session of that person that declared roots, on its GET stream', async () => {
    const who = personHeaders('roots', `${marker}-roots`);
    const asked: number[] = [];
    const c = new Client({ name: 'rooted', version: '1' }, { capabilities: { roots: { listChanged: true } } });
    c.setRequestHandler('roots/list', async () => (asked.push(Date.now()), { roots: [{ uri: 'file:///srv/project', name: 'project' }] }));
    await c.connect(new StreamableHTTPClientTransport(new URL(r.url), { requestInit: { headers: who } }));
    await new Promise((res) => setTimeout(res, 300)); // the GET stream is open
    // server-everything asks for the roots when the client says they changed: outside any call.
    await c.sendRootsListChanged();
    expect(await until(() => asked.length > 0, 5000)).toBe(true);
    expect(r.relay.stats().inFlight).toBe(0);
    expect(textOf(await c.callTool({ name: 'get-roots-list', arguments: {} }))).toContain('file:///srv/project');
    await c.close();
  });

  it('keeps a re-attached session\'s capabilities: after a restart a sampling request still reaches it', async () => {
    const who = personHeaders('reattach', `${marker}-reattach`);
    const c = await connectClient('v2', r.url, who);
    const sid = c.sessionId()!;
    const port = r.port;
    await r.close();
    r = await startRelay(config, port);
    await new Promise((res) => setTimeout(res, 200)); // the client's pool sees the old sockets close
    const res = await c.callTool('trigger-sampling-request', { prompt: 'after restart', maxTokens: 5 });
    expect(c.sessionId()).toBe(sid);
    expect(c.samplingRequests).toHaveLength(1);
    expect(JSON.stringify(res)).toContain('sampled by the test client');
    await c.close();
  });

  it('answers a call still running when the shutdown grace ends with a JSON-RPC error on its stream, before the stream closes', async () => {
    const own = await startRelay(relayConfig(EVERYTHING));
    const c = await connectClient('v2', own.url, personHeaders('drain', `${marker}-drain`));
    const call = c.callTool('trigger-long-running-operation', { duration: 30, steps: 30 }).then(() => 'completed', (e: Error) => e.message);
    expect(await until(() => own.relay.stats().inFlight === 1)).toBe(true);
    const started = Date.now();
    await own.relay.shutdown(300);
    const outcome = await call;
    expect(outcome).toMatch(/the broker is restarting; retry the request/);
    expect(Date.now() - started).toBeLessThan(5000); // told at once, not left to its own timeout
    await own.close();
  });
});
