/**
 * The broker's grants follow the person's forge grant: when they revoke the broker's application
 * in Gitea, the broker's grant ends at the next forge refresh (ForgeTokens.onGrantEnded), so the
 * client's tokens stop working (401) and its refresh token is refused — the client must sign in
 * again. Real Gitea 1.26 test bed; only the clock is moved.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mcpStatus, signInManually, tokenRequest } from '../support/broker-consent.js';
import { grantIdOf, revokeGrantInGitea } from '../support/forge-signin.js';
import { startOAuthBroker, type OAuthTestBroker } from '../support/oauth-broker.js';
import { basicAuth, sharedTestbed } from '../support/testbed.js';

const tb = sharedTestbed();
let broker: OAuthTestBroker;
let offsetMs = 0;
beforeAll(async () => {
  // Broker access tokens outlive the forge token here, so only the forge side can end them.
  broker = await startOAuthBroker({ testbed: tb, clock: () => Date.now() + offsetMs, env: { FJMCP_ACCESS_TOKEN_TTL_S: '86400' } });
});
afterAll(async () => broker?.stop());

describe('forge grant revoked in Gitea', () => {
  it('ends the broker grant at the next forge refresh: /mcp answers 401 and the refresh token is refused', async () => {
    const { client, tokens, browser } = await signInManually(tb, broker.url, 'bob');
    expect((await mcpStatus(broker.url, tokens.access_token)).status).toBe(200);
    const user = (await (await fetch(`${tb.giteaUrl}/api/v1/users/${tb.users.bob.login}`, { headers: { authorization: basicAuth(tb) } })).json()) as { id: number };
    const forge = await broker.forgeTokens.current(String(user.id));
    await revokeGrantInGitea(tb, browser, broker.forgeAppId, grantIdOf(forge.accessToken));
    offsetMs += 2 * 3600_000; // past the forge access token's expiry: the next use refreshes it
    const res = await mcpStatus(broker.url, tokens.access_token);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    const r = await tokenRequest(broker.url, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: client.clientId });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_grant');
    expect(broker.logLines.some((l) => l.includes('"event":"grant.revoked"') && l.includes('forge grant ended'))).toBe(true);
  });
});
