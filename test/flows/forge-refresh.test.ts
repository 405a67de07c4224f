/**
 * Forge token refresh against real Gitea 1.26 test beds with 60 s access tokens, once with
 * `INVALIDATE_REFRESH_TOKENS=false` (Gitea's default) and once with `true` (Forgejo's default,
 * where every issuance bumps the grant counter: forge-facts §4). An injected clock skips to
 * expiry instead of waiting; Gitea's own tokens stay valid in real time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { createAudit, type Audit } from '../../src/ops/audit.js';
import { silentLogger } from '../../src/ops/log.js';
import { openDb, type Db } from '../../src/store/db.js';
import { createForgeTokenStore, type ForgeTokenStore } from '../../src/store/forge-tokens-store.js';
import { createForgeTokens } from '../../src/upstream/forge-tokens.js';
import { ForgeGrantEndedError, type ForgeClient, type ForgeTokens } from '../../src/upstream/types.js';
import { forgeTestConfig, grantIdOf, revokeGrantInGitea, signInThroughGitea, testForgeClient } from '../support/forge-signin.js';
import { basicAuth, startTestbed, type Testbed } from '../support/testbed.js';

const TTL_S = 60;

interface Rig {
  forge: ForgeClient;
  tokens: ForgeTokens;
  store: ForgeTokenStore;
  ended: string[];
  /** Audit events as [event, fields] in order. */
  audited: [string, Record<string, unknown>][];
  refreshCalls: () => number;
  skip(ms: number): void;
}

