/**
 * Token lifecycle against the real Gitea test bed: authorization code exchange and replay,
 * PKCE verifier checks, refresh rotation with its grace window and family revocation, RFC 7009
 * revocation, the bearer check of /mcp, and a broker restart that must lose nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  authorizeUrl, mcpStatus, pkcePair, registerTestClient, signInManually, signInThroughBroker, tokenRequest,
} from '../support/broker-consent.js';
import { startOAuthBroker, type OAuthTestBroker } from '../support/oauth-broker.js';
import { sharedTestbed } from '../support/testbed.js';

const tb = sharedTestbed();
let broker: OAuthTestBroker;
let offsetMs = 0;
const GRACE_S = 30;

beforeAll(async () => {
  broker = await startOAuthBroker({ testbed: tb, clock: () => Date.now() + offsetMs, env: { FJMCP_REFRESH_GRACE_S: String(GRACE_S) } });
});
afterAll(async () => broker?.stop());

/** A fresh code and its verifier for `user`, not yet exchanged. */
async function freshCode(user: 'alice' | 'bob' = 'alice') {
  const client = await registerTestClient(broker.url, ['http://127.0.0.1:53999/cb']);
  const { verifier, challenge } = pkcePair();
  const r = await signInThroughBroker(tb, broker.url, authorizeUrl(broker.url, client, challenge), user);
  return { client, verifier, code: r.location.searchParams.get('code')! };
}

const exchange = (c: Awaited<ReturnType<typeof freshCode>>, verifier = c.verifier) =>
  tokenRequest(broker.url, { grant_type: 'authorization_code', code: c.code, code_verifier: verifier, client_id: c.client.clientId, redirect_uri: c.client.redirectUri });
const refresh = (clientId: string, refreshToken: string) =>
  tokenRequest(broker.url, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId, resource: broker.mcpUrl });

describe('authorization code (RFC 6749 §4.1.3, RFC 7636 §4.6)', () => {
  it('issues opaque prefixed tokens with Cache-Control: no-store (RFC 6749 §5.1)', async () => {
    const c = await freshCode();
    const t = await exchange(c);
    expect(t.status).toBe(200);
    expect(t.headers.get('cache-control')).toBe('no-store');
    expect(t.body).toMatchObject({ token_type: 'Bearer', scope: 'mcp', expires_in: 3600 });
    expect(t.body.access_token).toMatch(/^mcpb_at_[A-Za-z0-9_-]{43}$/);
    expect(t.body.refresh_token).toMatch(/^mcpb_rt_[A-Za-z0-9_-]{43}$/);
  });

  it('rejects a replayed authorization code and revokes the tokens it issued (RFC 6749 §4.1.2)', async () => {
    const c = await freshCode();
    const first = await exchange(c);
    expect(first.status).toBe(200);
    expect((await mcpStatus(broker.url, first.body.access_token as string)).status).toBe(200);
    const again = await exchange(c);
    expect(again.status).toBe(400);
    expect(again.body.error).toBe('invalid_grant');
    expect((await mcpStatus(broker.url, first.body.access_token as string)).status).toBe(401);
    expect((await refresh(c.client.clientId, first.body.refresh_token as string)).body.error).toBe('invalid_grant');
  });

  it('rejects a wrong code_verifier and burns the code (RFC 7636 §4.6)', async () => {
    const c = await freshCode();
    const wrong = await exchange(c, pkcePair().verifier);
    expect(wrong.status).toBe(400);
    expect(wrong.body.error).toBe('invalid_grant');
    expect((await exchange(c)).body.error).toBe('invalid_grant');
  });

  it('rejects a token request without code_verifier (PKCE required, RFC 7636 §4.5)', async () => {
    const c = await freshCode();
    const t = await tokenRequest(broker.url, { grant_type: 'authorization_code', code: c.code, client_id: c.client.clientId });
    expect(t.status).toBe(400);
    expect(t.body.error).toBe('invalid_request');
  });

  it('rejects a code presented for another resource (RFC 8707 §2: invalid_target)', async () => {
    const c = await freshCode();
    const t = await tokenRequest(broker.url, { grant_type: 'authorization_code', code: c.code, code_verifier: c.verifier, client_id: c.client.clientId, resource: 'https://other.example/mcp' });
    expect(t.status).toBe(400);
    expect(t.body.error).toBe('invalid_target');
  });

  it('rejects a code presented by another client', async () => {
    const c = await freshCode();
    const other = await registerTestClient(broker.url, ['http://127.0.0.1:53999/cb']);
    const t = await tokenRequest(broker.url, { grant_type: 'authorization_code', code: c.code, code_verifier: c.verifier, client_id: other.clientId });
    expect(t.body.error).toBe('invalid_grant');
  });
});

