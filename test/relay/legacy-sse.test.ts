/**
 * The legacy HTTP+SSE transport (MCP 2024-11-05 basic/transports §http-with-sse) behind
 * `FJMCP_LEGACY_SSE`: off by default (404); `GET /sse` opens a session whose first event is
 * `endpoint`, `POST /messages?sessionId=` answers 202 and the reply goes out on the stream; the
 * session is the person's, on the person's one child beside their `/mcp` sessions; another
 * person's session id gets the same 404 as an unknown one; the stream closing cancels its calls at
 * the child; streams per person are capped; the `/mcp` route's Host and Origin checks apply.
 * Real SDK clients (v1 `SSEClientTransport`, v1 streamable HTTP); the bearer check is the relay
 * harness's named stand-in (the real one: test/e2e/legacy-sse.test.ts).
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LEGACY_CLOSED_REASON } from '../../src/mcp/legacy-sse.js';
import { SHUTDOWN_MESSAGE } from '../../src/mcp/relay.js';
import { CONFORMANCE_FIXTURE, EVERYTHING, personHeaders, relayConfig, startRelay, until, type RunningRelay } from './relay-harness.js';
import { textOf } from './sdk-clients.js';

const ON = { FJMCP_LEGACY_SSE: 'true' };
const JSON_CT = { 'content-type': 'application/json' };

/** One SSE event. */
interface Ev {
  event: string;
  data: string;
}

/** An open legacy stream read event by event (raw fetch: what a client of that era sees). */
class RawStream {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  #buf = '';
  ended = false;

  private constructor(readonly res: Response, readonly abort: AbortController) {
    this.#reader = res.body!.getReader();
  }

  static async open(url: string, headers: Record<string, string>): Promise<RawStream> {
    const ac = new AbortController();
    const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: ac.signal });
    return new RawStream(res, ac);
  }

  /** The next event (comments skipped); undefined when the stream ended. */
  async next(): Promise<Ev | undefined> {
    for (;;) {
      const cut = this.#buf.indexOf('\n\n');
      if (cut >= 0) {
        const block = this.#buf.slice(0, cut);
        this.#buf = this.#buf.slice(cut + 2);
        const lines = block.split('\n').filter((l) => !l.startsWith(':'));
        if (!lines.length) continue;
        const field = (name: string) => lines.filter((l) => l.startsWith(`${name}:`)).map((l) => l.slice(name.length + 1).trimStart()).join('\n');
        return { event: field('event') || 'message', data: field('data') };
      }
      const r = await this.#reader.read().catch(() => ({ done: true as const, value: undefined }));
      if (r.done) {
        this.ended = true;
        return undefined;
      }
      this.#buf += this.#decoder.decode(r.value, { stream: true });
    }
  }

  /** The next JSON-RPC response on the stream (notifications such as list_changed skipped). */
  async message(): Promise<Record<string, any>> {
    for (;;) {
      const e = await this.next();
      if (!e) throw new Error('the stream ended');
      if (e.event !== 'message') continue;
      const m = JSON.parse(e.data) as Record<string, any>;
      if (m.id !== undefined) return m;
    }
  }
}

const base = (r: RunningRelay) => r.url.replace(/\/mcp$/, '');
const post = (url: string, headers: Record<string, string>, body: unknown) =>
  fetch(url, { method: 'POST', headers: { ...JSON_CT, ...headers }, body: JSON.stringify(body) });
const initialize = (id: number, protocolVersion = '2024-11-05') => ({ jsonrpc: '2.0', id, method: 'initialize', params: { protocolVersion, capabilities: {}, clientInfo: { name: 'raw-2024', version: '1' } } });

/** Opens a raw legacy session: the stream, and the absolute POST URL of its `endpoint` event. */
async function openSession(r: RunningRelay, who: Record<string, string>, path = '/sse'): Promise<{ s: RawStream; endpoint: string; data: string }> {
  const s = await RawStream.open(`${base(r)}${path}`, who);
  expect(s.res.status).toBe(200);
  const first = await s.next();
  expect(first?.event).toBe('endpoint');
  return { s, endpoint: new URL(first!.data, base(r)).href, data: first!.data };
}