describe.each([
  { invalidate: false, name: 'Gitea default INVALIDATE_REFRESH_TOKENS=false' },
  { invalidate: true, name: 'Forgejo default INVALIDATE_REFRESH_TOKENS=true' },
])('forge refresh with $name', ({ invalidate }) => {
  let tb: Testbed & { stop(): Promise<void> };
  let config: Config & { forgeAppId: number };
  const dbs: Db[] = [];

  beforeAll(async () => {
    tb = await startTestbed({ accessTokenTtlS: TTL_S, invalidateRefreshTokens: invalidate });
    config = await forgeTestConfig(tb, { FJMCP_ALLOWED_ORGS: 'team' });
  });
  afterAll(async () => {
    for (const db of dbs) db.close();
    await tb?.stop();
  });

  /** ForgeTokens over a fresh database, the real forge client counted, one clock for both. */
  function rig(): Rig {
    let now = Date.now();
    const clock = () => now;
    const real = testForgeClient(config, { clock });
    let calls = 0;
    const forge: ForgeClient = { ...real, refresh: (rt) => (calls++, real.refresh(rt)) };
    const db = openDb(':memory:');
    dbs.push(db);
    const store = createForgeTokenStore(db);
    const ended: string[] = [];
    const audited: Rig['audited'] = [];
    const audit: Audit = (event, fields) => audited.push([event, fields]);
    const tokens = createForgeTokens({ config, store, forge, log: silentLogger, audit, clock, retryDelaysMs: [50, 100] });
    tokens.onGrantEnded((p) => ended.push(p));
    return { forge, tokens, store, ended, audited, refreshCalls: () => calls, skip: (ms) => (now += ms) };
  }

  it('never locks out two sign-ins of one person: newest token set shared, 5 concurrent current() after expiry refresh once', async () => {
    const r = rig();
    const first = await signInThroughGitea(r.forge, tb, 'alice');
    await r.tokens.save(first.identity, first.tokens);
    const second = await signInThroughGitea(r.forge, tb, 'alice');
    await r.tokens.save(second.identity, second.tokens); // newest sign-in wins for all of alice's grants

    for (let round = 1; round <= 2; round++) {
      r.skip((TTL_S + 1) * 1000);
      const got = await Promise.all(Array.from({ length: 5 }, () => r.tokens.current(first.identity.id)));
      expect(new Set(got.map((g) => g.accessToken)).size).toBe(1);
      expect(r.refreshCalls()).toBe(round);
      expect(await r.forge.identify(got[0]!.accessToken)).toMatchObject({ id: first.identity.id, login: 'alice' });
    }
    expect(r.ended).toEqual([]);
    expect(r.audited.map(([e]) => e)).toEqual(['forge.refreshed', 'forge.refreshed']);
    expect(JSON.stringify(r.audited)).not.toMatch(/eyJ/); // no token in the audit trail
  });

  it('refreshes single-flight: 10 concurrent current() inside the margin make one forge refresh', async () => {
    const r = rig();
    const bob = await signInThroughGitea(r.forge, tb, 'bob');
    await r.tokens.save(bob.identity, bob.tokens);
    r.skip((TTL_S - 10) * 1000); // 10 s left, inside the 15 s margin
    const got = await Promise.all(Array.from({ length: 10 }, () => r.tokens.current(bob.identity.id)));
    expect(r.refreshCalls()).toBe(1);
    expect(new Set(got.map((g) => g.accessToken)).size).toBe(1);
    // Not the token string: Gitea's access-token JWT ({gnt, tt, exp, iat} in seconds, RS256) is
    // byte-identical when refreshed within the same second as it was issued.
    expect(got[0]!.expiresAt).toBeGreaterThan(bob.tokens.expiresAt);
    expect((await r.tokens.current(bob.identity.id)).accessToken).toBe(got[0]!.accessToken); // fresh now: no refresh
    expect(r.refreshCalls()).toBe(1);
  });

  it('lets a sign-in that lands while a refresh is in flight win, without ending the grant (compare-and-set on the row version)', async () => {
    const r = rig();
    let release!: () => void;
    const gate = new Promise<void>((res) => (release = res));
    const gated: ForgeClient = { ...r.forge, refresh: async (rt) => (await gate, r.forge.refresh(rt)) };
    const store = r.store;
    const tokens = createForgeTokens({ config, store, forge: gated, log: silentLogger, audit: createAudit(silentLogger), clock: () => Date.now() + 2 * TTL_S * 1000 });
    const ended: string[] = [];
    tokens.onGrantEnded((p) => ended.push(p));
    const first = await signInThroughGitea(r.forge, tb, 'alice');
    await tokens.save(first.identity, first.tokens);
    const pending = tokens.current(first.identity.id); // expired by this clock: refresh waits at the gate
    const second = await signInThroughGitea(r.forge, tb, 'alice'); // with rotation this kills the first refresh token
    await tokens.save(second.identity, second.tokens);
    release();
    const got = await pending;
    expect(got.accessToken).toBe(second.tokens.accessToken); // the newest sign-in's tokens, not the late refresh's
    expect(await r.forge.identify(got.accessToken)).toMatchObject({ login: 'alice' });
    expect(ended).toEqual([]);
    expect((await store.get(first.identity.id))?.version).toBe(2); // the late refresh did not overwrite the newer sign-in
  });

  it(`${invalidate ? 'kills' : 'keeps'} the first sign-in's refresh token after a second sign-in (Gitea ${invalidate ? '400 unauthorized_client "token was already used"' : 'no rotation'})`, async () => {
    const r = rig();
    const first = await signInThroughGitea(r.forge, tb, 'carol');
    await signInThroughGitea(r.forge, tb, 'carol');
    const reuse = r.forge.refresh(first.tokens.refreshToken!);
    if (invalidate) await expect(reuse).rejects.toThrow(/unauthorized_client: token was already used/);
    else await expect(reuse).resolves.toMatchObject({ accessToken: expect.any(String) });
  });

  it('ends the person\'s grant at the next refresh after they revoke it in Gitea (400 invalid_grant; listener called, tokens deleted)', async () => {
    const r = rig();
    const bob = await signInThroughGitea(r.forge, tb, 'bob');
    await r.tokens.save(bob.identity, bob.tokens);
    await revokeGrantInGitea(tb, bob.browser, config.forgeAppId, grantIdOf(bob.tokens.accessToken));
    await expect(r.forge.identify(bob.tokens.accessToken)).rejects.toThrow(/HTTP 401/); // access token dead at once
    r.skip((TTL_S + 1) * 1000);
    await expect(r.tokens.current(bob.identity.id)).rejects.toThrow(/invalid_grant: grant does not exist/);
    expect(r.ended).toEqual([bob.identity.id]);
    expect(r.audited).toEqual([['forge.grant_ended', expect.objectContaining({ personId: bob.identity.id, login: 'bob', reason: expect.stringMatching(/invalid_grant/) })]]);
    expect(await r.store.get(bob.identity.id)).toBeUndefined();
    await expect(r.tokens.current(bob.identity.id)).rejects.toThrow(ForgeGrantEndedError);
  });

  it('re-checks the allowlist at refresh and fails closed: a person who left the listed organisation loses the grant', async () => {
    const r = rig();
    const bob = await signInThroughGitea(r.forge, tb, 'bob');
    expect(await r.forge.isAllowed(bob.identity, bob.tokens.accessToken)).toBe(true);
    await r.tokens.save(bob.identity, bob.tokens);
    const removed = await fetch(`${tb.giteaUrl}/api/v1/orgs/team/members/bob`, { method: 'DELETE', headers: { authorization: basicAuth(tb) } });
    expect(removed.status).toBe(204);
    try {
      r.skip((TTL_S + 1) * 1000);
      await expect(r.tokens.current(bob.identity.id)).rejects.toThrow(/no longer on the allowlist/);
      expect(r.ended).toEqual([bob.identity.id]);
      expect(await r.store.get(bob.identity.id)).toBeUndefined();
    } finally {
      await putBobBackInTeam(tb);
    }
  });
});

/** Adds bob to the org's Owners team again (as the test bed seeded him). */
async function putBobBackInTeam(tb: Testbed): Promise<void> {
  const teams = (await (await fetch(`${tb.giteaUrl}/api/v1/orgs/team/teams`, { headers: { authorization: basicAuth(tb) } })).json()) as { id: number; name: string }[];
  const owners = teams.find((t) => t.name === 'Owners');
  if (!owners) throw new Error('Owners team not found');
  const res = await fetch(`${tb.giteaUrl}/api/v1/teams/${owners.id}/members/bob`, { method: 'PUT', headers: { authorization: basicAuth(tb) } });
  if (res.status !== 204) throw new Error(`re-adding bob failed: HTTP ${res.status}`);
}