describe('refresh tokens (RFC 6749 §6, OAuth 2.1 §4.3.1)', () => {
  it('rotates the refresh token, and a retry within the grace window gets the same successor', async () => {
    const { client, tokens } = await signInManually(tb, broker.url, 'alice');
    const r1 = await refresh(client.clientId, tokens.refresh_token);
    expect(r1.status).toBe(200);
    expect(r1.body.refresh_token).not.toBe(tokens.refresh_token);
    const retry = await refresh(client.clientId, tokens.refresh_token);
    expect(retry.status).toBe(200);
    expect(retry.body.refresh_token).toBe(r1.body.refresh_token);
    expect(retry.body.access_token).toBe(r1.body.access_token);
    expect((await mcpStatus(broker.url, r1.body.access_token as string)).status).toBe(200);
  });

  it('revokes the whole family when a rotated refresh token is reused after the grace window (RFC 9700 §4.14.2)', async () => {
    const { client, tokens } = await signInManually(tb, broker.url, 'alice');
    const r1 = await refresh(client.clientId, tokens.refresh_token);
    expect(r1.status).toBe(200);
    offsetMs += (GRACE_S + 1) * 1000;
    const reuse = await refresh(client.clientId, tokens.refresh_token);
    expect(reuse.status).toBe(400);
    expect(reuse.body.error).toBe('invalid_grant');
    expect((await refresh(client.clientId, r1.body.refresh_token as string)).body.error).toBe('invalid_grant');
    expect((await mcpStatus(broker.url, r1.body.access_token as string)).status).toBe(401);
  });

  it('answers two concurrent refreshes of the same token with the same successor (Claude refreshes from two places)', async () => {
    const { client, tokens } = await signInManually(tb, broker.url, 'alice');
    const [a, b] = await Promise.all([refresh(client.clientId, tokens.refresh_token), refresh(client.clientId, tokens.refresh_token)]);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(a.body.refresh_token).toBe(b.body.refresh_token);
    expect((await refresh(client.clientId, a.body.refresh_token as string)).status).toBe(200);
  });

  it('refuses a refresh token presented by another client', async () => {
    const { tokens } = await signInManually(tb, broker.url, 'alice');
    const other = await registerTestClient(broker.url, ['http://127.0.0.1:53999/cb']);
    expect((await refresh(other.clientId, tokens.refresh_token)).body.error).toBe('invalid_grant');
  });
});

describe('revocation (RFC 7009)', () => {
  it('revoking a refresh token ends its family, access tokens included (RFC 7009 §2.1)', async () => {
    const { client, tokens } = await signInManually(tb, broker.url, 'alice');
    const res = await fetch(`${broker.url}/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: tokens.refresh_token, token_type_hint: 'refresh_token', client_id: client.clientId }),
    });
    expect(res.status).toBe(200);
    expect((await mcpStatus(broker.url, tokens.access_token)).status).toBe(401);
    expect((await refresh(client.clientId, tokens.refresh_token)).body.error).toBe('invalid_grant');
  });

  it('answers 200 for an unknown token and does not revoke tokens of other clients (RFC 7009 §2.2)', async () => {
    const a = await signInManually(tb, broker.url, 'alice');
    const other = await registerTestClient(broker.url, ['http://127.0.0.1:53999/cb']);
    for (const token of ['mcpb_rt_unknown', a.tokens.access_token]) {
      const res = await fetch(`${broker.url}/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token, client_id: other.clientId }) });
      expect(res.status).toBe(200);
    }
    expect((await mcpStatus(broker.url, a.tokens.access_token)).status).toBe(200);
  });
});

describe('bearer check of /mcp (RFC 6750, RFC 9728 §5.1)', () => {
  it('answers 401 with a challenge naming resource_metadata and scope when no token is sent', async () => {
    const res = await mcpStatus(broker.url, undefined);
    expect(res.status).toBe(401);
    const h = res.headers.get('www-authenticate') ?? '';
    expect(h).toContain(`resource_metadata="${broker.url}/.well-known/oauth-protected-resource/mcp"`);
    expect(h).toContain('scope="mcp"');
  });

  it('refuses an access token in the query string (MCP authorization: tokens only in the Authorization header)', async () => {
    const { tokens } = await signInManually(tb, broker.url, 'alice');
    const res = await mcpStatus(broker.url, undefined, { query: `?access_token=${tokens.access_token}` });
    expect(res.status).toBe(400);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_request"');
  });

  it('refuses a token that is not ours (invalid_token), e.g. the person\'s forge token', async () => {
    for (const t of ['gto_notours', 'mcpb_at_forged', 'mcpb_rt_' + 'x'.repeat(43)]) {
      const res = await mcpStatus(broker.url, t);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    }
  });

  it('refuses an expired access token', async () => {
    const { tokens } = await signInManually(tb, broker.url, 'alice');
    offsetMs += 3601_000;
    try {
      expect((await mcpStatus(broker.url, tokens.access_token)).status).toBe(401);
    } finally {
      offsetMs -= 3601_000;
    }
  });
});

describe('restart', () => {
  it('a restarted broker honours every client, grant and token it issued (SQLite WAL)', async () => {
    const { client, tokens } = await signInManually(tb, broker.url, 'bob');
    const pending = await freshCode('alice');
    await broker.restart();
    expect((await mcpStatus(broker.url, tokens.access_token)).status).toBe(200);
    const r = await refresh(client.clientId, tokens.refresh_token);
    expect(r.status).toBe(200);
    expect((await mcpStatus(broker.url, r.body.access_token as string)).status).toBe(200);
    // The code issued before the restart still exchanges; the client still authorizes.
    expect((await exchange(pending)).status).toBe(200);
    const page = await fetch(authorizeUrl(broker.url, client, pkcePair().challenge));
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('action="/consent"');
  });
});

describe('logs', () => {
  it('never contain a token, code, verifier or cookie value issued during this suite', () => {
    const joined = broker.logLines.join('\n');
    expect(broker.logLines.length).toBeGreaterThan(10);
    expect(joined).not.toMatch(/mcpb_(at|rt|ac|cs)_[A-Za-z0-9_-]{20,}/);
    expect(joined).not.toMatch(/\bgt[aor]_[A-Za-z0-9]{10,}/);
    expect(joined).not.toMatch(/code_verifier|__Host-fjmcp_tx_[^"]*=/);
  });
});
