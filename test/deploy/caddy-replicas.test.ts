/**
 * @module test/deploy/caddy-replicas
 * deploy/caddy/Caddyfile.replicas (docs/scale-out.md) is valid for Debian's caddy and does what
 * the doc promises: person affinity by the Authorization header over the replicas, active health
 * checks on /healthz, no retries (Caddy 2.6.2 retries a request with a body with the body closed:
 * 502, and the healthy replica it went to is counted failed; caddyserver/caddy#7546), and the same
 * streaming and request-body rules as the single broker's Caddyfile.
 */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { adapt, handlers, MAX_BODY_BYTES, requestBodyRules, validate } from './caddy-support.js';

const REPLICAS_CADDYFILE = resolve(import.meta.dirname, '../../deploy/caddy/Caddyfile.replicas');

describe('deploy/caddy/Caddyfile.replicas', () => {
  it('passes caddy validate', async () => {
    const r = await validate(REPLICAS_CADDYFILE);
    expect(r.exitCode, r.output).toBe(0);
  });

  it('hashes the Authorization header over three replicas, checks /healthz, marks a failed one down without retrying its request, streams unbuffered', async () => {
    const [proxy] = handlers(await adapt(REPLICAS_CADDYFILE), 'reverse_proxy');
    expect(proxy.upstreams.map((u: { dial: string }) => u.dial)).toEqual(['127.0.0.1:8787', '127.0.0.1:8788', '127.0.0.1:8789']);
    expect(proxy.load_balancing.selection_policy).toEqual({ policy: 'header', field: 'Authorization' });
    expect(proxy.load_balancing.try_duration).toBeUndefined();
    expect(proxy.load_balancing.retries).toBeUndefined();
    expect(proxy.health_checks.active).toMatchObject({ uri: '/healthz', interval: 5_000_000_000 });
    expect(proxy.health_checks.passive.fail_duration).toBe(30_000_000_000);
    expect(proxy.flush_interval).toBe(-1);
    expect(proxy.transport.read_timeout).toBeUndefined();
    expect(proxy.transport.response_header_timeout).toBeUndefined();
  });

  it('reads each request body whole before proxying it, capped, and refuses a larger declared body before the proxy, as the single broker\'s Caddyfile does', async () => {
    expect(requestBodyRules(await adapt(REPLICAS_CADDYFILE), MAX_BODY_BYTES)).toEqual([]);
  });
});
