/**
 * @module test/testbed/gitea-oauth-flow — the test-bed Gitea 1.26.0 as an OAuth 2.0
 * authorization server for a confidential client using oauth4webapi (no broker): discovery,
 * authorization code with S256 PKCE, consent, tokens scoped to the signed-in person.
 */
import * as oauth from 'oauth4webapi';
import { describe, expect, it } from 'vitest';
import { giteaApi, giteaAuthServer, insecure, signInWithGitea } from '../support/gitea-oauth.js';
import { giteaAuthorize, HeadlessBrowser } from '../support/headless-browser.js';
import { createOAuthApp, sharedTestbed } from '../support/testbed.js';

const REDIRECT = 'http://127.0.0.1:9/flow/callback';

describe('Gitea 1.26 OAuth2 provider with a confidential oauth4webapi client', () => {
  it('publishes discovery metadata whose issuer has no trailing slash (Gitea ≥1.25, OIDC Discovery §4.3)', async () => {
    const tb = sharedTestbed();
    const raw = (await (await fetch(`${tb.giteaUrl}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(raw.issuer).toBe(tb.giteaUrl);
    expect(raw.code_challenge_methods_supported).toEqual(expect.arrayContaining(['S256']));
    expect(raw).not.toHaveProperty('revocation_endpoint');
    expect(raw).not.toHaveProperty('registration_endpoint');
    const as = await giteaAuthServer(tb);
    expect(as.token_endpoint).toBe(`${tb.giteaUrl}/login/oauth/access_token`);
    expect(as.authorization_endpoint).toBe(`${tb.giteaUrl}/login/oauth/authorize`);
  });

  it('issues tokens for the authorization code with S256 PKCE that see alice’s private repository and not bob’s (RFC 6749 §4.1, RFC 7636 §4)', async () => {
    const tb = sharedTestbed();
    const app = await createOAuthApp(tb, { redirectUris: [REDIRECT] });
    const client = { ...app, redirectUri: REDIRECT };
    const alice = await signInWithGitea(tb, 'alice', { client });
    expect(alice.authorize.sawLogin).toBe(true);
    expect(alice.authorize.sawConsent).toBe(true);
    expect(alice.tokens.token_type.toLowerCase()).toBe('bearer');
    expect(alice.tokens.refresh_token).toBeTruthy();
    expect(alice.tokens.expires_in).toBe(3600);
    expect(alice.tokens).not.toHaveProperty('scope'); // Gitea's token response has no scope (forge-facts §4)

    const bob = await signInWithGitea(tb, 'bob', { client });
    const me = await giteaApi(tb, alice.tokens.access_token, '/user');
    expect(me).toMatchObject({ status: 200, body: { login: 'alice' } });
    expect(await giteaApi(tb, bob.tokens.access_token, '/user')).toMatchObject({ status: 200, body: { login: 'bob' } });
    expect((await giteaApi(tb, alice.tokens.access_token, '/repos/alice/alice-private')).status).toBe(200);
    expect((await giteaApi(tb, bob.tokens.access_token, '/repos/alice/alice-private')).status).toBe(404);
    expect((await giteaApi(tb, bob.tokens.access_token, '/repos/bob/bob-private')).status).toBe(200);
  });

  it('skips the consent page on a second authorization of a confidential app the user already granted (Gitea grant model)', async () => {
    const tb = sharedTestbed();
    const app = await createOAuthApp(tb, { redirectUris: [REDIRECT] });
    const client = { ...app, redirectUri: REDIRECT };
    const first = await signInWithGitea(tb, 'carol', { client });
    expect(first.authorize.sawConsent).toBe(true);
    const second = await signInWithGitea(tb, 'carol', { client, browser: first.browser });
    expect(second.authorize).toMatchObject({ sawLogin: false, sawConsent: false });
    expect(await giteaApi(tb, second.tokens.access_token, '/user')).toMatchObject({ status: 200, body: { login: 'carol' } });
  });

  it('redirects with error=access_denied and the state when the user cancels the grant (RFC 6749 §4.1.2.1)', async () => {
    const tb = sharedTestbed();
    const app = await createOAuthApp(tb, { redirectUris: [REDIRECT] });
    const url = new URL(`${tb.giteaUrl}/login/oauth/authorize`);
    url.search = new URLSearchParams({
      response_type: 'code', client_id: app.clientId, redirect_uri: REDIRECT, state: 'st-deny',
      code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()), code_challenge_method: 'S256',
    }).toString();
    const r = await giteaAuthorize(new HeadlessBrowser(), url.href, { giteaUrl: tb.giteaUrl, user: tb.users.bob, decision: 'deny' });
    const loc = new URL(r.location);
    expect(`${loc.origin}${loc.pathname}`).toBe(REDIRECT);
    expect(loc.searchParams.get('error')).toBe('access_denied');
    expect(loc.searchParams.get('state')).toBe('st-deny');
    expect(loc.searchParams.has('code')).toBe(false);
  });

  it('answers an unregistered redirect_uri with an HTML 400 page and no redirect (RFC 6749 §4.1.2.1)', async () => {
    const tb = sharedTestbed();
    const browser = new HeadlessBrowser();
    const url = `${tb.giteaUrl}/login/oauth/authorize?response_type=code&client_id=${tb.oauthClientId}` +
      `&redirect_uri=${encodeURIComponent('http://127.0.0.1:9/evil')}&state=s&code_challenge_method=S256&code_challenge=${'a'.repeat(43)}`;
    await expect(giteaAuthorize(browser, url, { giteaUrl: tb.giteaUrl, user: tb.users.alice })).rejects.toThrow(/→ 400/);
    expect(browser.history.every((p) => !p.location || new URL(p.location).origin === tb.giteaUrl)).toBe(true);
  });

  it('does not URL-decode HTTP Basic client credentials, so oauth4webapi’s form-encoded client_secret_basic fails with invalid_client (RFC 6749 §2.3.1; use client_secret_post)', async () => {
    const tb = sharedTestbed();
    const tokenUrl = `${tb.giteaUrl}/login/oauth/access_token`;
    const body = new URLSearchParams({ grant_type: 'authorization_code', code: 'gta_bogus', redirect_uri: tb.redirectUri, code_verifier: 'x'.repeat(43) });
    const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
    const formEncoded = (s: string) => encodeURIComponent(s).replace(/[-_.!~*'()]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
    const viaEncoded = await fetch(tokenUrl, { method: 'POST', body, headers: { authorization: basic(formEncoded(tb.oauthClientId), formEncoded(tb.oauthClientSecret)) } });
    expect(viaEncoded.status).toBe(400);
    expect(await viaEncoded.json()).toMatchObject({ error: 'invalid_client', error_description: expect.stringContaining('%2D') });
    const viaRaw = await fetch(tokenUrl, { method: 'POST', body, headers: { authorization: basic(tb.oauthClientId, tb.oauthClientSecret) } });
    expect(viaRaw.status).toBe(400);
    expect(((await viaRaw.json()) as { error: string }).error).not.toBe('invalid_client'); // client accepted, the code is not
  });

  it('rejects a second exchange of the same authorization code with 400 unauthorized_client (Gitea’s code for RFC 6749 §4.1.2 reuse)', async () => {
    const tb = sharedTestbed();
    const app = await createOAuthApp(tb, { redirectUris: [REDIRECT] });
    const as = await giteaAuthServer(tb);
    const client = { client_id: app.clientId };
    const verifier = oauth.generateRandomCodeVerifier();
    const url = new URL(as.authorization_endpoint!);
    url.search = new URLSearchParams({
      response_type: 'code', client_id: app.clientId, redirect_uri: REDIRECT, state: 's1',
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    }).toString();
    const r = await giteaAuthorize(new HeadlessBrowser(), url.href, { giteaUrl: tb.giteaUrl, user: tb.users.alice });
    const params = oauth.validateAuthResponse(as, client, new URL(r.location), 's1');
    const exchange = () =>
      oauth.authorizationCodeGrantRequest(as, client, oauth.ClientSecretPost(app.clientSecret), params, REDIRECT, verifier, insecure);
    await oauth.processAuthorizationCodeResponse(as, client, await exchange());
    const again = await exchange();
    expect(again.status).toBe(400);
    expect(await again.json()).toEqual(CODE_REUSE_ERROR);
  });
});

/** What Gitea 1.26.0 answers to a reused authorization code (observed; RFC 6749 would say invalid_grant). */
const CODE_REUSE_ERROR = { error: 'unauthorized_client', error_description: 'client is not authorized' };
