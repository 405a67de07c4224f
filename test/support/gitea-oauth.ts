/**
 * @module test/support/gitea-oauth — sign a test-bed user in to Gitea as an OAuth 2.0
 * confidential client (oauth4webapi, authorization code + S256 PKCE, RFC 6749 §4.1 /
 * RFC 7636), with the headless browser playing the user. Gives tests real forge tokens.
 */
import * as oauth from 'oauth4webapi';
import { giteaAuthorize, HeadlessBrowser, type GiteaAuthorizeResult } from './headless-browser.js';
import type { Testbed, TestbedUser } from './testbed.js';

/** oauth4webapi options for the plain-http loopback Gitea. */
export const insecure = { [oauth.allowInsecureRequests]: true } as const;

/** Gitea's authorization-server metadata via OIDC discovery (`/.well-known/openid-configuration`). */
export async function giteaAuthServer(tb: Pick<Testbed, 'giteaUrl'>): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(tb.giteaUrl);
  return oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...insecure }));
}

export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
  redirectUri: string;
}

export interface SignInResult {
  tokens: oauth.TokenEndpointResponse;
  /** The browser (its jar holds the Gitea session of the user). */
  browser: HeadlessBrowser;
  authorize: GiteaAuthorizeResult;
}

/**
 * Runs the whole authorization-code flow for `user` against the test-bed's (or the given)
 * confidential client: authorize URL with state + S256 challenge, Gitea login and grant,
 * callback validation, code exchange with client_secret_post and the PKCE verifier.
 * Pass `browser` to reuse a signed-in session. Scope defaults to none (⇒ full access on Gitea).
 * @throws oauth4webapi errors (AuthorizationResponseError, ResponseBodyError) as they come.
 */
export async function signInWithGitea(
  tb: Testbed,
  user: TestbedUser,
  opts: { client?: ClientCredentials; browser?: HeadlessBrowser; scope?: string; as?: oauth.AuthorizationServer } = {},
): Promise<SignInResult> {
  const as = opts.as ?? (await giteaAuthServer(tb));
  const cred = opts.client ?? { clientId: tb.oauthClientId, clientSecret: tb.oauthClientSecret, redirectUri: tb.redirectUri };
  const client: oauth.Client = { client_id: cred.clientId };
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const url = new URL(as.authorization_endpoint!);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: cred.clientId,
    redirect_uri: cred.redirectUri,
    state,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    ...(opts.scope ? { scope: opts.scope } : {}),
  }).toString();
  const browser = opts.browser ?? new HeadlessBrowser();
  const authorize = await giteaAuthorize(browser, url.href, { giteaUrl: tb.giteaUrl, user: tb.users[user] });
  const params = oauth.validateAuthResponse(as, client, new URL(authorize.location), state);
  const res = await oauth.authorizationCodeGrantRequest(
    as, client, oauth.ClientSecretPost(cred.clientSecret), params, cred.redirectUri, verifier, insecure,
  );
  const tokens = await oauth.processAuthorizationCodeResponse(as, client, res);
  return { tokens, browser, authorize };
}

/** Refreshes with client_secret_post (RFC 6749 §6); throws oauth.ResponseBodyError on a 400. */
export async function refreshAtGitea(
  tb: Testbed,
  refreshToken: string,
  opts: { client?: ClientCredentials; as?: oauth.AuthorizationServer } = {},
): Promise<oauth.TokenEndpointResponse> {
  const as = opts.as ?? (await giteaAuthServer(tb));
  const cred = opts.client ?? { clientId: tb.oauthClientId, clientSecret: tb.oauthClientSecret, redirectUri: tb.redirectUri };
  const client: oauth.Client = { client_id: cred.clientId };
  const res = await oauth.refreshTokenGrantRequest(as, client, oauth.ClientSecretPost(cred.clientSecret), refreshToken, insecure);
  return oauth.processRefreshTokenResponse(as, client, res);
}

/** `GET /api/v1{path}` with `Authorization: Bearer token`; returns status and parsed JSON (or text). */
export async function giteaApi(tb: Pick<Testbed, 'giteaUrl'>, token: string, path: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${tb.giteaUrl}/api/v1${path}`, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' } });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body };
}