describe('legacy HTTP+SSE off (the default)', () => {
  let r: RunningRelay;
  beforeAll(async () => {
    r = await startRelay(relayConfig(EVERYTHING));
  });
  afterAll(async () => {
    await r.close();
  });

  it('answers 404 on GET /sse, GET /mcp/sse and POST /messages, even with a valid bearer', async () => {
    expect(r.config.mcp.legacySse.enabled).toBe(false);
    for (const path of ['/sse', '/mcp/sse']) expect((await fetch(`${base(r)}${path}`, { headers: { accept: 'text/event-stream', ...personHeaders('off') } })).status, path).toBe(404);
    expect((await post(`${base(r)}/messages?sessionId=x`, personHeaders('off'), initialize(1))).status).toBe(404);
  });
});

describe('legacy HTTP+SSE on (FJMCP_LEGACY_SSE=true)', () => {
  let r: RunningRelay;
  beforeAll(async () => {
    r = await startRelay(relayConfig(EVERYTHING, ON));
  });
  afterAll(async () => {
    await r.close();
  });

  it('GET /sse opens the stream with an endpoint event; a POST is answered 202 and its reply comes on the stream (2024-11-05 negotiated)', async () => {
    const { s, endpoint, data } = await openSession(r, personHeaders('raw'));
    expect(s.res.headers.get('content-type')).toBe('text/event-stream');
    expect(s.res.headers.get('x-accel-buffering')).toBe('no');
    expect(data).toMatch(/^\/messages\?sessionId=[A-Za-z0-9_%.-]+$/);
    const res = await post(endpoint, personHeaders('raw'), initialize(1));
    expect(res.status).toBe(202);
    const init = await s.message();
    expect(init).toMatchObject({ id: 1, result: { protocolVersion: '2024-11-05', serverInfo: expect.any(Object) } });
    expect((await post(endpoint, personHeaders('raw'), { jsonrpc: '2.0', method: 'notifications/initialized' })).status).toBe(202);
    // A batch (2024-11-05 still has them): both replies on the stream.
    expect((await post(endpoint, personHeaders('raw'), [{ jsonrpc: '2.0', id: 2, method: 'ping' }, { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'echo', arguments: { message: 'over legacy SSE' } } }])).status).toBe(202);
    const replies = [await s.message(), await s.message()].sort((a, b) => a.id - b.id);
    expect(replies[0]).toMatchObject({ id: 2, result: {} });
    expect(textOf(replies[1]!.result)).toContain('over legacy SSE');
    expect(r.relay.sessions().filter((x) => x.transport === 'legacy-sse')).toMatchObject([{ personId: 'raw', openStreams: 1 }]);
    s.abort.abort();
    expect(await until(() => r.relay.sessions().length === 0)).toBe(true);
  });

  it('/mcp/sse names /mcp/messages in its endpoint event (below the protected resource /mcp)', async () => {
    const { s, endpoint, data } = await openSession(r, personHeaders('under-mcp'), '/mcp/sse');
    expect(data).toMatch(/^\/mcp\/messages\?sessionId=/);
    expect((await post(endpoint, personHeaders('under-mcp'), initialize(1, '2025-06-18'))).status).toBe(202);
    expect(await s.message()).toMatchObject({ id: 1, result: { protocolVersion: '2025-06-18' } });
    s.abort.abort();
  });

  it('serves the SDK\'s SSEClientTransport and a 2025-11-25 streamable HTTP client of the same person at the same time, on one child', async () => {
    const who = personHeaders('ada');
    const childrenBefore = r.relay.stats().children;
    const legacy = new Client({ name: 'legacy-sdk', version: '1' });
    await legacy.connect(new SSEClientTransport(new URL(`${base(r)}/sse`), { requestInit: { headers: who } }));
    const modern = new Client({ name: 'streamable-sdk', version: '1' });
    const mt = new StreamableHTTPClientTransport(new URL(r.url), { requestInit: { headers: who } });
    await modern.connect(mt);
    expect(mt.protocolVersion).toBe('2025-11-25');
    const [a, b] = await Promise.all([
      legacy.callTool({ name: 'echo', arguments: { message: 'from the legacy client' } }),
      modern.callTool({ name: 'echo', arguments: { message: 'from the streamable client' } }),
    ]);
    expect(textOf(a as { content?: unknown })).toContain('from the legacy client');
    expect(textOf(b as { content?: unknown })).toContain('from the streamable client');
    expect((await legacy.listTools()).tools.map((t) => t.name)).toContain('echo');
    // A large argument and result go through the messages endpoint and the legacy stream as bytes.
    const large = `${'é€𝄞 "q" \\ \n'.repeat(20_000)} end`;
    expect(textOf((await legacy.callTool({ name: 'echo', arguments: { message: large } })) as { content?: unknown })).toBe(`Echo: ${large}`);
    expect(r.relay.childrenOf()).toContain('ada');
    expect(r.relay.stats().children).toBe(childrenBefore + 1); // one child for both sessions
    expect(r.relay.sessions().filter((x) => x.personId === 'ada').map((x) => x.transport ?? 'streamable-http').sort()).toEqual(['legacy-sse', 'streamable-http']);
    await legacy.close();
    await modern.close();
  });

  it('refuses a POST with another person\'s session id exactly as one with an unknown id (404), and one without a session id (400)', async () => {
    const { s, endpoint } = await openSession(r, personHeaders('alice'));
    const stolen = await post(endpoint, personHeaders('mallory'), { jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'echo', arguments: { message: 'as alice' } } });
    const unknown = await post(`${base(r)}/messages?sessionId=${'A'.repeat(24)}.00.${'B'.repeat(22)}`, personHeaders('mallory'), { jsonrpc: '2.0', id: 9, method: 'ping' });
    expect(stolen.status).toBe(404);
    expect(unknown.status).toBe(404);
    expect(await stolen.text()).toBe(await unknown.text());
    expect((await post(`${base(r)}/messages`, personHeaders('mallory'), { jsonrpc: '2.0', id: 1, method: 'ping' })).status).toBe(400);
    expect((await post(endpoint, {}, { jsonrpc: '2.0', id: 1, method: 'ping' })).status).toBe(401);
    // Nothing reached alice's stream: her own ping is the first message on it.
    expect((await post(endpoint, personHeaders('alice'), { jsonrpc: '2.0', id: 'mine', method: 'ping' })).status).toBe(202);
    expect(await s.message()).toMatchObject({ id: 'mine', result: {} });
    expect((await post(endpoint, personHeaders('alice'), { id: 1, method: 'ping' })).status).toBe(400); // not JSON-RPC 2.0
    expect((await fetch(endpoint, { method: 'POST', headers: { ...personHeaders('alice'), 'content-type': 'text/plain' }, body: '{}' })).status).toBe(415);
    s.abort.abort();
  });

  it('is cut like any session of the person when a grant or person is revoked or blocked (relay.cut)', async () => {
    const { s, endpoint } = await openSession(r, personHeaders('revoked'));
    expect(await r.relay.cut({ grantIds: ['standin-grant-revoked'] }, 'grant revoked')).toBe(1);
    while (await s.next());
    expect(s.ended).toBe(true);
    expect((await post(endpoint, personHeaders('revoked'), { jsonrpc: '2.0', id: 1, method: 'ping' })).status).toBe(404);
  });

  it('applies the /mcp route\'s Host and Origin checks (403) to GET /sse and POST /messages', async () => {
    const { s, endpoint } = await openSession(r, personHeaders('origin'));
    const evil = { ...personHeaders('origin'), origin: 'https://evil.example.com' };
    expect((await fetch(`${base(r)}/sse`, { headers: evil })).status).toBe(403);
    expect((await post(endpoint, evil, { jsonrpc: '2.0', id: 1, method: 'ping' })).status).toBe(403);
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${base(r)}/sse`, { headers: { ...personHeaders('origin'), host: 'evil.example.com' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(403);
    s.abort.abort();
  });
});

describe('legacy stream lifecycle', () => {
  let r: RunningRelay;
  beforeAll(async () => {
    r = await startRelay(relayConfig(CONFORMANCE_FIXTURE, { ...ON, FJMCP_LEGACY_SSE_MAX_PER_PERSON: '1' }));
  });
  afterAll(async () => {
    await r.close();
  });

  const cancellationsSeen = async (who: Record<string, string>) => {
    const c = new Client({ name: 'observer', version: '1' });
    await c.connect(new StreamableHTTPClientTransport(new URL(r.url), { requestInit: { headers: who } }));
    const seen = JSON.parse(textOf((await c.callTool({ name: 'fixture_cancellations', arguments: {} })) as { content?: unknown })) as string[];
    await c.close();
    return seen;
  };

  it('closing the stream ends the session and cancels its call at the child (notifications/cancelled)', async () => {
    const who = personHeaders('closer');
    const { s, endpoint } = await openSession(r, who);
    await post(endpoint, who, initialize(1));
    await s.message();
    expect((await post(endpoint, who, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'fixture_wait_for_cancel', arguments: {} } })).status).toBe(202);
    expect(await until(() => r.relay.stats().inFlight === 1)).toBe(true);
    s.abort.abort();
    expect(await until(() => r.relay.stats().inFlight === 0)).toBe(true);
    // The child reads the cancellation from its stdin when it gets to it: await it, then check it is the only one.
    let seen = await cancellationsSeen(who);
    for (const end = Date.now() + 5000; seen.length === 0 && Date.now() < end; ) seen = await cancellationsSeen(who);
    expect(seen).toEqual([expect.stringContaining(LEGACY_CLOSED_REASON)]);
    expect((await post(endpoint, who, { jsonrpc: '2.0', id: 3, method: 'ping' })).status).toBe(404); // the session ended with its stream
  });

  it('caps streams per person (FJMCP_LEGACY_SSE_MAX_PER_PERSON): 429 while the open one has a call in flight; else the oldest idle one is closed', async () => {
    const who = personHeaders('capped');
    const first = await openSession(r, who);
    await post(first.endpoint, who, initialize(1));
    await first.s.message();
    await post(first.endpoint, who, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'fixture_wait_for_cancel', arguments: {} } });
    expect(await until(() => r.relay.stats().inFlight === 1)).toBe(true);
    const refused = await fetch(`${base(r)}/sse`, { headers: { accept: 'text/event-stream', ...who } });
    expect(refused.status).toBe(429);
    expect(await refused.text()).toContain('FJMCP_LEGACY_SSE_MAX_PER_PERSON');
    expect((await fetch(`${base(r)}/sse`, { headers: { accept: 'text/event-stream', ...personHeaders('someone-else') } }).then((x) => (x.body?.cancel(), x.status)))).toBe(200);
    // The client cancels its call; the stream is now idle and gives way to a new one.
    await post(first.endpoint, who, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 2, reason: 'stop' } });
    expect(await until(() => r.relay.stats().inFlight === 0)).toBe(true);
    const second = await openSession(r, who);
    while (await first.s.next()); // the old stream ends
    expect(first.s.ended).toBe(true);
    expect((await post(first.endpoint, who, { jsonrpc: '2.0', id: 3, method: 'ping' })).status).toBe(404);
    expect((await post(second.endpoint, who, { jsonrpc: '2.0', id: 4, method: 'ping' })).status).toBe(202);
    expect(await second.s.message()).toMatchObject({ id: 4 });
    second.s.abort.abort();
  });
});

describe('legacy stream at shutdown', () => {
  it('answers a call still running when the grace ends with JSON-RPC error -32002 on the stream, then ends the stream', async () => {
    const r = await startRelay(relayConfig(CONFORMANCE_FIXTURE, ON));
    try {
      const who = personHeaders('drained');
      const { s, endpoint } = await openSession(r, who);
      await post(endpoint, who, initialize(1));
      await s.message();
      await post(endpoint, who, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'fixture_wait_for_cancel', arguments: {} } });
      expect(await until(() => r.relay.stats().inFlight === 1)).toBe(true);
      await r.relay.shutdown(200);
      expect(await s.message()).toMatchObject({ id: 2, error: { code: -32002, message: SHUTDOWN_MESSAGE } });
      while (await s.next());
      expect(s.ended).toBe(true);
      expect((await fetch(`${base(r)}/sse`, { headers: who })).status).toBe(503);
    } finally {
      await r.close();
    }
  });
});
