/**
 * Two broker processes on one PostgreSQL database behave as one broker (issue: "correct across
 * replicas"). A steering proxy in front lets each test choose which replica serves a request;
 * the test bed runs with INVALIDATE_REFRESH_TOKENS=true (Forgejo's default: a forge refresh token
 * works once) and a 12 s forge access-token lifetime, so forge refreshes happen during the tests.
 */
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { authorizeUrl, mcpStatus, pkcePair, registerTestClient, signInManually, signInThroughBroker, tokenRequest } from '../support/broker-consent.js';
import { createDatabase } from '../support/postgres.js';
import { startReplicas, startSteeringProxy, type ReplicaSet, type SteeringProxy } from '../support/replicas.js';
import { startTestbed, type Testbed } from '../support/testbed.js';

const FORGE_TTL_S = 12;
const REDIRECT = 'http://127.0.0.1:53999/cb';

let tb: Testbed & { stop(): Promise<void> };
let set: ReplicaSet;
let proxy: SteeringProxy;
const A = 0;
const B = 1;

beforeAll(async () => {
  tb = await startTestbed({ accessTokenTtlS: FORGE_TTL_S, invalidateRefreshTokens: true });
  const databaseUrl = await createDatabase(inject('postgres').url, 'replicas');
  set = await startReplicas({
    testbed: tb,
    count: 2,
    databaseUrl,
    front: async (ports) => (proxy = await startSteeringProxy(ports)),
  });
});
afterAll(async () => {
  await set?.stop();
  await tb?.stop();
});

const url = (i: number) => set.replicas[i]!.url;
const audited = (i: number, event: string) => set.replicas[i]!.logLines.filter((l) => l.includes('"audit":true') && l.includes(`"event":"${event}"`));

