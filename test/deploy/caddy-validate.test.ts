/**
 * @module test/deploy/caddy-validate
 * The shipped Caddyfile is valid for Debian's caddy and says what docs/deploy-caddy.md promises:
 * only the broker's public routes, unbuffered streaming, no timeout that can end a stream, request
 * bodies read whole and capped before they are proxied.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SHIPPED_CADDYFILE, adapt, adaptForLoopback, handlers, MAX_BODY_BYTES, requestBodyRules, validate, type CaddyJson } from './caddy-support.js';

const PUBLIC_ROUTES = [
  '/',
  '/mcp',
  '/healthz',
  '/register',
  '/authorize',
  '/consent',
  '/oauth/callback',
  '/token',
  '/revoke',
  '/.well-known/oauth-protected-resource',
  '/.well-known/oauth-protected-resource/mcp',
  '/.well-known/oauth-authorization-server',
  '/.well-known/openid-configuration',
];

describe('deploy/caddy/Caddyfile', () => {
  it('passes caddy validate', async () => {
    const r = await validate(SHIPPED_CADDYFILE);
    expect(r.output).toContain('Valid configuration');
    expect(r.exitCode).toBe(0);
  });

  it('still validates after the loopback adaptation the end-to-end test applies', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'caddyfile-'));
    const file = join(dir, 'Caddyfile');
    writeFileSync(file, adaptForLoopback(readFileSync(SHIPPED_CADDYFILE, 'utf8'), { httpsPort: 18443, httpPort: 18080, adminPort: 12019, upstreamPort: 18787 }));
    const r = await validate(file);
    expect(r.exitCode, r.output).toBe(0);
  });

  it('proxies exactly the broker public routes, never /metrics, and answers 404 for the rest', async () => {
    const json = await adapt(SHIPPED_CADDYFILE);
    const server = json.apps.http.servers.srv0;
    expect(server.routes[0].match).toEqual([{ host: ['mcp.example.org'] }]);
    const inner = server.routes[0].handle[0].routes as CaddyJson[];
    const proxied = inner.find((r) => handlers(r, 'reverse_proxy').length > 0);
    expect([...proxied.match[0].path].sort()).toEqual([...PUBLIC_ROUTES].sort());
    expect(JSON.stringify(proxied.match)).not.toContain('metrics');
    const fallback = inner.at(-1);
    expect(fallback.match).toBeUndefined();
    expect(handlers(fallback, 'static_response')[0].status_code).toBe(404);
  });

  it('streams answers without buffering and sets no timeout that can end a long response', async () => {
    const json = await adapt(SHIPPED_CADDYFILE);
    const server = json.apps.http.servers.srv0;
    const [proxy] = handlers(json, 'reverse_proxy');
    expect(proxy.flush_interval).toBe(-1);
    expect(proxy.buffer_responses).toBeUndefined();
    expect(proxy.transport.read_timeout).toBeUndefined();
    expect(proxy.transport.write_timeout).toBeUndefined();
    expect(proxy.transport.response_header_timeout).toBeUndefined();
    expect(server.read_timeout).toBeUndefined();
    expect(server.write_timeout).toBeUndefined();
    expect(server.read_header_timeout).toBe(10_000_000_000);
    expect(handlers(json, 'encode')).toEqual([]);
  });

  it('reads each request body whole before proxying it, capped at FJMCP_MAX_BODY_BYTES\' default, and refuses a larger declared body before the proxy (caddyserver/caddy#5431)', async () => {
    expect(requestBodyRules(await adapt(SHIPPED_CADDYFILE), MAX_BODY_BYTES)).toEqual([]);
  });

  it('rejects a Host header that differs from the TLS server name (strict SNI host)', async () => {
    const json = await adapt(SHIPPED_CADDYFILE);
    expect(json.apps.http.servers.srv0.strict_sni_host).toBe(true);
  });

  it('redacts OAuth codes and state from access-log query strings', async () => {
    const json = await adapt(SHIPPED_CADDYFILE);
    const enc = Object.values(json.logging.logs as Record<string, CaddyJson>).find((l) => l.encoder)?.encoder;
    const actions = enc.fields['request>uri'].actions.map((a: CaddyJson) => a.parameter);
    expect(actions).toEqual(expect.arrayContaining(['code', 'state']));
  });
});
