/**
 * Issue 10, the legacy HTTP+SSE transport (MCP 2024-11-05) on real parts: the broker with
 * `FJMCP_LEGACY_SSE=true` in front of the test-bed Gitea, the real npm gitea-mcp child, the
 * official SDK's `SSEClientTransport` signing alice in through its own OAuth flow from the 401 of
 * `/mcp/sse` (RFC 9728 discovery, dynamic registration, PKCE, consent, Gitea login), beside a
 * 2025-11-25 streamable HTTP client of alice on `/mcp`: one child, the tool policy and audit of
 * `/mcp`, another person's bearer refused on alice's session, and a second server's own
 * `/mcp/<name>/sse`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type TestBroker } from '../support/broker.js';
import { CLIENT_REDIRECT, headlessDriver, signedInClient, toolText, type AuthorizeDriver, type SignedInClient } from '../support/mcp-sign-in.js';
import { HeadlessOAuthProvider } from '../support/oauth-client.js';
import { sharedTestbed, type Testbed, type TestbedUser } from '../support/testbed.js';

const require = createRequire(import.meta.url);
const EVERYTHING_JS = require.resolve('@modelcontextprotocol/server-everything/dist/index.js');

const POLICY = `servers:
  everything:
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(EVERYTHING_JS)}, stdio]
    token_env: EVERYTHING_TOKEN
rules:
  - servers: [default]
    people: { logins: [alice] }
    read_only: true
`;

interface LegacyClient {
  client: Client;
  transport: SSEClientTransport;
  provider: HeadlessOAuthProvider;
}

/** Signs `user` in with the SDK's SSE client transport (its OAuth flow starts at the stream's 401) and connects. */
async function signedInLegacyClient(sseUrl: string, user: TestbedUser, authorize: AuthorizeDriver): Promise<LegacyClient> {
  const provider = new HeadlessOAuthProvider({ redirectUrl: CLIENT_REDIRECT, clientName: `legacy SSE client of ${user}` });
  const first = new SSEClientTransport(new URL(sseUrl), { authProvider: provider });
  const probe = new Client({ name: 'fjmcp-e2e-legacy', version: '0.0.0' });
  const refused = await probe.connect(first).then(() => undefined, (err: unknown) => err);
  if (!(refused instanceof UnauthorizedError)) throw new Error(`expected the SDK's OAuth flow to start, got ${String(refused)}`);
  const redirect = await authorize(provider.authorizationUrl!, user);
  await first.finishAuth(redirect.searchParams.get('code')!);
  const transport = new SSEClientTransport(new URL(sseUrl), { authProvider: provider });
  const client = new Client({ name: 'fjmcp-e2e-legacy', version: '0.0.0' });
  await client.connect(transport);
  return { client, transport, provider };
}

let tb: Testbed;
let dir: string;
let broker: TestBroker;
let legacy: LegacyClient;
let streamable: SignedInClient;
let bob: SignedInClient;