/** One JSON-RPC request to /mcp; answers JSON or SSE (the reply with the same id is picked). */
async function rpc(base: string, token: string, body: Record<string, unknown>, sid?: string): Promise<{ status: number; sid: string | null; msg: Record<string, unknown> | undefined }> {
  const res = await fetch(`${base}/mcp`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}`,
      'mcp-protocol-version': '2025-06-18', ...(sid ? { 'mcp-session-id': sid } : {}),
    },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let msg: Record<string, unknown> | undefined;
  if ((res.headers.get('content-type') ?? '').includes('text/event-stream')) {
    for (const line of text.split('\n')) {
      if (!line.startsWith('data:')) continue;
      const m = JSON.parse(line.slice(5)) as Record<string, unknown>;
      if (m.id === body.id) msg = m;
    }
  } else if (text) {
    msg = JSON.parse(text) as Record<string, unknown>;
  }
  return { status: res.status, sid: res.headers.get('mcp-session-id'), msg };
}

const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'replica-test', version: '0' } } };

describe('two broker processes on one PostgreSQL', () => {
  it('completes a sign-in whose consent ran on replica A and whose forge callback arrives on replica B', async () => {
    proxy.steer = (req) => (req.url?.startsWith('/oauth/callback') ? B : A);
    try {
      const { tokens } = await signInManually(tb, set.publicUrl, 'alice', REDIRECT);
      expect(tokens.access_token).toMatch(/^mcpb_at_/);
      // The replicas' log lines reach the test through their stdout pipes: wait for B's to arrive.
      await vi.waitFor(() => expect(audited(B, 'signin.completed')).toHaveLength(1), { timeout: 10_000, interval: 50 });
      expect(audited(A, 'signin.completed')).toHaveLength(0);
      expect(audited(A, 'consent.approved').length).toBeGreaterThan(0);
    } finally {
      proxy.steer = () => A;
    }
  });

  it('gives one successor when the same refresh token is refreshed on both replicas at the same moment (rotation with grace, OAuth 2.1 §4.3.1)', async () => {
    proxy.steer = () => A;
    const { client, tokens } = await signInManually(tb, set.publicUrl, 'bob', REDIRECT);
    let refresh = tokens.refresh_token;
    for (let round = 0; round < 5; round++) {
      const [a, b] = await Promise.all([A, B].map((i) => tokenRequest(url(i), { grant_type: 'refresh_token', refresh_token: refresh, client_id: client.clientId })));
      expect([a!.status, b!.status]).toEqual([200, 200]);
      expect(a!.body.refresh_token).toBe(b!.body.refresh_token); // the same successor, not two
      expect(a!.body.access_token).toBe(b!.body.access_token);
      refresh = a!.body.refresh_token as string;
    }
    const after = await tokenRequest(url(B), { grant_type: 'refresh_token', refresh_token: refresh, client_id: client.clientId });
    expect(after.status).toBe(200); // the family is intact
  });

  it('lets at most one of two replicas redeem an authorization code, and nothing issued for it stays usable (RFC 6749 §4.1.2)', async () => {
    proxy.steer = () => A;
    const client = await registerTestClient(set.publicUrl, [REDIRECT]);
    const { verifier, challenge } = pkcePair();
    const r = await signInThroughBroker(tb, set.publicUrl, authorizeUrl(set.publicUrl, client, challenge), 'alice');
    const code = r.location.searchParams.get('code')!;
    const params = { grant_type: 'authorization_code', code, code_verifier: verifier, client_id: client.clientId, redirect_uri: REDIRECT };
    const results = await Promise.all([A, B].map((i) => tokenRequest(url(i), params)));
    // The second use revokes the grant. When it lands before the first has issued its tokens, the
    // first finds the grant revoked and is refused too ([400, 400]); otherwise the first gets
    // tokens that the revocation has already ended ([200, 400]). Never two successes.
    expect(results.filter((x) => x.status === 200).length).toBeLessThanOrEqual(1);
    for (const refused of results.filter((x) => x.status !== 200)) {
      expect(refused.status).toBe(400);
      expect(refused.body.error).toBe('invalid_grant');
    }
    const won = results.find((x) => x.status === 200);
    if (won) {
      for (const i of [A, B]) expect((await mcpStatus(url(i), won.body.access_token as string)).status).toBe(401);
      const refresh = await tokenRequest(url(B), { grant_type: 'refresh_token', refresh_token: won.body.refresh_token as string, client_id: client.clientId });
      expect(refresh.body.error).toBe('invalid_grant');
    }
  });

  it('makes a revocation through replica A effective on replica B at its next request (RFC 7009)', async () => {
    proxy.steer = () => A;
    const { client, tokens } = await signInManually(tb, set.publicUrl, 'bob', REDIRECT);
    const before = await fetch(`${url(B)}/mcp`, { method: 'DELETE', headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(before.status).toBe(400); // past the bearer check: only the session id is missing
    const revoked = await fetch(`${url(A)}/revoke`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: tokens.refresh_token, client_id: client.clientId }).toString(),
    });
    expect(revoked.status).toBe(200);
    const after = await fetch(`${url(B)}/mcp`, { method: 'DELETE', headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(after.status).toBe(401);
    expect(after.headers.get('www-authenticate')).toContain('invalid_token');
  });

  it('continues an MCP session started on replica A on replica B (person-bound session id re-attaches)', async () => {
    proxy.steer = () => A;
    const { tokens } = await signInManually(tb, set.publicUrl, 'alice', REDIRECT);
    const init = await rpc(url(A), tokens.access_token, INIT);
    expect(init.status).toBe(200);
    const sid = init.sid!;
    expect(sid).toBeTruthy();
    await rpc(url(A), tokens.access_token, { jsonrpc: '2.0', method: 'notifications/initialized' }, sid);
    const call = await rpc(url(B), tokens.access_token, { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'user__get_my_userinfo', arguments: {} } }, sid);
    expect(call.status).toBe(200);
    expect(JSON.stringify(call.msg?.result)).toContain('alice');
    // Another person presenting alice's session id on B is refused (the id is bound to alice).
    const bob = await signInManually(tb, set.publicUrl, 'bob', REDIRECT);
    const foreign = await rpc(url(B), bob.tokens.access_token, { jsonrpc: '2.0', id: 8, method: 'tools/list' }, sid);
    expect(foreign.status).toBe(404);
  });

  it('refreshes a person\'s forge tokens single-flight across replicas: calls on both through two forge refreshes never lock the person out', async () => {
    proxy.steer = () => A;
    const { tokens } = await signInManually(tb, set.publicUrl, 'carol', REDIRECT);
    const statuses = new Map<number, number>();
    const end = Date.now() + (2 * FORGE_TTL_S + 2) * 1000; // two forge lifetimes: at least two refreshes
    while (Date.now() < end) {
      const burst = await Promise.all([A, B, A, B].map((i) => fetch(`${url(i)}/mcp`, { method: 'DELETE', headers: { authorization: `Bearer ${tokens.access_token}` } })));
      for (const r of burst) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, 150));
    }
    expect([...statuses.keys()]).toEqual([400]); // every call got past the bearer check (401 = locked out)
    const ended = [A, B].flatMap((i) => audited(i, 'forge.grant_ended'));
    expect(ended).toEqual([]);
    const refreshed = [A, B].flatMap((i) => audited(i, 'forge.refreshed').filter((l) => l.includes('"login":"carol"')));
    const started = [A, B].flatMap((i) => set.replicas[i]!.logLines.filter((l) => l.includes('"msg":"forge refresh started"') && l.includes('"login":"carol"')));
    expect(refreshed.length).toBeGreaterThanOrEqual(2);
    // Every forge refresh attempt succeeded: no replica spent a refresh token the other had spent.
    expect(started.length).toBe(refreshed.length);
    const call = await rpc(url(B), tokens.access_token, INIT);
    expect(call.status).toBe(200);
  });
});
