/**
 * @module test/deploy/caddy-e2e
 * Debian's caddy (2.6.2) runs the shipped deploy/caddy/Caddyfile, changed only to loopback ports
 * and `tls internal` (test/deploy/caddy-support.ts adaptForLoopback), in front of the broker,
 * which runs server-everything as the person's MCP child and signs people in at the test-bed
 * Gitea. Over HTTPS through Caddy: the whole sign-in and a tool call work, and a tool call that
 * streams progress for longer than any timeout the Caddyfile sets (read_header 10 s) reaches the
 * client unbuffered. A control run with a server `write` timeout added shows the same
 * measurement detects a proxy that cuts the stream.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { freePort } from '../support/ports.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/ops/log.js';
import { startServer, type RunningBroker } from '../../src/server.js';
import { createOAuthApp, repoRoot, sharedTestbed, type Testbed } from '../support/testbed.js';
import { MAX_BODY_BYTES, SHIPPED_CADDYFILE, adaptForLoopback, runCaddy, type RunningCaddy } from './caddy-support.js';

const require = createRequire(import.meta.url);
/** The long call: 7 progress notifications, one every 2 s, 14 s in all (> read_header 10 s). */
const DURATION_S = 14;
const STEPS = 7;
/** How long Caddy 2.6.2's http transport keeps an idle upstream connection without `keepalive` set (docs/deploy-caddy.md §Caddy 2.6.2 defaults), ms. */
const CADDY_UPSTREAM_IDLE_MS = 120_000;

interface Event { event: string; t: number; [k: string]: unknown }

/** Runs test/deploy/deploy-client.ts with Caddy's root CA trusted; returns its JSON events. */
async function client(caCertFile: string, env: Record<string, string>): Promise<Event[]> {
  const r = await execa(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'deploy-client.ts')], {
    cwd: repoRoot,
    env: { NODE_EXTRA_CA_CERTS: caCertFile, ...env },
    reject: false,
    timeout: 120_000,
  });
  const events = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Event);
  const fatal = events.find((e) => e.event === 'fatal');
  if (r.exitCode !== 0 || fatal) throw new Error(`client failed (exit ${r.exitCode}): ${String(fatal?.message ?? '')}\n${r.stderr.slice(-2000)}`);
  return events;
}

/**
 * One request through Caddy with node:https (HTTP/1.1, SNI localhost), trusting its CA. A GET by
 * default. `headers` may override Host (SNI stays localhost), ask for a chunked body, or declare a
 * length that is never sent (the answer must then come before the body is read); `body` is sent
 * with its Content-Length unless chunked.
 */
function httpsRequest(url: string, ca: string, init: { method?: string; headers?: Record<string, string>; body?: Buffer } = {}): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method ?? 'GET', ca, servername: 'localhost', headers: init.headers ?? {} }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

