/**
 * @module test/support/broker-consent — drives the broker's own consent page in the headless
 * browser, and a whole sign-in: broker `/authorize` → consent → Gitea login and grant → broker
 * `/oauth/callback` → the client's redirect URI (returned, not fetched).
 */
import { createHash, randomBytes } from 'node:crypto';
import { findForm, giteaAuthorize, HeadlessBrowser, type Page } from './headless-browser.js';
import type { Testbed, TestbedUser } from './testbed.js';

/** True when the page is the broker's consent page. */
export function isBrokerConsentPage(page: Page): boolean {
  return page.status === 200 && /<form[^>]+action="\/consent"/.test(page.body);
}

/** Presses Approve or Deny on the broker's consent page; returns the next page (redirects followed while `stopWhen` allows). */
export async function answerBrokerConsent(
  browser: HeadlessBrowser,
  page: Page,
  decision: 'approve' | 'deny',
  stopWhen?: (url: string) => boolean,
): Promise<Page> {
  const form = findForm(page.body, page.url, (f) => new URL(f.action).pathname === '/consent');
  const submitter = form.submitters.find((s) => s.name === 'decision' && s.value === decision);
  if (!submitter) throw new Error(`consent page has no ${decision} button`);
  return browser.submit(form, {}, { submitter, ...(stopWhen ? { stopWhen } : {}) });
}

export interface SignInResult {
  /** The redirect to the client (code or error), not fetched. */
  location: URL;
  consentPage: Page;
  browser: HeadlessBrowser;
}

/**
 * A person signs in through the broker: opens `authorizationUrl`, approves the broker's consent,
 * signs in to Gitea as `user` and approves there, and lands on the client's redirect URI.
 */
export async function signInThroughBroker(
  tb: Testbed,
  brokerUrl: string,
  authorizationUrl: string | URL,
  user: TestbedUser,
  opts: { browser?: HeadlessBrowser; decision?: 'approve' | 'deny' } = {},
): Promise<SignInResult> {
  const browser = opts.browser ?? new HeadlessBrowser();
  const brokerOrigin = new URL(brokerUrl).origin;
  const inKnown = (u: string) => [brokerOrigin, new URL(tb.giteaUrl).origin].includes(new URL(u).origin);
  const first = await browser.follow(String(authorizationUrl), { stopWhen: (u) => !inKnown(u) });
  if (!isBrokerConsentPage(first)) throw new Error(`expected the broker consent page, got ${first.status} ${first.body.slice(0, 300)}`);
  const decision = opts.decision ?? 'approve';
  if (decision === 'deny') {
    const page = await answerBrokerConsent(browser, first, 'deny', (u) => !inKnown(u));
    return { location: new URL(page.location!), consentPage: first, browser };
  }
  const afterConsent = await answerBrokerConsent(browser, first, 'approve', (u) => new URL(u).origin === new URL(tb.giteaUrl).origin || !inKnown(u));
  if (!afterConsent.location) throw new Error(`consent did not redirect: ${afterConsent.status} ${afterConsent.body.slice(0, 300)}`);
  const g = await giteaAuthorize(browser, afterConsent.location, { giteaUrl: tb.giteaUrl, user: tb.users[user] });
  // Gitea sends the browser to the broker's callback; the broker redirects to the client.
  const cb = await browser.follow(g.location, { stopWhen: (u) => !inKnown(u) });
  if (!cb.location) {
    // The page's text, not its markup: what a person would read.
    const text = cb.body.replace(/<(style|script)[\s\S]*?<\/\1>/g, '').replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim();
    throw new Error(`broker callback did not redirect: ${cb.status} ${text.slice(0, 600)}`);
  }
  return { location: new URL(cb.location), consentPage: first, browser };
}

/** A registered test client with a PKCE pair ready for one authorization request. */
export interface ManualClient {
  clientId: string;
  clientSecret?: string;
  redirectUri: string;
}

/** `POST /register` (RFC 7591) with a public client by default. @throws when not 201. */
export async function registerTestClient(
  brokerUrl: string,
  redirectUris: string[],
  extra: Record<string, unknown> = {},
): Promise<ManualClient> {
  const res = await fetch(`${brokerUrl}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'manual test client', redirect_uris: redirectUris, token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], ...extra }),
  });
  const body = (await res.json()) as { client_id: string; client_secret?: string };
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(body)}`);
  return { clientId: body.client_id, ...(body.client_secret ? { clientSecret: body.client_secret } : {}), redirectUri: redirectUris[0]! };
}

/** A PKCE S256 pair. */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** The broker's `/authorize` URL with sensible defaults; `undefined` in `overrides` removes a parameter. */
export function authorizeUrl(brokerUrl: string, c: ManualClient, challenge: string, overrides: Record<string, string | undefined> = {}): string {
  const u = new URL(`${brokerUrl}/authorize`);
  const params: Record<string, string | undefined> = {
    response_type: 'code',
    client_id: c.clientId,
    redirect_uri: c.redirectUri,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: 'st-' + randomBytes(6).toString('hex'),
    resource: `${brokerUrl}/mcp`,
    scope: 'mcp',
    ...overrides,
  };
  for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, v);
  return u.href;
}

/** `POST /token` with form parameters; returns status and JSON body. */
export async function tokenRequest(brokerUrl: string, params: Record<string, string>, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${brokerUrl}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(params).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

/** Registers a client, signs `user` in through consent and Gitea, and exchanges the code. */
export async function signInManually(
  tb: Testbed,
  brokerUrl: string,
  user: TestbedUser,
  redirectUri = 'http://127.0.0.1:53999/cb',
): Promise<{ client: ManualClient; tokens: { access_token: string; refresh_token: string }; browser: HeadlessBrowser }> {
  const client = await registerTestClient(brokerUrl, [redirectUri]);
  const { verifier, challenge } = pkcePair();
  const r = await signInThroughBroker(tb, brokerUrl, authorizeUrl(brokerUrl, client, challenge), user);
  const code = r.location.searchParams.get('code');
  if (!code) throw new Error(`no code: ${r.location.href}`);
  const t = await tokenRequest(brokerUrl, { grant_type: 'authorization_code', code, code_verifier: verifier, client_id: client.clientId, redirect_uri: redirectUri, resource: `${brokerUrl}/mcp` });
  if (t.status !== 200) throw new Error(`token failed: ${t.status} ${JSON.stringify(t.body)}`);
  return { client, tokens: t.body as { access_token: string; refresh_token: string }, browser: r.browser };
}

/** `POST /mcp` initialize with a bearer token; returns the status (200 means accepted). */
export async function mcpStatus(brokerUrl: string, accessToken: string | undefined, opts: { query?: string } = {}): Promise<Response> {
  return fetch(`${brokerUrl}/mcp${opts.query ?? ''}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(accessToken ? { authorization: `Bearer ${accessToken}` } : {}),
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '0' } } }),
  });
}
