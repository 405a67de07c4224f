/**
 * The authorization endpoint and the broker's consent, against the real Gitea test bed: client
 * and exact redirect URI are checked first and their errors are local pages, never redirects
 * (RFC 6749 §4.1.2.1); PKCE S256 and the resource are required; consent needs the transaction's
 * `__Host-` cookie and CSRF token; the forge callback needs a state the broker issued and the same
 * browser; the allowlist fails closed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  answerBrokerConsent, authorizeUrl, isBrokerConsentPage, pkcePair, registerTestClient, signInThroughBroker, tokenRequest,
  type ManualClient,
} from '../support/broker-consent.js';
import { HeadlessBrowser } from '../support/headless-browser.js';
import { startOAuthBroker, type OAuthTestBroker } from '../support/oauth-broker.js';
import { sharedTestbed } from '../support/testbed.js';

const tb = sharedTestbed();
let broker: OAuthTestBroker;
let claudeLike: ManualClient;
let loopback: ManualClient;
const CLAUDE_CB = 'https://claude.ai/api/mcp/auth_callback';

beforeAll(async () => {
  broker = await startOAuthBroker({ testbed: tb });
  claudeLike = await registerTestClient(broker.url, [CLAUDE_CB]);
  loopback = await registerTestClient(broker.url, ['http://127.0.0.1/callback']);
});
afterAll(async () => broker?.stop());

const get = (url: string, browser = new HeadlessBrowser()) => browser.request(url);

describe('client and redirect URI come first; their errors never redirect (RFC 6749 §4.1.2.1)', () => {
  it.each([
    ['look-alike host', 'https://claude.ai.evil.example/api/mcp/auth_callback'],
    ['userinfo', 'https://claude.ai@evil.example/api/mcp/auth_callback'],
    ['fragment', `${CLAUDE_CB}#x`],
    ['other scheme (http)', 'http://claude.ai/api/mcp/auth_callback'],
    ['other scheme (javascript)', 'javascript:alert(1)'],
    ['trailing slash', `${CLAUDE_CB}/`],
    ['extra path', `${CLAUDE_CB}/../evil`],
    ['added query', `${CLAUDE_CB}?x=1`],
  ])('refuses an unregistered redirect URI (%s) with a local error page', async (_name, redirect) => {
    const page = await get(authorizeUrl(broker.url, claudeLike, pkcePair().challenge, { redirect_uri: redirect }));
    expect(page.status).toBe(400);
    expect(page.location).toBeUndefined();
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.body).toContain('redirect_uri is not registered');
  });

  it('refuses an unknown client_id with a local error page, even with a valid-looking redirect', async () => {
    const page = await get(authorizeUrl(broker.url, { clientId: 'mcpb_c_nope', redirectUri: CLAUDE_CB }, pkcePair().challenge));
    expect(page.status).toBe(400);
    expect(page.location).toBeUndefined();
  });

  it('refuses a duplicated parameter with a local error page (RFC 6749 §3.1)', async () => {
    const url = authorizeUrl(broker.url, claudeLike, pkcePair().challenge) + `&redirect_uri=${encodeURIComponent('https://evil.example/cb')}`;
    const page = await get(url);
    expect(page.status).toBe(400);
    expect(page.location).toBeUndefined();
  });

  it('accepts a registered loopback redirect URI on any port (RFC 8252 §7.3) but not a userinfo trick', async () => {
    const ok = await get(authorizeUrl(broker.url, loopback, pkcePair().challenge, { redirect_uri: 'http://127.0.0.1:45678/callback' }));
    expect(ok.status).toBe(200);
    expect(isBrokerConsentPage(ok)).toBe(true);
    const trick = await get(authorizeUrl(broker.url, loopback, pkcePair().challenge, { redirect_uri: 'http://127.0.0.1:80@evil.example/callback' }));
    expect(trick.status).toBe(400);
    expect(trick.location).toBeUndefined();
  });
});

describe('request errors after validation go back to the client with state and iss (RFC 6749 §4.1.2.1, RFC 9207)', () => {
  it.each([
    ['missing PKCE', { code_challenge: undefined, code_challenge_method: undefined }, 'invalid_request'],
    ['plain PKCE', { code_challenge_method: 'plain' }, 'invalid_request'],
    ['PKCE method omitted (means plain)', { code_challenge_method: undefined }, 'invalid_request'],
    ['another resource', { resource: 'https://other.example/mcp' }, 'invalid_target'],
    ['implicit flow', { response_type: 'token' }, 'unsupported_response_type'],
  ])('refuses %s', async (_name, overrides, error) => {
    const page = await get(authorizeUrl(broker.url, claudeLike, pkcePair().challenge, { state: 's-123', ...overrides }));
    expect(page.status).toBe(302);
    const loc = new URL(page.location!);
    expect(`${loc.origin}${loc.pathname}`).toBe(CLAUDE_CB);
    expect(loc.searchParams.get('error')).toBe(error);
    expect(loc.searchParams.get('state')).toBe('s-123');
    expect(loc.searchParams.get('iss')).toBe(broker.url);
  });

  it('accepts odd scopes leniently and a request without scope or resource', async () => {
    for (const o of [{ scope: ' offline_access claudeai read write' }, { scope: undefined, resource: undefined }]) {
      const page = await get(authorizeUrl(broker.url, claudeLike, pkcePair().challenge, o));
      expect(page.status).toBe(200);
    }
  });
});

describe('consent page', () => {
  it('is framed by nothing, cached by nobody, and binds the browser with a per-transaction __Host- cookie', async () => {
    const page = await get(authorizeUrl(broker.url, claudeLike, pkcePair().challenge));
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('cache-control')).toBe('no-store');
    const cookie = page.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^__Host-fjmcp_tx_tx_[A-Za-z0-9_-]+=[A-Za-z0-9_-]+; Max-Age=\d+; Path=\/; Secure; HttpOnly; SameSite=Lax$/);
    expect(page.body).toContain('claude.ai');
    expect(page.body).toContain('unverified name');
    expect(page.body).toContain('Full account access');
  });

  it('escapes a hostile client_name', async () => {
    const evil = await registerTestClient(broker.url, [CLAUDE_CB], { client_name: '<script>alert(1)</script><img src=x>' });
    const page = await get(authorizeUrl(broker.url, evil, pkcePair().challenge));
    expect(page.body).not.toContain('<script>alert(1)');
    expect(page.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it('refuses consent without its cookie (another browser) and with a wrong CSRF token, without redirecting', async () => {
    const browser = new HeadlessBrowser();
    const page = await get(authorizeUrl(broker.url, claudeLike, pkcePair().challenge), browser);
    const stranger = new HeadlessBrowser();
    const noCookie = await answerBrokerConsent(stranger, page, 'approve', () => true);
    expect(noCookie.status).toBe(403);
    expect(noCookie.location).toBeUndefined();
    const form = browser.forms(page).find((f) => f.action.endsWith('/consent'))!;
    const badCsrf = await browser.request(form.action, { method: 'POST', body: new URLSearchParams({ tx: form.fields.find(([k]) => k === 'tx')![1], csrf: 'forged', decision: 'approve' }) });
    expect(badCsrf.status).toBe(403);
    expect(badCsrf.location).toBeUndefined();
    const noCsrf = await browser.request(form.action, { method: 'POST', body: new URLSearchParams({ tx: form.fields.find(([k]) => k === 'tx')![1], decision: 'approve' }) });
    expect(noCsrf.status).toBe(403);
    expect(broker.logLines.some((l) => l.includes('"event":"request.refused"') && l.includes('"endpoint":"consent"'))).toBe(true);
    // The genuine browser can still decide.
    const real = await answerBrokerConsent(browser, page, 'approve', () => true);
    expect(real.status).toBe(303);
    expect(new URL(real.location!).origin).toBe(new URL(tb.giteaUrl).origin);
  });

  it('deny sends access_denied with state and iss back to the client (RFC 6749 §4.1.2.1, RFC 9207)', async () => {
    const r = await signInThroughBroker(tb, broker.url, authorizeUrl(broker.url, claudeLike, pkcePair().challenge, { state: 'deny-me' }), 'alice', { decision: 'deny' });
    expect(r.location.searchParams.get('error')).toBe('access_denied');
    expect(r.location.searchParams.get('state')).toBe('deny-me');
    expect(r.location.searchParams.get('iss')).toBe(broker.url);
  });

  it('parallel sign-ins in one browser do not clobber each other (one cookie per transaction)', async () => {
    const browser = new HeadlessBrowser();
    const a = pkcePair();
    const b = pkcePair();
    const pageA = await get(authorizeUrl(broker.url, loopback, a.challenge, { state: 'A' }), browser);
    const pageB = await get(authorizeUrl(broker.url, loopback, b.challenge, { state: 'B' }), browser);
    expect(isBrokerConsentPage(pageA) && isBrokerConsentPage(pageB)).toBe(true);
    // Approve A on its (older) page after B was opened: both transactions are still bound.
    const afterA = await answerBrokerConsent(browser, pageA, 'approve', () => true);
    const afterB = await answerBrokerConsent(browser, pageB, 'approve', () => true);
    expect(afterA.status).toBe(303);
    expect(afterB.status).toBe(303);
    expect(new URL(afterA.location!).searchParams.get('state')).not.toBe(new URL(afterB.location!).searchParams.get('state'));
  });
});

describe('forge callback', () => {
  /** Approves consent in `browser` and returns the forge authorization URL (not followed). */
  async function approveUpTo(browser: HeadlessBrowser): Promise<URL> {
    const page = await get(authorizeUrl(broker.url, claudeLike, pkcePair().challenge), browser);
    const after = await answerBrokerConsent(browser, page, 'approve', () => true);
    return new URL(after.location!);
  }

  it('refuses a callback with a foreign state with a local error page', async () => {
    const browser = new HeadlessBrowser();
    await approveUpTo(browser);
    const page = await browser.request(`${broker.url}/oauth/callback?code=gta_x&state=not-ours`);
    expect(page.status).toBe(400);
    expect(page.location).toBeUndefined();
  });

  it('refuses a callback with the right state in another browser (consent↔callback binding)', async () => {
    const browser = new HeadlessBrowser();
    const forgeUrl = await approveUpTo(browser);
    const state = forgeUrl.searchParams.get('state')!;
    const page = await new HeadlessBrowser().request(`${broker.url}/oauth/callback?code=gta_x&state=${encodeURIComponent(state)}`);
    expect(page.status).toBe(403);
    expect(page.location).toBeUndefined();
  });

  it('sends the forge its own fresh state and S256 challenge, never the client\'s', async () => {
    const browser = new HeadlessBrowser();
    const forgeUrl = await approveUpTo(browser);
    expect(forgeUrl.searchParams.get('code_challenge_method')).toBe('S256');
    expect(forgeUrl.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(forgeUrl.searchParams.get('redirect_uri')).toBe(`${broker.url}/oauth/callback`);
  });

  it('a used state cannot complete a second time', async () => {
    const client = await registerTestClient(broker.url, ['http://127.0.0.1:53999/cb']);
    const { challenge } = pkcePair();
    const r = await signInThroughBroker(tb, broker.url, authorizeUrl(broker.url, client, challenge), 'alice');
    expect(r.location.searchParams.get('code')).toBeTruthy();
    const cb = r.browser.history.find((p) => p.url.startsWith(`${broker.url}/oauth/callback`))!;
    const again = await r.browser.request(cb.url);
    expect(again.status).toBe(400);
    expect(again.location).toBeUndefined();
  });
});

