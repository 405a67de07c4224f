/**
 * The forge client's pure parts: the authorization request it builds (RFC 6749 §4.1.1 with
 * RFC 7636 §4.3 S256), the scopes it asks for, and which discovery issuers it accepts.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadConfig, type Env } from '../../src/config.js';
import { silentLogger } from '../../src/ops/log.js';
import { classifyTokenError, createForgeClient, forgeScopes, issuerMatchesForgeUrl } from '../../src/upstream/forge-client.js';

function config(env: Env = {}) {
  return loadConfig({
    FJMCP_PUBLIC_URL: 'https://mcp.example.org',
    FJMCP_FORGE_URL: 'https://forge.example.org',
    FJMCP_FORGE_CLIENT_ID: 'client-uuid',
    FJMCP_FORGE_CLIENT_SECRET: 'gto_secret',
    FJMCP_ENCRYPTION_KEYS: randomBytes(32).toString('base64'),
    ...env,
  });
}

const noFetch = (() => Promise.reject(new Error('no network in this test'))) as typeof fetch;

describe('forge authorization URL (RFC 6749 §4.1.1, RFC 7636 §4.3)', () => {
  it('asks for a code with S256 PKCE, state, and the broker callback as redirect_uri, without openid', () => {
    const forge = createForgeClient({ config: config(), log: silentLogger, fetch: noFetch });
    const url = forge.authorizationUrl({ state: 'st-1', codeChallenge: 'chal' });
    expect(url.origin + url.pathname).toBe('https://forge.example.org/login/oauth/authorize');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      response_type: 'code',
      client_id: 'client-uuid',
      redirect_uri: 'https://mcp.example.org/oauth/callback',
      state: 'st-1',
      code_challenge: 'chal',
      code_challenge_method: 'S256',
    });
  });

  it('keeps a forge installed under a sub-path', () => {
    const forge = createForgeClient({ config: config({ FJMCP_FORGE_URL: 'https://example.org/gitea' }), log: silentLogger, fetch: noFetch });
    expect(forge.authorizationUrl({ state: 's', codeChallenge: 'c' }).pathname).toBe('/gitea/login/oauth/authorize');
  });

  it('requests configured scopes plus read:user (identity) and read:organization (org allowlist), never openid', () => {
    expect(forgeScopes(config())).toEqual([]);
    expect(forgeScopes(config({ FJMCP_FORGE_SCOPES: 'read:repository openid' }))).toEqual(['read:repository', 'read:user']);
    expect(forgeScopes(config({ FJMCP_FORGE_SCOPES: 'read:repository read:user', FJMCP_ALLOWED_ORGS: 'team' }))).toEqual([
      'read:repository', 'read:user', 'read:organization',
    ]);
    const forge = createForgeClient({ config: config({ FJMCP_FORGE_SCOPES: 'write:issue' }), log: silentLogger, fetch: noFetch });
    expect(forge.authorizationUrl({ state: 's', codeChallenge: 'c' }).searchParams.get('scope')).toBe('write:issue read:user');
  });
});

describe('forge discovery issuer (forge-facts §7)', () => {
  it('accepts the issuer with or without a trailing slash (Gitea <= 1.24 / >= 1.25), also under a sub-path', () => {
    expect(issuerMatchesForgeUrl('http://127.0.0.1:3000', new URL('http://127.0.0.1:3000/'))).toBe(true);
    expect(issuerMatchesForgeUrl('http://127.0.0.1:3000/', new URL('http://127.0.0.1:3000'))).toBe(true);
    expect(issuerMatchesForgeUrl('https://example.org/gitea', new URL('https://example.org/gitea/'))).toBe(true);
    expect(issuerMatchesForgeUrl('https://example.org/gitea/', new URL('https://example.org/gitea'))).toBe(true);
  });

  it('refuses any other issuer: host, port, scheme, path or a non-string', () => {
    const base = new URL('https://forge.example.org/');
    for (const bad of ['https://evil.example.org', 'https://forge.example.org:8443', 'http://forge.example.org', 'https://forge.example.org/x', 'not a url', 42, undefined]) {
      expect(issuerMatchesForgeUrl(bad, base)).toBe(false);
    }
  });
});

describe('token endpoint refusals: whose fault (RFC 6749 §5.2, Gitea 1.26 oauth2_provider.go)', () => {
  it('blames the broker\'s credentials for invalid_client, any 401, and an unauthorized_client about the client', () => {
    expect(classifyTokenError(400, 'invalid_client', 'invalid client secret')).toBe('credentials');
    expect(classifyTokenError(400, 'invalid_client', 'cannot load client with client id: "x"')).toBe('credentials');
    expect(classifyTokenError(401, 'unknown_error', '')).toBe('credentials');
    expect(classifyTokenError(400, 'unauthorized_client', 'invalid client secret')).toBe('credentials');
    expect(classifyTokenError(400, 'unauthorized_client', 'invalid empty client secret')).toBe('credentials');
    expect(classifyTokenError(400, 'unauthorized_client', 'unexpected redirect URI')).toBe('credentials');
  });

  it('ends the person\'s grant only for invalid_grant and Gitea\'s unauthorized_client about a token or code', () => {
    expect(classifyTokenError(400, 'invalid_grant', 'grant does not exist')).toBe('grant');
    expect(classifyTokenError(400, 'unauthorized_client', 'token was already used')).toBe('grant');
    expect(classifyTokenError(400, 'unauthorized_client', 'unable to parse refresh token')).toBe('grant');
    expect(classifyTokenError(400, 'unauthorized_client', 'failed PKCE code challenge')).toBe('grant');
  });

  it('keeps the grant for any other refusal of the broker\'s request', () => {
    expect(classifyTokenError(400, 'invalid_request', 'Error creating signing key')).toBe('request');
    expect(classifyTokenError(400, 'unsupported_grant_type', '')).toBe('request');
    expect(classifyTokenError(429, 'unknown_error', '')).toBe('request');
  });
});
