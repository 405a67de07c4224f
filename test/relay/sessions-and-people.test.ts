/**
 * Sessions are bound to people, children to people: Claude.ai's fresh-initialize pattern starts
 * one child, two people get two children and cannot reach each other's sessions, and a broker
 * restart is invisible to a client that keeps its session id.
 * @see MCP 2025-11-25 basic/transports §session-management
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVERYTHING, personHeaders, processesWithEnv, relayConfig, startRelay, until, type RunningRelay } from './relay-harness.js';
import { connectClient, textOf } from './sdk-clients.js';

const marker = `tok-${randomBytes(6).toString('hex')}`;
const ACCEPT = { accept: 'application/json, text/event-stream', 'content-type': 'application/json' };
const init = (id: number | string = 1) => JSON.stringify({ jsonrpc: '2.0', id, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });

/**
 * POSTs one JSON-RPC message and returns status, session id and the first SSE `data:` JSON (the
 * priming event a 2025-11-25 client gets first has an empty `data:` and is skipped).
 */
async function post(url: string, headers: Record<string, string>, body: string) {
  const res = await fetch(url, { method: 'POST', headers: { ...ACCEPT, ...headers }, body });
  const text = await res.text();
  const data = /^data: (.+)$/m.exec(text)?.[1];
  return { status: res.status, sessionId: res.headers.get('mcp-session-id'), msg: data ? JSON.parse(data) : text ? JSON.parse(text) : undefined };
}

let r: RunningRelay;
const config = relayConfig(EVERYTHING);
beforeAll(async () => {
  r = await startRelay(config);
});
afterAll(async () => {
  await r.close();
  expect(await until(() => processesWithEnv(marker).length === 0)).toBe(true);
});

describe('one child per person', () => {
  it('starts exactly one child for 50 tool calls each after a fresh initialize without a session id (Claude.ai pattern)', async () => {
    const who = personHeaders('claude-ai', `${marker}-a`);
    for (let i = 0; i < 50; i++) {
      const c = await connectClient('v2', r.url, who);
      expect(textOf(await c.callTool('echo', { message: `call ${i}` }))).toBe(`Echo: call ${i}`);
      // Claude.ai drops the session without DELETE: nothing is closed here.
    }
    expect(processesWithEnv(`${marker}-a`)).toHaveLength(1);
    expect(r.relay.stats().children).toBe(1);
  });

  it('gives two people two children, each with their own token only', async () => {
    const a = await connectClient('v1', r.url, personHeaders('alice', `${marker}-alice`));
    const b = await connectClient('v2', r.url, personHeaders('bob', `${marker}-bob`));
    const envA = JSON.parse(textOf(await a.callTool('get-env'))) as Record<string, string>;
    const envB = JSON.parse(textOf(await b.callTool('get-env'))) as Record<string, string>;
    expect(envA.FORGE_TOKEN).toBe(`${marker}-alice`);
    expect(envB.FORGE_TOKEN).toBe(`${marker}-bob`);
    expect(processesWithEnv(`${marker}-alice`)).toHaveLength(1);
    expect(processesWithEnv(`${marker}-bob`)).toHaveLength(1);
    await a.close();
    await b.close();
  });

  it('answers 404 when someone presents another person\'s session id, known or unknown to this process', async () => {
    const a = await post(r.url, personHeaders('alice', `${marker}-alice`), init());
    expect(a.status).toBe(200);
    const call = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} });
    const hdr = (sid: string) => ({ ...personHeaders('bob', `${marker}-bob`), 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' });
    expect((await post(r.url, hdr(a.sessionId!), call)).status).toBe(404);
    const forged = `${'A'.repeat(24)}.${'B'.repeat(22)}`;
    expect((await post(r.url, hdr(forged), call)).status).toBe(404);
    expect((await post(r.url, hdr('not-a-session'), call)).status).toBe(404);
  });

  it('starts a new session when initialize carries a stale session id (Claude Code keeps old ids)', async () => {
    const who = personHeaders('alice', `${marker}-alice`);
    const first = await post(r.url, who, init());
    const again = await post(r.url, { ...who, 'mcp-session-id': first.sessionId! }, init());
    expect(again.status).toBe(200);
    expect(again.msg.result.protocolVersion).toBe('2025-06-18');
    expect(again.sessionId).not.toBe(first.sessionId);
  });

  it('answers each initialize from the cached result with the version negotiated for that session (MCP lifecycle §version-negotiation)', async () => {
    const who = personHeaders('alice', `${marker}-alice`);
    const body = (v: string) => JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: v, capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
    expect((await post(r.url, who, body('2025-03-26'))).msg.result.protocolVersion).toBe('2025-03-26');
    expect((await post(r.url, who, body('2025-11-25'))).msg.result.protocolVersion).toBe('2025-11-25');
    const future = await post(r.url, who, body('2099-01-01'));
    expect(future.msg.result.protocolVersion).toBe('2025-11-25');
    expect(future.msg.result.serverInfo.name).toBe('mcp-servers/everything');
  });

  it('rejects an unsupported MCP-Protocol-Version header with 400 (MCP 2025-06-18 basic/transports §protocol-version-header)', async () => {
    const who = personHeaders('alice', `${marker}-alice`);
    const s = await post(r.url, who, init());
    const res = await post(r.url, { ...who, 'mcp-session-id': s.sessionId!, 'mcp-protocol-version': '1999-01-01' }, JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'ping' }));
    expect(res.status).toBe(400);
  });
});