describe('Caddy 2.6.2 with the shipped Caddyfile in front of the broker (HTTPS, tls internal)', () => {
  let tb: Testbed;
  let broker: RunningBroker;
  let caddy: RunningCaddy | undefined;
  let ports: { httpsPort: number; httpPort: number; adminPort: number; upstreamPort: number };
  let publicUrl: string;
  let caFile: string;
  let scratch: string;
  let accessToken = '';

  const startCaddy = async (extra: (text: string) => string = (t) => t) => {
    const text = extra(adaptForLoopback(readFileSync(SHIPPED_CADDYFILE, 'utf8'), ports));
    caddy = await runCaddy(text, async () => (await fetch(`http://127.0.0.1:${ports.adminPort}/config/`)).ok);
    writeFileSync(caFile, caddy.rootCaPem);
  };
  const stopCaddy = async () => {
    await caddy?.stop();
    caddy = undefined;
  };

  beforeAll(async () => {
    tb = sharedTestbed();
    ports = { httpsPort: await freePort(), httpPort: await freePort(), adminPort: await freePort(), upstreamPort: await freePort() };
    publicUrl = `https://localhost:${ports.httpsPort}`;
    scratch = mkdtempSync(join(tmpdir(), 'caddy-e2e-'));
    caFile = join(scratch, 'caddy-root.crt');
    const app = await createOAuthApp(tb, { redirectUris: [`${publicUrl}/oauth/callback`], name: `caddy-e2e-${ports.httpsPort}` });
    const config = loadConfig({
      FJMCP_PUBLIC_URL: publicUrl,
      FJMCP_LISTEN_HOST: '127.0.0.1',
      FJMCP_LISTEN_PORT: String(ports.upstreamPort),
      FJMCP_OPS_LISTEN: '127.0.0.1:0',
      FJMCP_DATA_DIR: join(scratch, 'data'),
      FJMCP_FORGE_URL: tb.giteaUrl,
      FJMCP_FORGE_CLIENT_ID: app.clientId,
      FJMCP_FORGE_CLIENT_SECRET: app.clientSecret,
      FJMCP_ENCRYPTION_KEYS: randomBytes(32).toString('base64'),
      FJMCP_TRUST_PROXY: 'true',
      FJMCP_CHILD_PRESET: 'custom',
      FJMCP_CHILD_COMMAND: process.execPath,
      FJMCP_CHILD_ARGS: JSON.stringify([require.resolve('@modelcontextprotocol/server-everything/dist/index.js'), 'stdio']),
      FJMCP_CHILD_TOKEN_ENV: 'FORGE_TOKEN',
      FJMCP_CHILD_STOP_GRACE_MS: '1000',
      FJMCP_LOG_LEVEL: 'warn',
      PATH: process.env.PATH,
    });
    const logs: string[] = [];
    const sink = new Writable({ write: (c: Buffer, _e, cb) => (logs.push(c.toString()), cb()) });
    broker = await startServer(config, { log: createLogger(config.logLevel, sink), defaultMetrics: false });
    await startCaddy();
  }, 120_000);

  afterAll(async () => {
    await stopCaddy();
    await broker?.close(2_000);
    rmSync(scratch, { recursive: true, force: true });
  });

  it('signs a person in over HTTPS through Caddy (metadata, DCR, consent, Gitea, callback, token) and relays tool calls', async () => {
    const [ev] = (await client(caFile, { E2E_MODE: 'signin', E2E_PUBLIC_URL: publicUrl, E2E_TESTBED: JSON.stringify(tb) })).filter((e) => e.event === 'signed-in');
    expect(ev).toBeDefined();
    expect(ev!.issuer).toBe(publicUrl);
    expect(ev!.resource).toBe(`${publicUrl}/mcp`);
    expect(String(ev!.authorizationUrl).startsWith(`${publicUrl}/authorize?`)).toBe(true);
    expect(ev!.callbackIss).toBe(publicUrl);
    expect(ev!.tools).toContain('trigger-long-running-operation');
    expect(ev!.toolText).toContain('through caddy');
    accessToken = String(ev!.accessToken);
  }, 90_000);

  it('streams progress of a 14 s tool call unbuffered: the first event arrives long before the call ends (flush_interval -1, no stream timeout)', async () => {
    expect(accessToken, 'needs the sign-in test').not.toBe('');
    const events = await client(caFile, {
      E2E_MODE: 'call', E2E_PUBLIC_URL: publicUrl, E2E_ACCESS_TOKEN: accessToken, E2E_DURATION_S: String(DURATION_S), E2E_STEPS: String(STEPS),
    });
    const start = events.find((e) => e.event === 'call-start')!.t;
    const progress = events.filter((e) => e.event === 'progress').map((e) => e.t - start);
    const result = events.find((e) => e.event === 'result');
    expect(result, JSON.stringify(events)).toBeDefined();
    expect(String(result!.text)).toContain(`Duration: ${DURATION_S} seconds`);
    const end = result!.t - start;
    expect(end).toBeGreaterThanOrEqual(DURATION_S * 1000 - 500);
    expect(progress.length).toBeGreaterThanOrEqual(STEPS - 1);
    // Unbuffered: the first progress comes after ~2 s, not at the end; the rest arrive as they happen.
    expect(progress[0]!).toBeLessThan(5_000);
    expect(end - progress[0]!).toBeGreaterThan(8_000);
    for (let i = 1; i < progress.length; i++) expect(progress[i]! - progress[i - 1]!).toBeGreaterThan(1_000);
  }, 90_000);

  it('keeps an idle connection open longer than Caddy keeps its idle upstream connections (2 min), so Caddy never reuses one the broker is closing', async () => {
    // A POST Caddy writes into a connection the broker closes at that moment gets a 502: Caddy
    // cannot retry it. Node announces its idle timeout in the Keep-Alive header.
    const res = await fetch(`http://127.0.0.1:${broker.port}/healthz`);
    await res.text();
    const idleS = Number(/timeout=(\d+)/.exec(res.headers.get('keep-alive') ?? '')?.[1]);
    expect(idleS * 1000).toBeGreaterThan(CADDY_UPSTREAM_IDLE_MS);
  });

  it('publishes only the broker routes: /metrics and unknown paths are 404, /healthz answers', async () => {
    const ca = caddy!.rootCaPem;
    expect((await httpsRequest(`${publicUrl}/metrics`, ca)).status).toBe(404);
    expect((await httpsRequest(`${publicUrl}/debug/pprof`, ca)).status).toBe(404);
    expect((await httpsRequest(`${publicUrl}/healthz`, ca)).status).toBe(200);
  });

  it('refuses a body declared larger than FJMCP_MAX_BODY_BYTES with 413 before reading it; passes one of exactly that size whole, and cuts a longer chunked one to it', async () => {
    expect(accessToken, 'needs the sign-in test').not.toBe('');
    const ca = caddy!.rootCaPem;
    const url = `${publicUrl}/mcp`;
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${accessToken}` };
    const refused = await httpsRequest(url, ca, { method: 'POST', headers: { ...headers, 'content-length': String(MAX_BODY_BYTES + 1) } });
    expect(refused.status).toBe(413);
    expect(refused.body).toBe('Request body larger than 32 MiB');
    // Bodies of spaces: the broker reads them whole and answers that they hold no JSON-RPC message
    // (400). A body cut short of its declared length would be a 502 from Caddy; a chunked body
    // Caddy did not cut would be more than FJMCP_MAX_BODY_BYTES, which the broker answers 413.
    for (const r of [
      await httpsRequest(url, ca, { method: 'POST', headers, body: Buffer.alloc(MAX_BODY_BYTES, 0x20) }),
      await httpsRequest(url, ca, { method: 'POST', headers: { ...headers, 'transfer-encoding': 'chunked' }, body: Buffer.alloc(MAX_BODY_BYTES + (1 << 20), 0x20) }),
    ]) {
      expect(r.status, r.body).toBe(400);
      expect(r.body).toContain('Parse error');
    }
  }, 60_000);

  it('answers 421 when the Host header differs from the TLS server name (strict_sni_host)', async () => {
    const r = await httpsRequest(`${publicUrl}/.well-known/oauth-authorization-server`, caddy!.rootCaPem, { headers: { host: `evil.example:${ports.httpsPort}` } });
    expect(r.status).toBe(421);
  });

  it('control: with a 5 s server write timeout added, the same measurement sees the stream cut', async () => {
    expect(accessToken, 'needs the sign-in test').not.toBe('');
    await stopCaddy();
    await startCaddy((text) => text.replace('\t\t\tread_header 10s\n', '\t\t\tread_header 10s\n\t\t\twrite 5s\n'));
    // Without resuming: a client that resumes the cut stream (Last-Event-ID) gets the missed
    // progress replayed by the broker, late and together, which is the broker repairing the cut,
    // not the measurement missing it.
    const events = await client(caFile, {
      E2E_MODE: 'call', E2E_PUBLIC_URL: publicUrl, E2E_ACCESS_TOKEN: accessToken, E2E_DURATION_S: String(DURATION_S), E2E_STEPS: String(STEPS), E2E_TIMEOUT_S: '10',
      E2E_RESUME: 'off',
    });
    const start = events.find((e) => e.event === 'call-start')!.t;
    const progress = events.filter((e) => e.event === 'progress').map((e) => e.t - start);
    expect(events.find((e) => e.event === 'result'), JSON.stringify(events)).toBeUndefined();
    expect(progress.every((t) => t < 6_000), JSON.stringify(events)).toBe(true);
  }, 90_000);

  it('a client that resumes the stream the proxy cut gets the progress it missed (Last-Event-ID, MCP 2025-11-25 §resumability)', async () => {
    expect(accessToken, 'needs the sign-in test').not.toBe('');
    // Caddy still runs with the 5 s write timeout of the control above; the SDK client resumes by default.
    const events = await client(caFile, {
      E2E_MODE: 'call', E2E_PUBLIC_URL: publicUrl, E2E_ACCESS_TOKEN: accessToken, E2E_DURATION_S: String(DURATION_S), E2E_STEPS: String(STEPS), E2E_TIMEOUT_S: '13',
    });
    const seen = events.filter((e) => e.event === 'progress').map((e) => e.progress as number);
    // Progress 3 was sent after the cut: it reached the client only through the resumed stream.
    expect(seen, JSON.stringify(events)).toContain(3);
    expect(new Set(seen).size, 'nothing replayed twice').toBe(seen.length);
    expect(seen, 'in order').toEqual([...seen].sort((a, b) => a - b));
  }, 90_000);
});
