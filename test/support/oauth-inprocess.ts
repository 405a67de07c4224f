/**
 * @module test/support/oauth-inprocess — the authorization server in process (`app.request()`,
 * in-memory or shared SQLite) in front of a stand-in forge client (`standinForgeWithOutages`)
 * under the real ForgeTokens: for faults the real Gitea cannot produce on demand, and for
 * configuration changes (another public URL on the same database).
 */
import { randomBytes } from 'node:crypto';
import { Hono } from 'hono';
import { expect } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { oauthRoutes } from '../../src/http/oauth-routes.js';
import { pkceS256 } from '../../src/lib/crypto.js';
import { createContext } from '../../src/context.js';
import { silentLogger } from '../../src/ops/log.js';
import { openSqliteStore, type Store } from '../../src/store/store.js';
import { ForgeUnavailableError, type ForgeClient } from '../../src/upstream/types.js';

export const ISSUER = 'http://127.0.0.1:9';
const FORGE = 'http://127.0.0.1:1';

/** A forge client whose token endpoint is down when `down.exchange` / `down.refresh` is set. */
export function standinForgeWithOutages(now: () => number, down: { exchange: boolean; refresh: boolean }): ForgeClient {
  return {
    authorizationUrl: ({ state, codeChallenge }) => new URL(`${FORGE}/login/oauth/authorize?state=${state}&code_challenge=${codeChallenge}`),
    async exchangeCode() {
      if (down.exchange) throw new ForgeUnavailableError('standin: forge token endpoint answered 502');
      return { accessToken: 'standin-forge-at', refreshToken: 'standin-forge-rt', expiresAt: now() + 3600_000 };
    },
    async refresh() {
      if (down.refresh) throw new ForgeUnavailableError('standin: forge token endpoint answered 502');
      return { accessToken: 'standin-forge-at-2', refreshToken: 'standin-forge-rt-2', expiresAt: now() + 3600_000 };
    },
    identify: async () => ({ id: '42', login: 'dora', isAdmin: false }),
    isAllowed: async () => true,
    health: async () => ({ ok: true }),
    memberships: async () => ({ orgs: [], teams: [] }),
    credentials: () => ({ ok: true }),
    verifyCredentials: async () => ({ ok: true }),
  };
}

/** The composition root with the stand-in forge and a moving clock; `store` may be shared by two rigs. */
export async function rig(opts: { issuer?: string; store?: Store; keys?: string } = {}) {
  const issuer = opts.issuer ?? ISSUER;
  let offset = 0;
  const now = () => Date.now() + offset;
  const down = { exchange: false, refresh: false };
  const config = loadConfig({
    FJMCP_PUBLIC_URL: issuer, FJMCP_FORGE_URL: FORGE, FJMCP_FORGE_CLIENT_ID: 'broker', FJMCP_FORGE_CLIENT_SECRET: 'secret',
    FJMCP_ENCRYPTION_KEYS: opts.keys ?? randomBytes(32).toString('base64'), FJMCP_ACCESS_TOKEN_TTL_S: '86400',
  });
  const store = opts.store ?? (await openSqliteStore(':memory:'));
  const { as } = await createContext(config, {
    log: silentLogger, defaultMetrics: false, clock: now, store, forge: standinForgeWithOutages(now, down), forgeRetryDelaysMs: [0],
  });
  const app = new Hono();
  app.route('/', oauthRoutes(as, config));
  app.all('/mcp', async (c) => {
    const r = await as.authenticate(c.req.raw);
    return r instanceof Response ? r : c.json({ login: r.login });
  });
  return { app, store, down, issuer, skip: (ms: number) => (offset += ms) };
}

/** Registers a client and walks authorize → consent → callback; returns the client redirect. */
export async function signIn(app: Hono, issuer = ISSUER) {
  const reg = await app.request(`${issuer}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'none' }) });
  const { client_id } = (await reg.json()) as { client_id: string };
  const verifier = randomBytes(32).toString('base64url');
  const q = new URLSearchParams({ response_type: 'code', client_id, redirect_uri: 'http://127.0.0.1:5555/cb', code_challenge: pkceS256(verifier), code_challenge_method: 'S256', state: 'S' });
  const page = await app.request(`${issuer}/authorize?${q}`);
  const cookie = page.headers.get('set-cookie')!.split(';')[0]!;
  const html = await page.text();
  const field = (n: string) => new RegExp(`name="${n}" value="([^"]+)"`).exec(html)![1]!;
  const consent = await app.request(`${issuer}/consent`, { method: 'POST', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ tx: field('tx'), csrf: field('csrf'), decision: 'approve' }).toString() });
  const state = new URL(consent.headers.get('location')!).searchParams.get('state')!;
  const cb = await app.request(`${issuer}/oauth/callback?code=standin-code&state=${state}`, { headers: { cookie } });
  expect(cb.status).toBe(302);
  return { client_id, verifier, location: new URL(cb.headers.get('location')!) };
}

/** Exchanges the code of {@link signIn} for tokens. */
export async function exchange(app: Hono, s: Awaited<ReturnType<typeof signIn>>, issuer = ISSUER): Promise<{ access_token: string; refresh_token: string }> {
  const t = await app.request(`${issuer}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'authorization_code', code: s.location.searchParams.get('code')!, code_verifier: s.verifier, client_id: s.client_id }).toString() });
  expect(t.status).toBe(200);
  return (await t.json()) as { access_token: string; refresh_token: string };
}
