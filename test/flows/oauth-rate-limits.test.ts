/**
 * Issue 11: per client IP rate limits on /authorize, /consent, /token, /register and
 * /oauth/callback (429 with Retry-After; an RFC 6749 §5.2-shaped JSON body on the OAuth
 * endpoints, an HTML page on the browser ones), and bounds on what /authorize stores: pending
 * authorizations are capped per IP and in total, and expired ones are reaped. The broker trusts
 * X-Forwarded-For here (FJMCP_TRUST_PROXY=true, as behind Caddy), so each test speaks from its own
 * address; the clock is the broker's injected one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizeUrl, pkcePair, registerTestClient, type ManualClient } from '../support/broker-consent.js';
import { startOAuthBroker, type OAuthTestBroker } from '../support/oauth-broker.js';
import { sharedTestbed } from '../support/testbed.js';

const RATE = 5;
const PER_IP = 3;
const TOTAL = 5;
const TTL_MS = 600_000; // TRANSACTION_TTL_S

let now = Date.now();
let broker: OAuthTestBroker;
let client: ManualClient;

beforeAll(async () => {
  broker = await startOAuthBroker({
    testbed: sharedTestbed(),
    clock: () => now,
    env: {
      FJMCP_TRUST_PROXY: 'true',
      FJMCP_OAUTH_RATE_PER_MIN: String(RATE),
      FJMCP_MAX_PENDING_AUTHORIZATIONS_PER_IP: String(PER_IP),
      FJMCP_MAX_PENDING_AUTHORIZATIONS: String(TOTAL),
    },
  });
  client = await registerTestClient(broker.url, ['https://app.example.test/cb']);
});
afterAll(async () => broker?.stop());

const from = (ip: string) => ({ 'x-forwarded-for': ip });
const metrics = () => broker.metrics.registry.metrics();
const authorize = (ip: string) => fetch(authorizeUrl(broker.url, client, pkcePair().challenge), { headers: from(ip), redirect: 'manual' });
const token = (ip: string) =>
  fetch(`${broker.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...from(ip) },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: 'nope', client_id: client.clientId, redirect_uri: client.redirectUri, code_verifier: 'x'.repeat(43) }),
  });

describe('per client IP rate limits on the OAuth endpoints (FJMCP_OAUTH_RATE_PER_MIN)', () => {
  it('/token: beyond the rate, 429 with Retry-After and an RFC 6749 §5.2 JSON error; other addresses unaffected; recovers after the window', async () => {
    for (let i = 0; i < RATE; i++) expect((await token('192.0.2.10')).status).toBe(400); // invalid_grant: counted, not limited
    const limited = await token('192.0.2.10');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect(limited.headers.get('content-type')).toContain('application/json');
    expect(limited.headers.get('cache-control')).toBe('no-store');
    expect(await limited.json()).toEqual({ error: 'temporarily_unavailable', error_description: expect.stringMatching(/too many requests from this address; retry in \d+ s/) });
    expect((await token('192.0.2.11')).status).toBe(400);
    now += 61_000;
    expect((await token('192.0.2.10')).status).toBe(400);
    expect(await metrics()).toContain('fjmcp_rate_limit_refusals_total{endpoint="/token"} 1');
  });

  it('/register: 429 with a JSON error body and CORS headers', async () => {
    const reg = () =>
      fetch(`${broker.url}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: 'https://inspector.example', ...from('192.0.2.20') },
        body: JSON.stringify({ redirect_uris: ['https://x.example/cb'], token_endpoint_auth_method: 'none' }),
      });
    for (let i = 0; i < RATE; i++) expect((await reg()).status).toBe(201);
    const limited = await reg();
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(limited.headers.get('access-control-allow-origin')).toBe('*');
    expect(((await limited.json()) as { error: string }).error).toBe('temporarily_unavailable');
  });

  it.each([
    ['/consent', (ip: string) => fetch(`${broker.url}/consent`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...from(ip) }, body: 'tx=tx_nope&csrf=x&decision=approve', redirect: 'manual' })],
    ['/oauth/callback', (ip: string) => fetch(`${broker.url}/oauth/callback?state=nope&code=nope`, { headers: from(ip), redirect: 'manual' })],
    ['/authorize', (ip: string) => fetch(`${broker.url}/authorize?client_id=nope`, { headers: from(ip), redirect: 'manual' })],
  ])('%s: beyond the rate, an HTML page with 429 and Retry-After', async (path, call) => {
    const ip = `198.51.100.${path.length}`;
    for (let i = 0; i < RATE; i++) expect((await call(ip)).status).not.toBe(429);
    const limited = await call(ip);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(limited.headers.get('content-type')).toContain('text/html');
    expect(await limited.text()).toContain('Too many requests from your network address');
    expect(await metrics()).toContain(`fjmcp_rate_limit_refusals_total{endpoint="${path}"} 1`);
  });
});

describe('/authorize does not grow the database without bound', () => {
  it('caps pending authorizations per IP: the next one goes back to the client as temporarily_unavailable and stores nothing', async () => {
    now += 61_000; // fresh rate windows
    const ip = '203.0.113.1';
    const before = await broker.store.transactions.countPending(now);
    for (let i = 0; i < PER_IP; i++) expect((await authorize(ip)).status).toBe(200); // the consent page
    expect(await broker.store.transactions.countPending(now)).toBe(before + PER_IP);
    const refused = await authorize(ip);
    expect(refused.status).toBe(302);
    const back = new URL(refused.headers.get('location')!);
    expect(back.origin + back.pathname).toBe(client.redirectUri);
    expect(back.searchParams.get('error')).toBe('temporarily_unavailable');
    expect(back.searchParams.get('error_description')).toMatch(/too many sign-ins in progress from this address/);
    expect(await broker.store.transactions.countPending(now)).toBe(before + PER_IP);
    expect((await authorize('203.0.113.2')).status).toBe(200); // another address is not affected
  });

  it('caps pending authorizations in total; expired ones no longer count', async () => {
    // 4 pending so far (3 + 1); one more fits, then the store is full for everyone.
    expect((await authorize('203.0.113.3')).status).toBe(200);
    expect(await broker.store.transactions.countPending(now)).toBe(TOTAL);
    const refused = await authorize('203.0.113.4');
    expect(refused.status).toBe(302);
    expect(new URL(refused.headers.get('location')!).searchParams.get('error')).toBe('temporarily_unavailable');
    expect(await broker.store.transactions.countPending(now)).toBe(TOTAL);

    now += TTL_MS + 1_000; // every transaction expired: none counts any more
    expect((await authorize('203.0.113.1')).status).toBe(200);
    expect(await broker.store.transactions.countPending(now)).toBe(1);
  });

  it('the reaper deletes expired transactions', async () => {
    now += TTL_MS + 1_000;
    expect(await broker.store.transactions.countPending(now)).toBe(0);
    expect(await broker.as.reap()).toBeGreaterThanOrEqual(1);
    expect(await broker.store.transactions.countPending(0)).toBe(0); // no row left at all
  });
});
