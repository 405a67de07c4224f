/**
 * MCP 2026-07-28 on `/mcp` beside the 2025 sessions, decided per request by the body
 * (basic/versioning §backward-compatibility; basic/transports/streamable-http). A Claude-like
 * probe with the anthropics/claude-code#93290 header pair, the SDK v2 client in both modes, the
 * revision's validation errors, log levels, cancellation by closing the stream, listen streams.
 */
import { randomBytes } from 'node:crypto';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFORMANCE_FIXTURE, EVERYTHING, personHeaders, processesWithEnv, relayConfig, startRelay, until, type RunningRelay } from './relay-harness.js';
import { connectClient, textOf } from './sdk-clients.js';

const marker = `tok-${randomBytes(6).toString('hex')}`;
const V = '2026-07-28';
const envelope = (extra: Record<string, unknown> = {}) => ({
  'io.modelcontextprotocol/protocolVersion': V,
  'io.modelcontextprotocol/clientInfo': { name: 'claude-like-probe', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
  ...extra,
});

interface Rpc { id?: unknown; method?: string; params?: Record<string, unknown>; result?: Record<string, unknown>; error?: { code: number; message: string; data?: unknown } }

/** POSTs one modern request; `headers` override the defaults (the #93290 pair by default off). */
async function post(url: string, who: Record<string, string>, body: Rpc & { jsonrpc?: string }, headers: Record<string, string | undefined> = {}, signal?: AbortSignal): Promise<Response> {
  const h: Record<string, string> = { ...who, accept: 'application/json, text/event-stream', 'content-type': 'application/json', 'mcp-protocol-version': V };
  if (body.method) h['mcp-method'] = body.method;
  const name = body.params?.name ?? body.params?.uri;
  if (typeof name === 'string' && ['tools/call', 'prompts/get', 'resources/read'].includes(body.method!)) h['mcp-name'] = name;
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) delete h[k];
    else h[k] = v;
  }
  return fetch(url, { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', ...body }), ...(signal ? { signal } : {}) });
}

/** The messages of a JSON or SSE answer, the final response last. */
async function messages(res: Response): Promise<Rpc[]> {
  if (res.headers.get('content-type')?.startsWith('application/json')) return [(await res.json()) as Rpc];
  const text = await res.text();
  return text.split('\n\n').flatMap((ev) => ev.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)) as Rpc));
}
const final = async (res: Response) => (await messages(res)).at(-1)!;

