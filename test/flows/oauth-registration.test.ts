/**
 * Dynamic client registration (RFC 7591) hardened against spam: redirect URIs parsed with the
 * WHATWG parser (https, or http on loopback; no userinfo, no fragment), a body size cap, a per-IP
 * rate limit, a cap on clients with unused ones evicted first, and reaping of clients that never
 * got a grant.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizeUrl, pkcePair, registerTestClient, signInManually } from '../support/broker-consent.js';
import { startOAuthBroker, type OAuthTestBroker } from '../support/oauth-broker.js';
import { sharedTestbed } from '../support/testbed.js';

const tb = sharedTestbed();
let broker: OAuthTestBroker;
let offsetMs = 0;
beforeAll(async () => {
  broker = await startOAuthBroker({ testbed: tb, clock: () => Date.now() + offsetMs });
});
afterAll(async () => broker?.stop());

const register = (body: unknown, url = broker.url) =>
  fetch(`${url}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });

describe('registration (RFC 7591 §3)', () => {
  it('registers a public client and answers 201 with the effective metadata', async () => {
    const res = await register({ client_name: 'Inspector', redirect_uris: ['http://localhost:6274/oauth/callback'], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:jwt-bearer'] });
    expect(res.status).toBe(201);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.client_id).toMatch(/^mcpb_c_/);
    expect(body.client_secret).toBeUndefined();
    expect(body.grant_types).toEqual(['authorization_code', 'refresh_token']);
  });

  it('issues a secret (stored hashed) to a confidential client, which authenticates with Basic at /revoke', async () => {
    const res = await register({ redirect_uris: ['https://app.example/cb'] });
    const body = (await res.json()) as { client_id: string; client_secret: string; token_endpoint_auth_method: string };
    expect(body.token_endpoint_auth_method).toBe('client_secret_basic');
    expect(body.client_secret).toMatch(/^mcpb_cs_/);
    const basic = (secret: string) => `Basic ${Buffer.from(`${body.client_id}:${secret}`).toString('base64')}`;
    const revoke = (secret: string) => fetch(`${broker.url}/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(secret) }, body: 'token=x' });
    expect((await revoke(body.client_secret)).status).toBe(200);
    const bad = await revoke('wrong');
    expect(bad.status).toBe(401);
    expect(((await bad.json()) as { error: string }).error).toBe('invalid_client');
  });

  it.each([
    ['userinfo', 'https://claude.ai@evil.example/cb'],
    ['fragment', 'https://app.example/cb#frag'],
    ['javascript scheme', 'javascript:alert(1)'],
    ['custom scheme', 'cursor://callback'],
    ['http off loopback', 'http://app.example/cb'],
    ['relative', '/cb'],
  ])('refuses a redirect URI with %s (invalid_redirect_uri)', async (_name, uri) => {
    const res = await register({ redirect_uris: [uri], token_endpoint_auth_method: 'none' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_redirect_uri');
  });

  it('refuses bodies over 16 KiB, non-JSON bodies and missing redirect URIs', async () => {
    const big = await register({ redirect_uris: ['https://app.example/cb'], client_name: 'x', software_statement: 'y'.repeat(17_000) });
    expect(big.status).toBe(413);
    expect((await register('not json')).status).toBe(400);
    const none = await register({ client_name: 'no redirects' });
    expect(((await none.json()) as { error: string }).error).toBe('invalid_redirect_uri');
  });

  it('reaps clients that never obtained a grant after 24 h, and keeps those that did', async () => {
    const unused = await registerTestClient(broker.url, ['http://127.0.0.1/cb']);
    const used = (await signInManually(tb, broker.url, 'alice')).client;
    offsetMs += 25 * 3600_000;
    try {
      await broker.as.reap();
      const gone = await fetch(authorizeUrl(broker.url, unused, pkcePair().challenge));
      expect(gone.status).toBe(400);
      const kept = await fetch(authorizeUrl(broker.url, used, pkcePair().challenge));
      expect(kept.status).toBe(200);
    } finally {
      offsetMs -= 25 * 3600_000;
    }
  });
});

describe('limits', () => {
  it('rate-limits registrations per client IP with 429 and Retry-After', async () => {
    const limited = await startOAuthBroker({ testbed: tb, env: { FJMCP_REGISTRATION_RATE_PER_MIN: '3' } });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 4; i++) codes.push((await register({ redirect_uris: ['https://app.example/cb'], token_endpoint_auth_method: 'none' }, limited.url)).status);
      expect(codes).toEqual([201, 201, 201, 429]);
      const res = await register({ redirect_uris: ['https://app.example/cb'] }, limited.url);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await limited.stop();
    }
  });

  it('caps the number of clients: unused ones are evicted first; when all hold grants, 503', async () => {
    const capped = await startOAuthBroker({ testbed: tb, env: { FJMCP_MAX_CLIENTS: '2' } });
    try {
      const a = (await signInManually(tb, capped.url, 'alice')).client; // holds a grant
      const b = await registerTestClient(capped.url, ['http://127.0.0.1/cb']);
      const c = await registerTestClient(capped.url, ['http://127.0.0.1/cb']); // evicts b
      expect((await fetch(authorizeUrl(capped.url, b, pkcePair().challenge))).status).toBe(400);
      expect((await fetch(authorizeUrl(capped.url, a, pkcePair().challenge))).status).toBe(200);
      expect((await fetch(authorizeUrl(capped.url, c, pkcePair().challenge))).status).toBe(200);
      const d = (await signInManually(tb, capped.url, 'bob')).client; // evicts c, then holds a grant
      expect(d.clientId).toMatch(/^mcpb_c_/);
      const full = await register({ redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'none' }, capped.url);
      expect(full.status).toBe(503);
    } finally {
      await capped.stop();
    }
  });
});