describe('allowlist (fails closed)', () => {
  let restricted: OAuthTestBroker;
  beforeAll(async () => {
    restricted = await startOAuthBroker({ testbed: tb, env: { FJMCP_ALLOWED_USERS: tb.users.alice.login, FJMCP_ALLOWED_ORGS: tb.org } });
  });
  afterAll(async () => restricted?.stop());

  it('refuses a person outside the allowed users and organisations with access_denied', async () => {
    const client = await registerTestClient(restricted.url, ['http://127.0.0.1:53999/cb']);
    const { verifier, challenge } = pkcePair();
    const r = await signInThroughBroker(tb, restricted.url, authorizeUrl(restricted.url, client, challenge, { state: 'carol' }), 'carol');
    expect(r.location.searchParams.get('error')).toBe('access_denied');
    expect(r.location.searchParams.get('state')).toBe('carol');
    expect(r.location.searchParams.get('code')).toBeNull();
    void verifier;
  });

  it('admits a listed user and a member of a listed organisation', async () => {
    for (const user of ['alice', 'bob'] as const) {
      const client = await registerTestClient(restricted.url, ['http://127.0.0.1:53999/cb']);
      const { verifier, challenge } = pkcePair();
      const r = await signInThroughBroker(tb, restricted.url, authorizeUrl(restricted.url, client, challenge), user);
      const code = r.location.searchParams.get('code');
      expect(code, r.location.href).toBeTruthy();
      const t = await tokenRequest(restricted.url, { grant_type: 'authorization_code', code: code!, code_verifier: verifier, client_id: client.clientId });
      expect(t.status).toBe(200);
    }
  });
});
