/**
 * @module test/support/forge-signin — drives the broker's forge client (src/upstream) through a
 * real test-bed Gitea sign-in: the broker's authorization URL, Gitea's login and consent pages
 * in the headless browser, and the code taken from the redirect to `${issuer}/oauth/callback`
 * (not followed). Also the Gitea-side levers the forge tests pull: revoking a grant.
 */
import { randomBytes } from 'node:crypto';
import { loadConfig, type Config, type Env } from '../../src/config.js';
import { pkceS256, randomToken } from '../../src/lib/crypto.js';
import { silentLogger, type Logger } from '../../src/ops/log.js';
import { createForgeClient } from '../../src/upstream/forge-client.js';
import type { ForgeClient, ForgeIdentity, ForgeTokenSet } from '../../src/upstream/types.js';
import { giteaAuthorize, HeadlessBrowser } from './headless-browser.js';
import { createOAuthApp, oauthAppId, type Testbed, type TestbedUser } from './testbed.js';

/** The broker's public URL in these tests; nothing listens there (the callback is not followed). */
export const BROKER_URL = 'http://127.0.0.1:9';

/** A confidential Gitea app for the broker (callback `${BROKER_URL}/oauth/callback`) and a Config for it. */
export async function forgeTestConfig(tb: Testbed, env: Env = {}): Promise<Config & { forgeAppId: number }> {
  const app = await createOAuthApp(tb, { redirectUris: [`${BROKER_URL}/oauth/callback`] });
  const config = loadConfig({
    FJMCP_PUBLIC_URL: BROKER_URL,
    FJMCP_FORGE_URL: tb.giteaUrl,
    FJMCP_FORGE_CLIENT_ID: app.clientId,
    FJMCP_FORGE_CLIENT_SECRET: app.clientSecret,
    FJMCP_ENCRYPTION_KEYS: randomBytes(32).toString('base64'),
    ...env,
  });
  return { ...config, forgeAppId: await oauthAppId(tb, app.clientId) };
}

export function testForgeClient(config: Config, opts: { clock?: () => number; log?: Logger } = {}): ForgeClient {
  return createForgeClient({ config, log: opts.log ?? silentLogger, ...(opts.clock ? { clock: opts.clock } : {}) });
}

export interface SignedIn {
  identity: ForgeIdentity;
  tokens: ForgeTokenSet;
  /** The browser with the person's Gitea web session (for revoking their grant). */
  browser: HeadlessBrowser;
  /** Where Gitea redirected (never fetched). */
  callback: URL;
}

/**
 * One sign-in of `user` with the broker's forge client: authorization URL (S256 PKCE, state),
 * Gitea login + consent in the headless browser, then code exchange and `identify`.
 * @throws Error when Gitea does not redirect to the broker callback with the same state and a code.
 */
export async function signInThroughGitea(forge: ForgeClient, tb: Testbed, user: TestbedUser, browser = new HeadlessBrowser()): Promise<SignedIn> {
  const verifier = randomToken('', 32);
  const state = randomToken('', 16);
  const url = forge.authorizationUrl({ state, codeChallenge: pkceS256(verifier) });
  const r = await giteaAuthorize(browser, url.href, { giteaUrl: tb.giteaUrl, user: tb.users[user] });
  const callback = new URL(r.location);
  const code = callback.searchParams.get('code');
  if (callback.origin + callback.pathname !== `${BROKER_URL}/oauth/callback` || callback.searchParams.get('state') !== state || !code) {
    throw new Error(`Gitea did not return a code to the broker callback: ${callback.href.replace(/code=[^&]+/, 'code=…')}`);
  }
  const tokens = await forge.exchangeCode({ code, codeVerifier: verifier });
  const identity = await forge.identify(tokens.accessToken);
  return { identity, tokens, browser, callback };
}

/** The Gitea grant id (`gnt` claim) inside a Gitea OAuth2 access token (forge-facts §4). */
export function grantIdOf(accessToken: string): number {
  const payload = JSON.parse(Buffer.from(accessToken.split('.')[1] ?? '', 'base64url').toString('utf8')) as { gnt?: number };
  if (typeof payload.gnt !== 'number') throw new Error('token carries no gnt claim');
  return payload.gnt;
}

/**
 * Revokes the person's grant for the app the way they would in Gitea 1.26's settings page
 * ("Authorized OAuth2 Applications" → Revoke): `POST /user/settings/applications/oauth2/{app}/revoke/{grant}`
 * with their web session (routers/web/web.go; no API route exists for it).
 */
export async function revokeGrantInGitea(tb: Testbed, browser: HeadlessBrowser, appId: number, grantId: number): Promise<void> {
  const page = await browser.request(`${tb.giteaUrl}/user/settings/applications/oauth2/${appId}/revoke/${grantId}`, { method: 'POST' });
  if (page.status !== 200) throw new Error(`revoking grant ${grantId} failed: HTTP ${page.status} ${page.body.slice(0, 200)}`);
}
