/**
 * The broker's own mistake never costs a person their sign-in: restarted with a wrong forge client
 * secret, the broker's refresh of alice's forge token is refused by the real Gitea
 * (`400 invalid_client "invalid client secret"`); alice's grant and forge tokens stay, her calls
 * keep working on the still-valid token, `/healthz` names the forge client credentials, and once
 * the right secret is back her next call refreshes and carries on without signing in.
 * Gitea access tokens live 30 s here, so the refresh margin (7.5 s) arrives within half a minute.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ForgeClientRefusedError } from '../../src/upstream/types.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { forgeTestConfig, testForgeClient } from '../support/forge-signin.js';
import { headlessDriver, signedInClient, toolText, type SignedInClient } from '../support/mcp-sign-in.js';
import { startTestbed, type Testbed } from '../support/testbed.js';

const FORGE_TOKEN_TTL_S = 30;
const WRONG_SECRET = 'gto_this-is-not-the-forge-application-secret';
let tb: Testbed & { stop(): Promise<void> };
let broker: TestBroker;
let alice: SignedInClient;

beforeAll(async () => {
  tb = await startTestbed({ accessTokenTtlS: FORGE_TOKEN_TTL_S });
  broker = await startBroker({ testbed: tb });
  alice = await signedInClient(broker.mcpUrl, 'alice', headlessDriver(tb, broker.url));
}, 120_000);
afterAll(async () => {
  await alice?.close().catch(() => {});
  await broker?.stop();
  await tb?.stop();
});

const audit = (event: string) =>
  broker.logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.audit && l.event === event);

/**
 * The restart closed the test process's kept-alive connections; a POST on one fails once at the
 * socket (undici retries no POST), as any client sees after a server restart. One retry, only for that.
 */
function retryOnStaleSocket<T>(call: () => Promise<T>): Promise<T> {
  return call().catch((err: Error) => {
    if ((err.cause as { code?: string } | undefined)?.code !== 'UND_ERR_SOCKET') throw err;
    return call();
  });
}

async function whoAmI(): Promise<string> {
  const r = await retryOnStaleSocket(() => alice.client.callTool({ name: 'user__get_my_userinfo', arguments: {} }));
  expect(r.isError ?? false, toolText(r)).toBe(false);
  return (JSON.parse(toolText(r)) as { login: string }).login;
}

async function health(): Promise<{ status: number; body: Record<string, any> }> {
  const res = await fetch(`${broker.opsUrl}/healthz`); // the detail is on the operator listener
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

describe('forge refusal of the broker\'s own client credentials', () => {
  it('classifies the real Gitea answers: a wrong secret is the broker\'s credentials (invalid_client), never the grant', async () => {
    const config = await forgeTestConfig(tb);
    const right = testForgeClient(config);
    expect(await right.verifyCredentials()).toEqual(expect.objectContaining({ ok: true }));
    const wrong = testForgeClient({ ...config, forge: { ...config.forge, clientSecret: WRONG_SECRET } });
    const verdict = await wrong.verifyCredentials();
    expect(verdict.ok).toBe(false);
    expect(verdict.detail).toMatch(/invalid_client: invalid client secret.*FJMCP_FORGE_CLIENT_SECRET/);
    expect(wrong.credentials().ok).toBe(false);
    const refused = await wrong.refresh('any-refresh-token').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ForgeClientRefusedError);
    expect((refused as ForgeClientRefusedError).kind).toBe('credentials');
    const unknownClient = testForgeClient({ ...config, forge: { ...config.forge, clientId: '00000000-0000-4000-8000-000000000000' } });
    expect((await unknownClient.verifyCredentials()).detail).toMatch(/invalid_client: cannot load client/);
  });

  it('keeps alice\'s grant through a refused refresh with a wrong secret, names the credentials in /healthz, and carries on once the secret is right', async () => {
    expect(await whoAmI()).toBe('alice');
    expect((await health()).status).toBe(200);
    const sessionId = alice.transport.sessionId;

    await broker.restart({ FJMCP_FORGE_CLIENT_SECRET: WRONG_SECRET });
    // Call until the forge token is inside its refresh margin and the forge refuses the refresh.
    const deadline = Date.now() + (FORGE_TOKEN_TTL_S + 5) * 1000;
    while (audit('forge.client_refused').length === 0 && Date.now() < deadline) {
      expect(await whoAmI()).toBe('alice'); // served with the still-valid forge token
      await new Promise((r) => setTimeout(r, 1_000));
    }
    expect(audit('forge.client_refused')).toEqual([expect.objectContaining({ login: 'alice', kind: 'credentials', reason: expect.stringMatching(/invalid_client/) })]);
    expect(audit('forge.grant_ended')).toEqual([]);
    expect(audit('grant.revoked')).toEqual([]);
    expect(await whoAmI()).toBe('alice');

    const h = await health();
    expect(h.status).toBe(503);
    expect(h.body.failing).toEqual(['forgeCredentials']);
    expect(h.body.forgeCredentials.detail).toMatch(/FJMCP_FORGE_CLIENT_ID and FJMCP_FORGE_CLIENT_SECRET/);

    await broker.restart({}); // the right secret is back
    const refreshedBefore = audit('forge.refreshed').length;
    expect(await whoAmI()).toBe('alice'); // no sign-in: the same OAuth provider, tokens and session
    expect(audit('forge.refreshed').length).toBe(refreshedBefore + 1);
    expect(alice.transport.sessionId).toBe(sessionId);
    expect(audit('signin.completed')).toHaveLength(1); // alice signed in once, before all this
    const after = await health();
    expect(after.body.forgeCredentials).toEqual({ ok: true });
    expect(after.status).toBe(200);
  }, 90_000);
});

describe('allowlist change across a restart', () => {
  it('takes effect at the next request: bob, dropped from FJMCP_ALLOWED_USERS, gets 401 at once; alice carries on', async () => {
    const bob = await signedInClient(broker.mcpUrl, 'bob', headlessDriver(tb, broker.url));
    try {
      await broker.restart({ FJMCP_ALLOWED_USERS: 'alice' });
      const res = await retryOnStaleSocket(() => fetch(broker.mcpUrl, {
        method: 'POST',
        headers: { authorization: `Bearer ${bob.provider.tokens()!.access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      }));
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
      expect(audit('forge.grant_ended')).toEqual([expect.objectContaining({ login: 'bob', reason: 'no longer on the allowlist' })]);
      expect(await whoAmI()).toBe('alice');
    } finally {
      await bob.close().catch(() => {});
    }
  }, 60_000);
});
