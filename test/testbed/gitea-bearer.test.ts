/**
 * @module test/testbed/gitea-bearer — how Gitea 1.26.0's `/api/v1` and `/login/oauth/userinfo`
 * treat bad and expired OAuth bearer tokens (RFC 6750 §3.1): what the broker's token-validity
 * check and the children will see.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { giteaApi, signInWithGitea } from '../support/gitea-oauth.js';
import { sharedTestbed, startTestbed, type Testbed } from '../support/testbed.js';

const INVALID = { status: 401, body: { message: 'invalid username, password or token' } };

describe('Gitea /api/v1 with a bad bearer token', () => {
  it('answers 401 to a malformed token on /user and on public routes alike (no anonymous fallback)', async () => {
    const tb = sharedTestbed();
    for (const token of ['garbage', 'eyJhbGciOiJSUzI1NiJ9.eyJ4IjoxfQ.c2ln']) {
      expect(await giteaApi(tb, token, '/user')).toMatchObject(INVALID);
      expect(await giteaApi(tb, token, '/repos/bob/bob-public')).toMatchObject(INVALID);
    }
    expect((await fetch(`${tb.giteaUrl}/api/v1/repos/bob/bob-public`)).status).toBe(200); // anonymous without a token
  });
});

describe('Gitea with ACCESS_TOKEN_EXPIRATION_TIME=5 s (TESTBED_ACCESS_TOKEN_TTL_S)', () => {
  let tb: Testbed & { stop(): Promise<void> };
  beforeAll(async () => {
    tb = await startTestbed({ accessTokenTtlS: 5 });
  });
  afterAll(async () => {
    await tb?.stop();
  });

  it('issues access tokens with expires_in 5 that Gitea refuses with 401 everywhere once expired', async () => {
    const { tokens } = await signInWithGitea(tb, 'alice');
    expect(tokens.expires_in).toBe(5);
    expect(await giteaApi(tb, tokens.access_token, '/user')).toMatchObject({ status: 200, body: { login: 'alice' } });
    await new Promise((r) => setTimeout(r, 6_500));
    expect(await giteaApi(tb, tokens.access_token, '/user')).toMatchObject(INVALID);
    expect(await giteaApi(tb, tokens.access_token, '/repos/bob/bob-public')).toMatchObject(INVALID);
    const userinfo = await fetch(`${tb.giteaUrl}/login/oauth/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(userinfo.status).toBe(401);
    expect(await userinfo.text()).toContain('Failed to authenticate user');
  });
});