beforeAll(async () => {
  tb = sharedTestbed();
  dir = mkdtempSync(join(tmpdir(), 'fjmcp-legacy-sse-e2e-'));
  writeFileSync(join(dir, 'policy.yaml'), POLICY);
  broker = await startBroker({ testbed: tb, env: { FJMCP_LEGACY_SSE: 'true', FJMCP_POLICY_FILE: join(dir, 'policy.yaml') } });
  const drive = headlessDriver(tb, broker.url);
  legacy = await signedInLegacyClient(`${broker.url}/mcp/sse`, 'alice', drive);
  streamable = await signedInClient(broker.mcpUrl, 'alice', drive);
  bob = await signedInClient(broker.mcpUrl, 'bob', drive);
}, 120_000);
afterAll(async () => {
  await legacy?.client.close().catch(() => {});
  for (const c of [streamable, bob]) await c?.close().catch(() => {});
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const personId = async (login: string) => (await broker.running.ctx.store.control.findPerson(login))!.personId;
const legacySessionsOf = async (login: string) => {
  const id = await personId(login);
  return broker.running.ctx.relay.sessions().filter((s) => s.personId === id && s.transport === 'legacy-sse');
};

describe('legacy HTTP+SSE through the real broker (issue 10)', () => {
  it('challenges GET /mcp/sse and GET /sse without a token like /mcp (RFC 6750 §3, resource_metadata of /mcp)', async () => {
    for (const path of ['/mcp/sse', '/sse']) {
      const res = await fetch(`${broker.url}${path}`, { headers: { accept: 'text/event-stream' } });
      expect(res.status, path).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain(`resource_metadata="${broker.url}/.well-known/oauth-protected-resource/mcp"`);
    }
    const post = await fetch(`${broker.url}/mcp/messages?sessionId=x`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer mcpb_at_nothing' }, body: '{}' });
    expect(post.status).toBe(401);
    expect(post.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('the SDK SSE client answers as alice at the same time as her 2025-11-25 streamable HTTP client, both on her one child', async () => {
    const [viaLegacy, viaStreamable] = await Promise.all([
      legacy.client.callTool({ name: 'user__get_my_userinfo', arguments: {} }),
      streamable.client.callTool({ name: 'user__get_my_userinfo', arguments: {} }),
    ]);
    expect(toolText(viaLegacy)).toMatch(/"login":\s*"alice"/);
    expect(toolText(viaStreamable)).toMatch(/"login":\s*"alice"/);
    expect(streamable.transport.protocolVersion).toBe('2025-11-25');
    const alice = await personId('alice');
    const relay = broker.running.ctx.relay.of('default')!;
    expect(relay.childrenOf()).toEqual(expect.arrayContaining([alice]));
    expect(relay.stats().children).toBe(2); // alice's and bob's: one each, whatever the transport
    expect(relay.sessions().filter((s) => s.personId === alice).map((s) => s.transport ?? 'streamable-http').sort()).toEqual(['legacy-sse', 'streamable-http']);
  });

  it('applies the tool policy of /mcp: read-only alice does not see issue__create and her call is refused and audited with the legacy session id', async () => {
    const tools = (await legacy.client.listTools()).tools.map((t) => t.name);
    expect(tools).toContain('issue__list');
    expect(tools).not.toContain('issue__create');
    const r = await legacy.client.callTool({ name: 'issue__create', arguments: { owner: 'alice', repo: 'alice-private', title: 'not through the legacy transport' } });
    expect(r.isError).toBe(true);
    expect(toolText(r)).toContain('Refused by the broker');
    await broker.running.ctx.toolAudit.flush();
    const [session] = await legacySessionsOf('alice');
    const rows = await broker.running.ctx.store.toolCalls.query({});
    expect(rows.filter((x) => x.tool === 'issue__create')).toMatchObject([{ login: 'alice', outcome: 'refused', reason: 'read-only', sessionId: session!.id, clientName: 'fjmcp-e2e-legacy' }]);
  });

  it('refuses bob\'s bearer on alice\'s legacy session with the same 404 as an unknown session; alice\'s own POST is accepted', async () => {
    const [session] = await legacySessionsOf('alice');
    const message = JSON.stringify({ jsonrpc: '2.0', id: 77, method: 'tools/call', params: { name: 'repo__list_my', arguments: {} } });
    const send = (token: string, id: string) => fetch(`${broker.url}/mcp/messages?sessionId=${encodeURIComponent(id)}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: message });
    const bobs = bob.provider.tokens()!.access_token;
    const stolen = await send(bobs, session!.id);
    const unknown = await send(bobs, `${'Q'.repeat(24)}.00.${'Q'.repeat(22)}`);
    expect(stolen.status).toBe(404);
    expect(await stolen.text()).toBe(await unknown.text());
    expect(unknown.status).toBe(404);
    expect(broker.logLines.some((l) => l.includes('legacy-sse-session-of-another-person'))).toBe(true);
    const alices = legacy.provider.tokens()!.access_token;
    const own = await fetch(`${broker.url}/mcp/messages?sessionId=${encodeURIComponent(session!.id)}`, { method: 'POST', headers: { authorization: `Bearer ${alices}`, 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
    expect(own.status).toBe(202);
  });

  it('a second server has its own /mcp/<name>/sse, signed in for its own resource; a token for /mcp is refused there', async () => {
    const alicesMcpToken = legacy.provider.tokens()!.access_token;
    const wrong = await fetch(`${broker.url}/mcp/everything/sse`, { headers: { accept: 'text/event-stream', authorization: `Bearer ${alicesMcpToken}` } });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toContain('issued for another resource');
    const other = await signedInLegacyClient(`${broker.url}/mcp/everything/sse`, 'alice', headlessDriver(tb, broker.url));
    try {
      const echo = await other.client.callTool({ name: 'echo', arguments: { message: 'legacy at /mcp/everything' } });
      expect(toolText(echo)).toContain('legacy at /mcp/everything');
      const sessions = broker.running.ctx.relay.sessions().filter((s) => s.server === 'everything' && s.transport === 'legacy-sse');
      expect(sessions).toHaveLength(1);
    } finally {
      await other.client.close();
    }
  });

  it('closing the SDK client ends its legacy session', async () => {
    await legacy.client.close();
    await expect.poll(async () => (await legacySessionsOf('alice')).length, { timeout: 10_000 }).toBe(0);
  });
});
