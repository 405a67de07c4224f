/**
 * Forge faults the real Gitea cannot produce on demand inside one test: a forge that is down at
 * the callback, or when an expired forge token must be refreshed. Uses a stand-in forge client
 * (standinForge…) under the real ForgeTokens and the real authorization server routes, in process.
 */
import { randomBytes } from 'node:crypto';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { oauthRoutes } from '../../src/http/oauth-routes.js';
import { pkceS256 } from '../../src/lib/crypto.js';
import { createAuthorizationServer } from '../../src/oauth/authorization-server.js';
import { createAudit } from '../../src/ops/audit.js';
import { silentLogger } from '../../src/ops/log.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { openDb } from '../../src/store/db.js';
import { createForgeTokenStore } from '../../src/store/forge-tokens-store.js';
import { createForgeTokens } from '../../src/upstream/forge-tokens.js';
import { ForgeUnavailableError, type ForgeClient } from '../../src/upstream/types.js';

const ISSUER = 'http://127.0.0.1:9';
const FORGE = 'http://127.0.0.1:1';

/** A forge client whose token endpoint is down when `down.exchange` / `down.refresh` is set. */
function standinForgeWithOutages(now: () => number, down: { exchange: boolean; refresh: boolean }): ForgeClient {
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
  };
}

function rig() {
  let offset = 0;
  const now = () => Date.now() + offset;
  const down = { exchange: false, refresh: false };
  const config = loadConfig({
    FJMCP_PUBLIC_URL: ISSUER, FJMCP_FORGE_URL: FORGE, FJMCP_FORGE_CLIENT_ID: 'broker', FJMCP_FORGE_CLIENT_SECRET: 'secret',
    FJMCP_ENCRYPTION_KEYS: randomBytes(32).toString('base64'), FJMCP_ACCESS_TOKEN_TTL_S: '86400',
  });
  const db = openDb(':memory:');
  const audit = createAudit(silentLogger);
  const forge = standinForgeWithOutages(now, down);
  const forgeTokens = createForgeTokens({ config, store: createForgeTokenStore(db), forge, log: silentLogger, audit, clock: now, retryDelaysMs: [0] });
  const as = createAuthorizationServer({ config, db, forge, forgeTokens, log: silentLogger, audit, metrics: createMetrics(false), clock: now });
  const app = new Hono();
  app.route('/', oauthRoutes(as, config));
  app.all('/mcp', async (c) => {
    const r = await as.authenticate(c.req.raw);
    return r instanceof Response ? r : c.json({ login: r.login });
  });
  return { app, down, skip: (ms: number) => (offset += ms) };
}

/** Registers a client and walks authorize → consent → callback; returns the client redirect. */
async function signIn(app: Hono) {
  const reg = await app.request(`${ISSUER}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'none' }) });
  const { client_id } = (await reg.json()) as { client_id: string };
  const verifier = randomBytes(32).toString('base64url');
  const q = new URLSearchParams({ response_type: 'code', client_id, redirect_uri: 'http://127.0.0.1:5555/cb', code_challenge: pkceS256(verifier), code_challenge_method: 'S256', state: 'S' });
  const page = await app.request(`${ISSUER}/authorize?${q}`);
  const cookie = page.headers.get('set-cookie')!.split(';')[0]!;
  const html = await page.text();
  const field = (n: string) => new RegExp(`name="${n}" value="([^"]+)"`).exec(html)![1]!;
  const consent = await app.request(`${ISSUER}/consent`, { method: 'POST', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ tx: field('tx'), csrf: field('csrf'), decision: 'approve' }).toString() });
  const state = new URL(consent.headers.get('location')!).searchParams.get('state')!;
  const cb = await app.request(`${ISSUER}/oauth/callback?code=standin-code&state=${state}`, { headers: { cookie } });
  expect(cb.status).toBe(302);
  return { client_id, verifier, location: new URL(cb.headers.get('location')!) };
}

describe('forge outages', () => {
  it('sends temporarily_unavailable with state and iss to the client when the forge is down at the callback', async () => {
    const { app, down } = rig();
    down.exchange = true;
    const { location } = await signIn(app);
    expect(location.searchParams.get('error')).toBe('temporarily_unavailable');
    expect(location.searchParams.get('state')).toBe('S');
    expect(location.searchParams.get('iss')).toBe(ISSUER);
  });

  it('answers 503 with Retry-After on /mcp while the forge cannot refresh an expired forge token, and recovers after', async () => {
    const { app, down, skip } = rig();
    const { client_id, verifier, location } = await signIn(app);
    const t = await app.request(`${ISSUER}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'authorization_code', code: location.searchParams.get('code')!, code_verifier: verifier, client_id }).toString() });
    const { access_token } = (await t.json()) as { access_token: string };
    const mcp = () => app.request(`${ISSUER}/mcp`, { method: 'POST', headers: { authorization: `Bearer ${access_token}` } });
    expect((await mcp()).status).toBe(200);
    down.refresh = true;
    skip(2 * 3600_000);
    const res = await mcp();
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBeTruthy();
    down.refresh = false;
    expect((await mcp()).status).toBe(200); // the broker grant survived the outage
  });
});
