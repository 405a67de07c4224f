/**
 * Audience binding (RFC 8707, MCP "token audience binding"): an access token is accepted only
 * for the resource it was issued for. Here the operator moves the broker to another public URL on
 * the same database: the tokens issued for the old MCP URL are for another resource now.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/store.js';
import { exchange, rig, signIn } from '../support/oauth-inprocess.js';

describe('token audience', () => {
  it('refuses at /mcp an access token issued for another resource (invalid_token)', async () => {
    const store = await openSqliteStore(':memory:');
    const keys = randomBytes(32).toString('base64');
    const a = await rig({ issuer: 'http://127.0.0.1:9', store, keys });
    const s = await signIn(a.app, a.issuer);
    const tokens = await exchange(a.app, s, a.issuer);
    const ok = await a.app.request(`${a.issuer}/mcp`, { method: 'POST', headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(ok.status).toBe(200);

    const b = await rig({ issuer: 'http://127.0.0.1:10', store, keys });
    const res = await b.app.request(`${b.issuer}/mcp`, { method: 'POST', headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('issued for another resource');
    // Refreshing for the new resource is refused as well.
    const r = await b.app.request(`${b.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: s.client_id, resource: `${b.issuer}/mcp` }).toString(),
    });
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: string }).error).toBe('invalid_target');
  });
});