describe('with server-everything as the child', () => {
  let r: RunningRelay;
  beforeAll(async () => {
    r = await startRelay(relayConfig(EVERYTHING));
  });
  afterAll(async () => {
    await r.close();
    expect(await until(() => processesWithEnv(marker).length === 0)).toBe(true);
  });

  it('answers a Claude-like probe as the signed-in person (discover with the #93290 header pair, then tools/list and tools/call with Mcp-Method and Mcp-Name) while a 2025-11-25 client works on the same URL', async () => {
    const who = personHeaders('claude', `${marker}-claude`);
    const legacy = await connectClient('v2', r.url, who);
    const longCall = legacy.callTool('trigger-long-running-operation', { duration: 1, steps: 4 });
    const pair = { 'mcp-protocol-version': '2025-11-25' }; // anthropics/claude-code#93290

    const d = await post(r.url, who, { id: 1, method: 'server/discover', params: { _meta: envelope() } }, pair);
    expect(d.status).toBe(200);
    expect(d.headers.get('mcp-session-id')).toBeNull();
    const disc = (await final(d)).result!;
    expect(disc.supportedVersions).toEqual(expect.arrayContaining([V, '2025-11-25']));
    expect(disc.capabilities).toHaveProperty('tools');
    expect(disc.cacheScope).toBe('private');
    expect((disc._meta as Record<string, { name: string }>)['io.modelcontextprotocol/serverInfo']!.name).toBeTruthy();

    const l = await final(await post(r.url, who, { id: 2, method: 'tools/list', params: { _meta: envelope() } }, pair));
    expect((l.result!.tools as { name: string }[]).map((t) => t.name)).toEqual(expect.arrayContaining(['echo', 'get-env']));
    expect(l.result).toMatchObject({ resultType: 'complete', ttlMs: 0, cacheScope: 'private' });

    const c = await final(await post(r.url, who, { id: 3, method: 'tools/call', params: { name: 'get-env', arguments: {}, _meta: envelope() } }, pair));
    expect(c.id).toBe(3);
    expect(c.result!.resultType).toBe('complete');
    const env = JSON.parse(textOf(c.result as { content: unknown })) as Record<string, string>;
    expect(env.FORGE_TOKEN).toBe(`${marker}-claude`); // the child runs as this person, with their token

    expect(textOf(await longCall)).toContain('completed'); // the 2025 session was served meanwhile
    expect(await legacy.listTools()).toContain('echo');
    expect(processesWithEnv(`${marker}-claude`)).toHaveLength(1); // one child for both eras
    await legacy.close();
  });

  it('lets the SDK v2 client negotiate 2026-07-28 in auto mode (progress over SSE) and stay on 2025-11-25 in legacy mode', async () => {
    const who = personHeaders('sdk', `${marker}-sdk`);
    const modern = new Client({ name: 'v2-auto', version: '1' }, { versionNegotiation: { mode: 'auto' } });
    const mt = new StreamableHTTPClientTransport(new URL(r.url), { requestInit: { headers: who } });
    await modern.connect(mt);
    expect(modern.getProtocolEra()).toBe('modern');
    expect(mt.sessionId).toBeUndefined();
    expect((await modern.listTools()).tools.map((t) => t.name)).toContain('echo');
    expect(textOf(await modern.callTool({ name: 'echo', arguments: { message: 'modern' } }))).toBe('Echo: modern');
    const progress: number[] = [];
    const res = await modern.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } }, { onprogress: (p) => progress.push(p.progress) });
    expect(textOf(res)).toContain('completed');
    expect(progress).toEqual([1, 2, 3]);

    const legacy = new Client({ name: 'v2-legacy', version: '1' }, { versionNegotiation: { mode: 'legacy' } });
    const lt = new StreamableHTTPClientTransport(new URL(r.url), { requestInit: { headers: who } });
    await legacy.connect(lt);
    expect(legacy.getProtocolEra()).toBe('legacy');
    expect(lt.sessionId).toBeTruthy();
    expect(textOf(await legacy.callTool({ name: 'echo', arguments: { message: 'legacy' } }))).toBe('Echo: legacy');
    await modern.close();
    await legacy.close();
  });

  it('serves Claude Code\'s initialize after a successful discover (anthropics/claude-code#96183) as a 2025 session', async () => {
    const who = personHeaders('cc', `${marker}-cc`);
    expect((await post(r.url, who, { id: 1, method: 'server/discover', params: { _meta: envelope() } })).status).toBe(200);
    const c = await connectClient('v1', r.url, who);
    expect(c.sessionId()).toBeTruthy();
    expect(textOf(await c.callTool('echo', { message: 'after discover' }))).toBe('Echo: after discover');
    await c.close();
  });

  it('relays a 2026-07-28 call with a large argument and result unchanged, as a JSON answer or an SSE stream (large strings relayed as bytes: docs/relay.md §Large messages)', async () => {
    const who = personHeaders('large', `${marker}-large`);
    const message = `${'é€𝄞 "q" \\ \n'.repeat(20_000)} end`;
    // JSON when the child answers within STREAM_AFTER_MS, else SSE: either way the same bytes.
    const answer = await final(await post(r.url, who, { id: 'big', method: 'tools/call', params: { name: 'echo', arguments: { message }, _meta: envelope() } }));
    expect(answer.id).toBe('big');
    expect(answer.result!.resultType).toBe('complete');
    expect((answer.result!.content as { text: string }[])[0]!.text).toBe(`Echo: ${message}`);
  });

  it('rejects what 2026-07-28 rejects: -32020 for disagreeing or missing headers, -32022 with the supported versions, 404 -32601 for removed methods', async () => {
    const who = personHeaders('bad', `${marker}-bad`);
    const call = { id: 7, method: 'tools/call', params: { name: 'echo', arguments: { message: 'x' }, _meta: envelope() } };
    const cases: [Response, number, number][] = [
      [await post(r.url, who, call, { 'mcp-name': 'get-env' }), 400, -32020],
      [await post(r.url, who, call, { 'mcp-name': undefined }), 400, -32020],
      [await post(r.url, who, call, { 'mcp-method': 'tools/list' }), 400, -32020],
      [await post(r.url, who, call, { 'mcp-protocol-version': '2025-06-18' }), 400, -32020],
      [await post(r.url, who, { id: 8, method: 'tools/list', params: { _meta: envelope({ 'io.modelcontextprotocol/protocolVersion': '2027-01-01' }) } }, { 'mcp-protocol-version': '2027-01-01' }), 400, -32022],
      [await post(r.url, who, { id: 9, method: 'ping', params: { _meta: envelope() } }), 404, -32601],
      [await post(r.url, who, { id: 10, method: 'logging/setLevel', params: { level: 'info', _meta: envelope() } }), 404, -32601],
    ];
    for (const [res, status, code] of cases) {
      expect(res.status).toBe(status);
      const body = (await res.json()) as Rpc;
      expect(body.error!.code).toBe(code);
    }
    const unsupported = (await (await post(r.url, who, { id: 11, method: 'tools/list', params: { _meta: envelope({ 'io.modelcontextprotocol/protocolVersion': '2027-01-01' }) } }, { 'mcp-protocol-version': '2027-01-01' })).json()) as Rpc;
    expect((unsupported.error!.data as { supported: string[] }).supported).toEqual(expect.arrayContaining([V, '2025-11-25']));
    // Base64 sentinel in Mcp-Name (streamable-http §value-encoding) is decoded before comparing.
    const ok = await post(r.url, who, call, { 'mcp-name': `=?base64?${Buffer.from('echo').toString('base64')}?=` });
    expect(ok.status).toBe(200);
    expect(textOf((await final(ok)).result as { content: unknown })).toBe('Echo: x');
  });

  it('cancels the call at the child when the client closes the request stream (streamable-http §cancellation)', async () => {
    const who = personHeaders('cancel', `${marker}-cancel`);
    const ac = new AbortController();
    const res = await post(r.url, who, { id: 'c1', method: 'tools/call', params: { name: 'trigger-long-running-operation', arguments: { duration: 10, steps: 10 }, _meta: envelope({ progressToken: 'p1' }) } }, {}, ac.signal);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(await until(() => r.relay.stats().inFlight === 1)).toBe(true); // the child may still be starting
    ac.abort();
    expect(await until(() => r.relay.stats().inFlight === 0, 3000)).toBe(true);
    const next = await final(await post(r.url, who, { id: 'c2', method: 'tools/call', params: { name: 'echo', arguments: { message: 'next' }, _meta: envelope() } }));
    expect(textOf(next.result as { content: unknown })).toBe('Echo: next');
  });

  it('answers a child\'s sampling request made during a 2026-07-28 call with an error: the revision has no server→client requests', async () => {
    const who = personHeaders('samp', `${marker}-samp`);
    await final(await post(r.url, who, { id: 's0', method: 'tools/call', params: { name: 'echo', arguments: { message: 'warm' }, _meta: envelope() } }));
    const started = Date.now();
    const res = await final(await post(r.url, who, { id: 's1', method: 'tools/call', params: { name: 'trigger-sampling-request', arguments: { prompt: 'hi', maxTokens: 5 }, _meta: envelope({ 'io.modelcontextprotocol/clientCapabilities': { sampling: {} } }) } }));
    expect(JSON.stringify(res)).toMatch(/no connected MCP client can answer sampling\/createMessage/);
    expect(Date.now() - started).toBeLessThan(10_000); // answered, not left to the client's 60 s timeout
  });

  it('delivers list_changed on a subscriptions/listen stream, tagged with its subscription id', async () => {
    const who = personHeaders('listen', `${marker}-listen`);
    await final(await post(r.url, who, { id: 'w', method: 'tools/call', params: { name: 'echo', arguments: { message: 'warm' }, _meta: envelope() } }));
    const ac = new AbortController();
    const res = await post(r.url, who, { id: 'sub-1', method: 'subscriptions/listen', params: { notifications: { toolsListChanged: true }, _meta: envelope() } }, {}, ac.signal);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    const readUntil = async (re: RegExp) => {
      const end = Date.now() + 15_000;
      while (!re.test(text) && Date.now() < end) {
        const chunk = await reader.read();
        if (chunk.done) break;
        text += new TextDecoder().decode(chunk.value);
      }
      return re.test(text);
    };
    expect(await readUntil(/notifications\/subscriptions\/acknowledged/)).toBe(true);
    const before = r.relay.stats().children;
    process.kill(processesWithEnv(`${marker}-listen`)[0]!, 'SIGKILL');
    expect(await until(() => r.relay.stats().children === before - 1)).toBe(true);
    // The next call starts a new child; server-everything announces its tools on initialize.
    await final(await post(r.url, who, { id: 'w2', method: 'tools/call', params: { name: 'echo', arguments: { message: 'again' }, _meta: envelope() } }));
    expect(await readUntil(/notifications\/tools\/list_changed/)).toBe(true);
    expect(text).toMatch(/"io.modelcontextprotocol\/subscriptionId":"sub-1"/);
    ac.abort();
    expect(await until(() => r.relay.stats().inFlight === 0)).toBe(true);
  });
});

describe('with the conformance fixture as the child', () => {
  let r: RunningRelay;
  beforeAll(async () => {
    r = await startRelay(relayConfig(CONFORMANCE_FIXTURE));
  });
  afterAll(async () => {
    await r.close();
  });

  it('sends log notifications only at or above the requested logLevel, and none without one', async () => {
    const who = personHeaders('logs');
    const logsAt = async (level?: string) => {
      const meta = envelope(level ? { 'io.modelcontextprotocol/logLevel': level } : {});
      const all = await messages(await post(r.url, who, { id: 1, method: 'tools/call', params: { name: 'test_tool_with_logging', arguments: {}, _meta: meta } }));
      expect(all.at(-1)!.result).toBeDefined();
      return all.filter((m) => m.method === 'notifications/message').length;
    };
    expect(await logsAt('info')).toBeGreaterThan(0);
    expect(await logsAt('debug')).toBeGreaterThan(0);
    expect(await logsAt('error')).toBe(0);
    expect(await logsAt()).toBe(0);
  });
});
