/**
 * The `/mcp` route in front of the relay: DNS-rebinding checks (Host, Origin → 403), the bearer
 * check first (its Response returned as is), methods, and the request-body cap.
 * @see MCP 2025-11-25 basic/transports §security-warning
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVERYTHING, personHeaders, relayConfig, startRelay, type RunningRelay } from './relay-harness.js';

const init = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
const H = { accept: 'application/json, text/event-stream', 'content-type': 'application/json' };

let r: RunningRelay;
let small: RunningRelay;
beforeAll(async () => {
  r = await startRelay(relayConfig(EVERYTHING, { FJMCP_ALLOWED_ORIGINS: 'https://app.example.org' }));
  small = await startRelay(relayConfig(EVERYTHING, { FJMCP_MAX_BODY_BYTES: '1024' }));
});
afterAll(async () => {
  await r.close();
  await small.close();
});

/** node's fetch refuses to set Host; a raw request does. */
async function rawPost(url: string, headers: Record<string, string>, body: string): Promise<number> {
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { ...H, ...headers } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('/mcp route', () => {
  it('answers 403 to a foreign Host (DNS rebinding) and to a foreign Origin', async () => {
    expect(await rawPost(r.url, { ...personHeaders('o'), host: 'evil.example.com' }, init)).toBe(403);
    expect(await rawPost(r.url, { ...personHeaders('o'), origin: 'https://evil.example.com' }, init)).toBe(403);
  });

  it('accepts no Origin (non-browser clients), the public origin, configured and loopback origins', async () => {
    for (const origin of [undefined, 'http://127.0.0.1:8787', 'https://app.example.org', 'http://localhost:5173']) {
      const res = await fetch(r.url, { method: 'POST', headers: { ...H, ...personHeaders('o'), ...(origin ? { origin } : {}) }, body: init });
      expect(res.status, String(origin)).toBe(200);
      await res.body?.cancel();
    }
  });

  it('returns the bearer check\'s own Response (a 401 challenge) before touching the relay', async () => {
    const res = await fetch(r.url, { method: 'POST', headers: H, body: init });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('answers 405 with Allow to other methods', async () => {
    const res = await fetch(r.url, { method: 'PUT', headers: personHeaders('o') });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, POST, DELETE');
  });

  it('accepts bodies above the SDK\'s 4 MiB default, relays a 9 MiB result, and answers 413 above FJMCP_MAX_BODY_BYTES', async () => {
    const s = await fetch(r.url, { method: 'POST', headers: { ...H, ...personHeaders('big') }, body: init });
    const sid = s.headers.get('mcp-session-id')!;
    await s.body?.cancel();
    const big = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { message: 'y'.repeat(9 << 20) } } });
    const res = await fetch(r.url, { method: 'POST', headers: { ...H, ...personHeaders('big'), 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' }, body: big });
    expect(res.status).toBe(200);
    expect((await res.text()).length).toBeGreaterThan(9 << 20); // one SSE event above the 8 MiB stream bound (server-everything's own stdio cap is 10 MB)
    const tooBig = await fetch(small.url, { method: 'POST', headers: { ...H, ...personHeaders('big') }, body: big });
    expect(tooBig.status).toBe(413);
  });

  it('sends SSE with X-Accel-Buffering: no and a first byte at once on the GET stream', async () => {
    const s = await fetch(r.url, { method: 'POST', headers: { ...H, ...personHeaders('sse') }, body: init });
    const sid = s.headers.get('mcp-session-id')!;
    await s.body?.cancel();
    const ac = new AbortController();
    const get = await fetch(r.url, { headers: { accept: 'text/event-stream', ...personHeaders('sse'), 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' }, signal: ac.signal });
    expect(get.status).toBe(200);
    expect(get.headers.get('x-accel-buffering')).toBe('no');
    expect(get.headers.get('cache-control')).toBe('no-cache, no-transform');
    const first = await get.body!.getReader().read();
    expect(new TextDecoder().decode(first.value)).toMatch(/^: /);
    ac.abort();
  });
});
