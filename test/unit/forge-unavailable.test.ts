/**
 * Transient forge failures, which the real Gitea test bed cannot produce on demand: a 5xx from
 * the token endpoint or the API, a forge that never answers, a refused connection. Served by
 * `standin-forge`, an in-process HTTP server that only plays those faults (and a plain answer
 * once the fault is over). Everything the real Gitea can do is tested in test/flows/forge-*.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createAudit } from '../../src/ops/audit.js';
import { silentLogger } from '../../src/ops/log.js';
import { openDb } from '../../src/store/db.js';
import { createForgeTokenStore } from '../../src/store/forge-tokens-store.js';
import { createForgeClient } from '../../src/upstream/forge-client.js';
import { ALLOWLIST_RECHECK_MS, createForgeTokens } from '../../src/upstream/forge-tokens.js';
import { ForgeUnavailableError } from '../../src/upstream/types.js';

type Mode = 'ok' | '500' | 'hang';

/** standin-forge: discovery as Gitea 1.26 gives it, then whatever fault `mode` says. */
function startStandinForge() {
  const state = { mode: 'ok' as Mode, tokenCalls: 0, base: '', member: 'yes' as 'yes' | 'no' | '500' | 'hang' };
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (path === '/.well-known/openid-configuration') {
      return json(200, {
        issuer: state.base,
        authorization_endpoint: `${state.base}/login/oauth/authorize`,
        token_endpoint: `${state.base}/login/oauth/access_token`,
        response_types_supported: ['code'],
      });
    }
    if (path === '/login/oauth/access_token') state.tokenCalls++;
    if (state.mode === 'hang') return; // never answers
    if (state.mode === '500') return json(500, { message: 'standin-forge: internal error' });
    if (path === '/login/oauth/access_token') {
      return json(200, { access_token: `at-${state.tokenCalls}`, token_type: 'bearer', expires_in: 60, refresh_token: `rt-${state.tokenCalls}` });
    }
    if (path === '/api/v1/user') return json(200, { id: 1, login: 'alice', is_admin: false });
    if (path === '/api/v1/orgs/team/members/alice') {
      if (state.member === 'hang') return;
      return state.member === 'yes' ? res.writeHead(204).end() : json(state.member === 'no' ? 404 : 500, { message: 'standin-forge' });
    }
    if (path === '/api/healthz') return json(200, { status: 'pass' });
    return json(404, { message: 'not found' });
  });
  return {
    state,
    listen: () => new Promise<string>((r) => server.listen(0, '127.0.0.1', () => r((state.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`)))),
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

const standin = startStandinForge();
let forgeUrl = '';
beforeAll(async () => {
  forgeUrl = await standin.listen();
});
afterAll(() => standin.close());
beforeEach(() => {
  standin.state.mode = 'ok';
  standin.state.tokenCalls = 0;
  standin.state.member = 'yes';
});

function client(url = forgeUrl, timeoutMs = 300, clock?: () => number) {
  const config = loadConfig({
    FJMCP_PUBLIC_URL: 'http://127.0.0.1:8787',
    FJMCP_FORGE_URL: url,
    FJMCP_FORGE_CLIENT_ID: 'client',
    FJMCP_FORGE_CLIENT_SECRET: 'secret',
    FJMCP_ENCRYPTION_KEYS: randomBytes(32).toString('base64'),
  });
  return { config, forge: createForgeClient({ config, log: silentLogger, timeoutMs, ...(clock ? { clock } : {}) }) };
}

describe('forge client: transient failures are ForgeUnavailableError, never a grant end', () => {
  it('maps a 5xx from the token endpoint to ForgeUnavailableError (forge-facts §8: 5xx is transient)', async () => {
    const { forge } = client();
    standin.state.mode = '500';
    await expect(forge.refresh('rt')).rejects.toThrow(ForgeUnavailableError);
    await expect(forge.exchangeCode({ code: 'c', codeVerifier: 'v'.repeat(43) })).rejects.toThrow(ForgeUnavailableError);
  });

  it('gives up on a token endpoint that does not answer within the deadline (ForgeUnavailableError)', async () => {
    const { forge } = client();
    await forge.refresh('rt'); // discovery cached while the forge answers
    standin.state.mode = 'hang';
    await expect(forge.refresh('rt')).rejects.toThrow(/no answer within 300 ms/);
  });

  it('maps a 5xx or a hang of GET /api/v1/user to ForgeUnavailableError', async () => {
    const { forge } = client();
    standin.state.mode = '500';
    await expect(forge.identify('at')).rejects.toThrow(ForgeUnavailableError);
    standin.state.mode = 'hang';
    await expect(forge.identify('at')).rejects.toThrow(ForgeUnavailableError);
  });

  it('maps a refused connection to ForgeUnavailableError and reports the forge unhealthy', async () => {
    const closed = startStandinForge();
    const url = await closed.listen();
    await closed.close();
    const { forge } = client(url);
    await expect(forge.refresh('rt')).rejects.toThrow(ForgeUnavailableError);
    expect(await forge.health()).toMatchObject({ ok: false });
  });

  it('reports health ok only for 200 from /api/healthz, and not ok on 5xx or no answer', async () => {
    const { forge } = client();
    expect(await forge.health()).toEqual({ ok: true });
    standin.state.mode = '500';
    expect(await forge.health()).toEqual({ ok: false, detail: 'forge /api/healthz answered HTTP 500' });
    standin.state.mode = 'hang';
    expect(await forge.health()).toMatchObject({ ok: false, detail: expect.stringMatching(/no answer/) });
  });

  it('gives no verdict on an unanswered or 5xx organisation membership check (ForgeUnavailableError), "no" only on 404', async () => {
    const { forge } = client();
    const withOrg = createForgeClient({ config: { ...client().config, allow: { users: [], orgs: ['team'] } }, log: silentLogger, timeoutMs: 300 });
    const alice = { id: '1', login: 'alice', isAdmin: false };
    standin.state.member = 'hang';
    await expect(withOrg.isAllowed(alice, 'at')).rejects.toThrow(ForgeUnavailableError);
    standin.state.member = '500';
    await expect(withOrg.isAllowed(alice, 'at')).rejects.toThrow(/HTTP 500/);
    standin.state.member = 'no';
    expect(await withOrg.isAllowed(alice, 'at')).toBe(false);
    standin.state.member = 'yes';
    expect(await withOrg.isAllowed(alice, 'at')).toBe(true);
    standin.state.member = 'hang';
    expect(await forge.isAllowed(alice, 'at')).toBe(true); // no allowlist: no call
  });
});

describe('forge tokens: a refresh the forge cannot answer is retried and never ends the grant', () => {
  async function tokens(allowOrg = false) {
    let now = Date.now();
    const c = client(forgeUrl, 300, () => now);
    const config = allowOrg ? { ...c.config, allow: { users: [], orgs: ['team'] } } : c.config;
    const forge = allowOrg ? createForgeClient({ config, log: silentLogger, timeoutMs: 300, clock: () => now }) : c.forge;
    const db = openDb(':memory:');
    const store = createForgeTokenStore(db);
    const ended: string[] = [];
    const t = createForgeTokens({ config, store, forge, log: silentLogger, audit: createAudit(silentLogger), clock: () => now, retryDelaysMs: [10, 20] });
    t.onGrantEnded((p) => ended.push(p));
    await t.save({ id: '1', login: 'alice', isAdmin: false }, { accessToken: 'at-old', refreshToken: 'rt-old', expiresAt: now + 60_000 });
    return { t, store, ended, skip: (ms: number) => (now += ms) };
  }

  it('retries 3 times and serves the still-valid old token inside the refresh margin', async () => {
    const { t, store, ended, skip } = await tokens();
    skip(50_000); // 10 s left of 60: inside the 15 s margin
    standin.state.mode = '500';
    expect(await t.current('1')).toMatchObject({ accessToken: 'at-old' });
    expect(standin.state.tokenCalls).toBe(3);
    expect((await store.get('1'))?.version).toBe(1);
    expect(ended).toEqual([]);
  });

  it('throws ForgeUnavailableError once the old token has expired, keeps the tokens, and refreshes when the forge is back', async () => {
    const { t, store, ended, skip } = await tokens();
    skip(61_000);
    standin.state.mode = '500';
    await expect(t.current('1')).rejects.toThrow(ForgeUnavailableError);
    expect(await store.get('1')).toBeDefined();
    standin.state.mode = 'ok';
    expect((await t.current('1')).accessToken).toMatch(/^at-\d+$/);
    expect((await store.get('1'))?.version).toBe(2);
    expect(ended).toEqual([]);
  });

  it('keeps the person signed in when the allowlist check at refresh gets no answer (5xx, hang), checks again later, and ends the grant only on a definite 404', async () => {
    const { t, store, ended, skip } = await tokens(true);
    skip(50_000);
    standin.state.member = '500';
    expect((await t.current('1')).accessToken).toMatch(/^at-\d+$/); // refreshed; the check had no answer
    expect(await store.get('1')).toBeDefined();
    expect(ended).toEqual([]);
    standin.state.member = 'hang';
    skip(ALLOWLIST_RECHECK_MS + 1);
    await t.current('1'); // the re-check, unanswered again
    expect(ended).toEqual([]);
    standin.state.member = 'no';
    skip(ALLOWLIST_RECHECK_MS + 1);
    await expect(t.current('1')).rejects.toThrow(/no longer on the allowlist/);
    expect(ended).toEqual(['1']);
    expect(await store.get('1')).toBeUndefined();
  });
});
