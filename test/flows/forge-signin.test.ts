/**
 * Sign-in through the real Gitea 1.26 test bed with the broker's forge client: authorization
 * code with S256 PKCE and client_secret_basic (RFC 6749 §4.1, RFC 7636), identity from
 * `GET /api/v1/user`, the user/organisation allowlist, and how Gitea refuses.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { ForgeGrantEndedError, type ForgeClient } from '../../src/upstream/types.js';
import { forgeTestConfig, signInThroughGitea, testForgeClient, type SignedIn } from '../support/forge-signin.js';
import { basicAuth, sharedTestbed, type Testbed } from '../support/testbed.js';

let tb: Testbed;
let config: Config;
let forge: ForgeClient;
let alice: SignedIn;

beforeAll(async () => {
  tb = sharedTestbed();
  config = await forgeTestConfig(tb, { FJMCP_ALLOWED_ORGS: 'team' });
  forge = testForgeClient(config);
  alice = await signInThroughGitea(forge, tb, 'alice');
});

describe('forge sign-in (RFC 6749 §4.1 + RFC 7636 S256 against Gitea 1.26)', () => {
  it('exchanges the code from the callback redirect for a bearer token set with a refresh token', () => {
    expect(alice.callback.searchParams.get('code')).toMatch(/^gta_/);
    expect(alice.tokens.accessToken.split('.')).toHaveLength(3); // Gitea access tokens are JWTs
    expect(alice.tokens.refreshToken).toBeTruthy();
    expect(alice.tokens.expiresAt).toBeGreaterThan(Date.now() + 3_500_000); // test bed default 3600 s
  });

  it('identifies the person by GET /api/v1/user with the forge token', () => {
    expect(alice.identity).toEqual({ id: expect.stringMatching(/^\d+$/), login: 'alice', isAdmin: true });
  });

  it('refuses a reused authorization code with ForgeGrantEndedError (Gitea: 400 unauthorized_client)', async () => {
    const { callback } = await signInThroughGitea(forge, tb, 'bob');
    await expect(forge.exchangeCode({ code: callback.searchParams.get('code')!, codeVerifier: 'x'.repeat(43) })).rejects.toThrow(
      /HTTP 400 unauthorized_client/,
    );
  });

  it('refuses a wrong PKCE verifier with ForgeGrantEndedError (RFC 7636 §4.6)', async () => {
    const url = forge.authorizationUrl({ state: 's', codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM' });
    const { giteaAuthorize, HeadlessBrowser } = await import('../support/headless-browser.js');
    const r = await giteaAuthorize(new HeadlessBrowser(), url.href, { giteaUrl: tb.giteaUrl, user: tb.users.carol });
    const code = new URL(r.location).searchParams.get('code')!;
    await expect(forge.exchangeCode({ code, codeVerifier: 'not-the-verifier-'.padEnd(43, 'x') })).rejects.toThrow(ForgeGrantEndedError);
  });

  it('answers ForgeGrantEndedError for GET /api/v1/user with an invalid token (Gitea: 401)', async () => {
    await expect(forge.identify(`${alice.tokens.accessToken.slice(0, -4)}AAAA`)).rejects.toThrow(/HTTP 401/);
  });

  it('reports the forge healthy via GET /api/healthz', async () => {
    expect(await forge.health()).toEqual({ ok: true });
  });
});

describe('allowlist: users and organisations (config.allow), checked with the person\'s own token', () => {
  it('admits members of a listed organisation, site admin or not (GET /api/v1/orgs/{org}/members/{login} → 204)', async () => {
    expect(await forge.isAllowed(alice.identity, alice.tokens.accessToken)).toBe(true);
    const bob = await signInThroughGitea(forge, tb, 'bob');
    expect(bob.identity.isAdmin).toBe(false);
    expect(await forge.isAllowed(bob.identity, bob.tokens.accessToken)).toBe(true);
  });

  it('refuses a non-member of the listed organisations (private org: 404)', async () => {
    const carol = await signInThroughGitea(forge, tb, 'carol');
    expect(await forge.isAllowed(carol.identity, carol.tokens.accessToken)).toBe(false);
  });

  it('refuses a non-member of a public organisation (Gitea 1.26: 404 when asking about oneself)', async () => {
    const org = `open${Date.now()}`;
    const res = await fetch(`${tb.giteaUrl}/api/v1/orgs`, {
      method: 'POST',
      headers: { authorization: basicAuth(tb), 'content-type': 'application/json' },
      body: JSON.stringify({ username: org, visibility: 'public' }),
    });
    expect(res.status).toBe(201);
    const publicOrgForge = testForgeClient({ ...config, allow: { users: [], orgs: [org] } });
    const carol = await signInThroughGitea(publicOrgForge, tb, 'carol');
    const direct = await fetch(`${tb.giteaUrl}/api/v1/orgs/${org}/members/carol`, {
      headers: { authorization: `Bearer ${carol.tokens.accessToken}` },
      redirect: 'manual',
    });
    // Gitea 1.26 routers/api/v1/org/member.go IsMember: a non-member asking about themselves gets
    // 404, even for a public org (the 303 to public_members is only for asking about others).
    expect(direct.status).toBe(404);
    expect(await publicOrgForge.isAllowed(carol.identity, carol.tokens.accessToken)).toBe(false);
    expect(await publicOrgForge.isAllowed(alice.identity, alice.tokens.accessToken)).toBe(true); // creator = owner
  });

  it('admits a listed login case-insensitively without asking the forge, and everyone when both lists are empty', async () => {
    const carol = await signInThroughGitea(forge, tb, 'carol');
    const byLogin = testForgeClient({ ...config, allow: { users: ['CAROL'], orgs: [] } });
    expect(await byLogin.isAllowed(carol.identity, 'not-a-token')).toBe(true);
    const open = testForgeClient({ ...config, allow: { users: [], orgs: [] } });
    expect(await open.isAllowed(carol.identity, carol.tokens.accessToken)).toBe(true);
  });

  it('gives no verdict when the membership check cannot be made (invalid token: Gitea 401), so a sign-in fails closed and a refresh asks again', async () => {
    await expect(forge.isAllowed(alice.identity, 'invalid-token')).rejects.toThrow(/the allowlist could not be checked: organisation team membership check answered HTTP 401/);
  });
});