describe('streams', () => {
  it('serves a 2025-03-26 client that sends no MCP-Protocol-Version header', async () => {
    const who = personHeaders('old', `${marker}-old`);
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
    const s = await post(r.url, who, body);
    expect(s.msg.result.protocolVersion).toBe('2025-03-26');
    const call = await post(r.url, { ...who, 'mcp-session-id': s.sessionId! }, JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { message: 'old' } } }));
    expect(call.msg.result.content[0].text).toBe('Echo: old');
  });

  it('replaces the GET stream when the client opens a second one, instead of answering 409', async () => {
    const who = personHeaders('get2', `${marker}-get2`);
    const s = await post(r.url, who, init());
    const hdr = { ...who, accept: 'text/event-stream', 'mcp-session-id': s.sessionId!, 'mcp-protocol-version': '2025-06-18' };
    const first = await fetch(r.url, { headers: hdr });
    expect(first.status).toBe(200);
    const second = await fetch(r.url, { headers: hdr });
    expect(second.status).toBe(200);
    const firstText = await first.text(); // ends: the server closed it
    expect(firstText).toMatch(/^: stream open/);
    await second.body?.cancel();
  });
});

describe('broker restart', () => {
  it('is invisible to a client that keeps its session id: the id re-attaches to the person\'s new child', async () => {
    const who = personHeaders('carol', `${marker}-carol`);
    const c = await connectClient('v2', r.url, who);
    expect(textOf(await c.callTool('echo', { message: 'before' }))).toBe('Echo: before');
    const sid = c.sessionId()!;
    const port = r.port;
    await r.close();
    expect(await until(() => processesWithEnv(`${marker}-carol`).length === 0)).toBe(true);
    r = await startRelay(config, port);
    // Let the client's connection pool see the old sockets' FIN (a real restart takes longer).
    await new Promise((res) => setTimeout(res, 200));
    expect(textOf(await c.callTool('echo', { message: 'after' }))).toBe('Echo: after');
    expect(c.sessionId()).toBe(sid);
    // Someone else presenting that id after the restart still gets 404.
    const res = await post(r.url, { ...personHeaders('mallory'), 'mcp-session-id': sid }, JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list' }));
    expect(res.status).toBe(404);
    await c.close();
  });

  it('refuses re-attaching a session id under an unsupported MCP-Protocol-Version (400 naming the supported ones) and keeps no session for it (basic/transports §protocol-version-header)', async () => {
    const who = personHeaders('dave', `${marker}-dave`);
    // A session id minted by another process with the same key (a replica, or before a restart).
    const other = await startRelay(config);
    const s = await post(other.url, who, init());
    await other.close();
    // That id's session in this relay, looked up by id: other tests' clients may re-attach their
    // own sessions here at any moment (an SDK client reconnects its GET stream after the restart
    // above), so a count of all sessions would not say which one was kept.
    const kept = () => r.relay.sessions().filter((x) => x.id === s.sessionId).map((x) => x.personId);
    const list = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    const refused = await post(r.url, { ...who, 'mcp-session-id': s.sessionId!, 'mcp-protocol-version': '1999-01-01' }, list);
    expect(refused.status).toBe(400);
    expect(refused.msg.error.message).toBe('Bad Request: Unsupported protocol version: 1999-01-01 (supported versions: 2025-11-25, 2025-06-18, 2025-03-26, 2024-11-05)');
    expect(kept()).toEqual([]);
    const ok = await post(r.url, { ...who, 'mcp-session-id': s.sessionId!, 'mcp-protocol-version': '2025-06-18' }, list);
    expect(ok.status).toBe(200);
    expect(kept()).toEqual(['dave']);
  });
});
