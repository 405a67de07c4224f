/**
 * @module test/testbed/gitea-refresh — Gitea 1.26.0's refresh-token behaviour (RFC 6749 §6)
 * under `[oauth2] INVALIDATE_REFRESH_TOKENS` false (Gitea's default, the shared test bed) and
 * true (Forgejo's default, a separate instance): what the broker's upstream refresh must expect.
 */
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { giteaApi, refreshAtGitea, signInWithGitea, type ClientCredentials } from '../support/gitea-oauth.js';
import { createOAuthApp, sharedTestbed, startTestbed, type Testbed } from '../support/testbed.js';

/** Gitea's answer to a refresh token whose counter is stale (services/oauth2_provider, observed on 1.26.0). */
const ALREADY_USED = { status: 400, error: 'unauthorized_client', error_description: 'token was already used' };

async function refreshError(tb: Testbed, rt: string, client?: ClientCredentials): Promise<{ status: number; error: string; error_description?: string }> {
  try {
    await refreshAtGitea(tb, rt, client ? { client } : {});
  } catch (e) {
    if (e instanceof oauth.ResponseBodyError) {
      return { status: e.status, error: e.error, ...(e.error_description !== undefined ? { error_description: e.error_description } : {}) };
    }
    throw e;
  }
  throw new Error('refresh unexpectedly succeeded');
}

describe('Gitea refresh with INVALIDATE_REFRESH_TOKENS=false (Gitea default)', () => {
  it('answers every refresh with access and refresh tokens and keeps the old refresh token usable (no rotation)', async () => {
    const tb = sharedTestbed();
    const redirectUri = 'http://127.0.0.1:9/refresh/callback';
    const client = { ...(await createOAuthApp(tb, { redirectUris: [redirectUri] })), redirectUri };
    const { tokens } = await signInWithGitea(tb, 'bob', { client });
    const rt1 = tokens.refresh_token!;
    const second = await refreshAtGitea(tb, rt1, { client });
    expect(second.refresh_token).toBeTruthy();
    // Not asserted different: without rotation the grant counter does not move, and RS256 JWTs with the
    // same claims (iat has 1 s resolution) are byte-identical, so a refresh within the same second
    // returns the very same tokens.
    expect(second).not.toHaveProperty('scope');
    const third = await refreshAtGitea(tb, rt1, { client });
    expect(await giteaApi(tb, third.access_token, '/user')).toMatchObject({ status: 200, body: { login: 'bob' } });
    expect(await giteaApi(tb, second.access_token, '/user')).toMatchObject({ status: 200, body: { login: 'bob' } });
  });
});

describe('Gitea refresh with INVALIDATE_REFRESH_TOKENS=true (Forgejo default)', () => {
  let tb: Testbed & { stop(): Promise<void> };
  beforeAll(async () => {
    tb = await startTestbed({ invalidateRefreshTokens: true });
  });
  afterAll(async () => {
    await tb?.stop();
  });

  it('rejects a refresh token once it has been used, with 400 unauthorized_client "token was already used", while the newest one keeps working', async () => {
    const { tokens } = await signInWithGitea(tb, 'alice');
    const rt1 = tokens.refresh_token!;
    const second = await refreshAtGitea(tb, rt1);
    expect(await refreshError(tb, rt1)).toEqual(ALREADY_USED);
    // No refresh-token family revocation (RFC 9700 §4.14.2 would revoke): the reuse leaves the newest token valid.
    const third = await refreshAtGitea(tb, second.refresh_token!);
    expect(await giteaApi(tb, third.access_token, '/user')).toMatchObject({ status: 200, body: { login: 'alice' } });
  });

  it('invalidates the refresh token of a first sign-in when the same user signs in again to the same app (one grant per user and app)', async () => {
    const first = await signInWithGitea(tb, 'bob');
    const second = await signInWithGitea(tb, 'bob'); // new browser: logs in again, consent skipped (existing grant)
    expect(second.authorize.sawConsent).toBe(false);
    expect(await refreshError(tb, first.tokens.refresh_token!)).toEqual(ALREADY_USED);
    // The first sign-in's access token stays valid until it expires (stateless JWT).
    expect(await giteaApi(tb, first.tokens.access_token, '/user')).toMatchObject({ status: 200, body: { login: 'bob' } });
    const fresh = await refreshAtGitea(tb, second.tokens.refresh_token!);
    expect(await giteaApi(tb, fresh.access_token, '/user')).toMatchObject({ status: 200, body: { login: 'bob' } });
  });

  it('keeps sign-ins of different users independent', async () => {
    const carol = await signInWithGitea(tb, 'carol');
    await signInWithGitea(tb, 'alice');
    const refreshed = await refreshAtGitea(tb, carol.tokens.refresh_token!);
    expect(await giteaApi(tb, refreshed.access_token, '/user')).toMatchObject({ status: 200, body: { login: 'carol' } });
  });
});
