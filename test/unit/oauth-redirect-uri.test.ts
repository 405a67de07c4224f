/**
 * Redirect URI rules (RFC 6749 §3.1.2, RFC 8252 §7.3, OAuth 2.1 §2.3.1): WHATWG parsing, https or
 * loopback http, no userinfo or fragment, exact match except the loopback port.
 */
import { describe, expect, it } from 'vitest';
import { matchRedirectUri, redirectUriProblem } from '../../src/oauth/redirect-uri.js';

const CLAUDE = 'https://claude.ai/api/mcp/auth_callback';

describe('redirectUriProblem', () => {
  it.each([
    'https://claude.ai@evil.example/cb', 'http://localhost:80@evil.com/cb', 'https://user:pw@app.example/cb',
    'https://app.example/cb#', 'https://app.example/cb#x', 'http://app.example/cb', 'javascript:alert(1)', 'data:text/html,x',
    'cursor://cb', 'file:///etc/passwd', '/relative', 'https://' + 'a'.repeat(2000) + '.example/',
  ])('refuses %s', (uri) => {
    expect(redirectUriProblem(uri)).toBeDefined();
  });

  it.each([CLAUDE, 'http://127.0.0.1/callback', 'http://localhost:6274/oauth/callback', 'http://[::1]:8080/cb', 'https://app.example/cb?x=1'])('accepts %s', (uri) => {
    expect(redirectUriProblem(uri)).toBeUndefined();
  });
});

describe('matchRedirectUri', () => {
  it.each([
    'https://claude.ai.evil.example/api/mcp/auth_callback', 'https://claude.ai@evil.example/api/mcp/auth_callback',
    `${CLAUDE}#x`, `${CLAUDE}/`, 'https://CLAUDE.ai/api/mcp/auth_callback', 'https://claude.ai:443/api/mcp/auth_callback',
    'http://claude.ai/api/mcp/auth_callback', `${CLAUDE}?a=b`,
  ])('does not match the look-alike %s', (uri) => {
    expect(matchRedirectUri([CLAUDE], uri)).toBe(false);
  });

  it('matches exactly, and a loopback redirect on any port with the same host and path', () => {
    expect(matchRedirectUri([CLAUDE], CLAUDE)).toBe(true);
    expect(matchRedirectUri(['http://127.0.0.1/callback'], 'http://127.0.0.1:51234/callback')).toBe(true);
    expect(matchRedirectUri(['http://localhost/callback'], 'http://localhost:1/callback')).toBe(true);
    expect(matchRedirectUri(['http://127.0.0.1/callback'], 'http://localhost:51234/callback')).toBe(false);
    expect(matchRedirectUri(['http://127.0.0.1/callback'], 'http://127.0.0.1:51234/other')).toBe(false);
  });
});
