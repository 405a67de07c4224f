/**
 * Discovery: RFC 9728 protected-resource metadata (root and path-suffixed), RFC 8414 metadata and
 * its OpenID-configuration alias with an issuer byte-identical to the URL it was fetched for,
 * checked also by the MCP SDK v2 client (which throws IssuerMismatchError otherwise); CORS only on
 * metadata, register, token and revoke.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverOAuthServerInfo } from '@modelcontextprotocol/client';
import { startOAuthBroker, type OAuthTestBroker } from '../support/oauth-broker.js';
import { sharedTestbed } from '../support/testbed.js';

const tb = sharedTestbed();
let broker: OAuthTestBroker;
beforeAll(async () => {
  broker = await startOAuthBroker({ testbed: tb });
});
afterAll(async () => broker?.stop());

const json = async (path: string) => {
  const res = await fetch(`${broker.url}${path}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
};

describe('protected resource metadata (RFC 9728)', () => {
  it.each(['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp'])(
    'serves %s with resource = the MCP URL and the issuer as authorization server',
    async (path) => {
      const prm = await json(path);
      expect(prm.resource).toBe(broker.mcpUrl);
      expect(prm.authorization_servers).toEqual([broker.url]);
      expect(prm.scopes_supported).toEqual(['mcp']);
      expect(prm.scopes_supported).not.toContain('offline_access');
    },
  );
});

describe('authorization server metadata (RFC 8414)', () => {
  it.each(['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration'])(
    'serves %s with an issuer byte-identical to the URL it was fetched for (RFC 8414 §3.3)',
    async (path) => {
      const m = await json(path);
      expect(m.issuer).toBe(broker.url);
      expect(m.code_challenge_methods_supported).toEqual(['S256']);
      expect(m.authorization_response_iss_parameter_supported).toBe(true);
      expect(m.client_id_metadata_document_supported).toBe(true);
      expect(m.token_endpoint_auth_methods_supported).toContain('none');
      expect(m.response_types_supported).toEqual(['code']);
      for (const k of ['authorization_endpoint', 'token_endpoint', 'registration_endpoint', 'revocation_endpoint']) {
        expect(String(m[k]).startsWith(`${broker.url}/`)).toBe(true);
      }
    },
  );

  it('passes the MCP SDK v2 discovery with issuer validation (PRM → AS metadata)', async () => {
    const info = await discoverOAuthServerInfo(broker.mcpUrl);
    expect(info.authorizationServerUrl).toBe(broker.url);
    expect(info.authorizationServerMetadata?.issuer).toBe(broker.url);
    expect(info.resourceMetadata?.resource).toBe(broker.mcpUrl);
  });
});

describe('CORS only where browser-based clients need it', () => {
  const preflight = (path: string) =>
    fetch(`${broker.url}${path}`, {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:6274', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });

  it.each(['/.well-known/oauth-authorization-server', '/.well-known/oauth-protected-resource/mcp', '/register', '/token', '/revoke'])(
    'allows cross-origin calls to %s',
    async (path) => {
      const res = await preflight(path);
      expect(res.status).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
    },
  );

  it.each([
    ['GET', '/.well-known/oauth-authorization-server'],
    ['POST', '/token'],
    ['POST', '/revoke'],
    ['POST', '/register'],
  ])('lets a browser read the answer to %s %s (Access-Control-Allow-Origin on the actual response, errors included)', async (method, path) => {
    const init: RequestInit = { method, headers: { origin: 'http://localhost:6274' } };
    if (method === 'POST') Object.assign(init, { headers: { origin: 'http://localhost:6274', 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=refresh_token' });
    const res = await fetch(`${broker.url}${path}`, init);
    await res.arrayBuffer();
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
  });

  it.each(['/authorize', '/consent', '/oauth/callback'])('does not allow cross-origin calls to %s', async (path) => {
    const res = await preflight(path);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });
});
