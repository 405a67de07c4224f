/**
 * @module test/relay/relay-harness
 * Runs the relay in process behind the real `/mcp` route on `@hono/node-server`, with a named
 * stand-in for the bearer check ({@link standinAuthenticate}): the real OAuth is tested elsewhere.
 * Also: the stdio children used as fixtures, and a /proc scan for leaked processes.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { serve, type ServerType } from '@hono/node-server';
import { loadConfig, type Config, type Env } from '../../src/config.js';
import { mcpRoute } from '../../src/http/mcp-route.js';
import type { Principal } from '../../src/lib/principal.js';
import { createRelay, type Relay } from '../../src/mcp/relay.js';
import { createAudit } from '../../src/ops/audit.js';
import { silentLogger, type Logger } from '../../src/ops/log.js';
import { createMetrics } from '../../src/ops/metrics.js';

const require = createRequire(import.meta.url);

/** server-everything's stdio entry (a test fixture, not a product dependency). */
export const EVERYTHING = {
  command: process.execPath,
  args: [require.resolve('@modelcontextprotocol/server-everything/dist/index.js'), 'stdio'],
};
/** Our conformance fixture child, run by node with the tsx loader. */
export const CONFORMANCE_FIXTURE: { command: string; args: string[]; sandboxPaths?: string[] } = {
  command: process.execPath,
  // Absolute loader path: the child runs in its private HOME, where `tsx` does not resolve.
  args: ['--import', pathToFileURL(join(dirname(require.resolve('tsx/package.json')), 'dist/loader.mjs')).href, fileURLToPath(new URL('../fixtures/conformance-server.ts', import.meta.url))],
  // In the sandbox tsx must see the repository's package.json ("type": "module") to load the fixture as ESM.
  sandboxPaths: [fileURLToPath(new URL('../../package.json', import.meta.url))],
};

export const STANDIN_PERSON_HEADER = 'x-standin-person';
export const STANDIN_TOKEN_HEADER = 'x-standin-forge-token';
export const STANDIN_EXPIRES_HEADER = 'x-standin-forge-token-expires';
/** A fixed expiry (2100-01-01), so one token always carries the same expiry. */
const STANDIN_DEFAULT_EXPIRY = 4_102_444_800_000;

/**
 * Stand-in for the bearer check: the person comes from `x-standin-person`, their forge token
 * from `x-standin-forge-token` (default `tok-<person>`), its expiry (ms) from
 * `x-standin-forge-token-expires`; no person header → 401.
 */
export async function standinAuthenticate(req: Request): Promise<Principal | Response> {
  const personId = req.headers.get(STANDIN_PERSON_HEADER);
  if (!personId) return new Response('stand-in: no person', { status: 401, headers: { 'www-authenticate': 'Bearer' } });
  return {
    personId,
    login: `user${personId}`,
    clientId: 'standin-client',
    grantId: `standin-grant-${personId}`,
    scopes: [],
    forgeAccessToken: req.headers.get(STANDIN_TOKEN_HEADER) ?? `tok-${personId}`,
    forgeTokenExpiresAt: Number(req.headers.get(STANDIN_EXPIRES_HEADER) ?? STANDIN_DEFAULT_EXPIRY),
  };
}

/** Relay settings for a fixture child; the sandbox is on (FJMCP_CHILD_SANDBOX=required) unless `env` says otherwise. */
export function relayConfig(child: { command: string; args: string[]; sandboxPaths?: string[] }, env: Env = {}): Config {
  return loadConfig({
    FJMCP_PUBLIC_URL: 'http://127.0.0.1:8787',
    FJMCP_FORGE_URL: 'http://127.0.0.1:3000',
    FJMCP_FORGE_CLIENT_ID: 'standin',
    FJMCP_FORGE_CLIENT_SECRET: 'standin-secret',
    FJMCP_ENCRYPTION_KEYS: randomBytes(32).toString('base64'),
    FJMCP_CHILD_PRESET: 'custom',
    FJMCP_CHILD_COMMAND: child.command,
    FJMCP_CHILD_ARGS: JSON.stringify(child.args),
    FJMCP_CHILD_TOKEN_ENV: 'FORGE_TOKEN',
    FJMCP_CHILD_URL_ENV: 'FORGE_URL',
    FJMCP_CHILD_STOP_GRACE_MS: '1000',
    FJMCP_CHILD_SANDBOX: 'required',
    FJMCP_CHILD_SANDBOX_PATHS: (child.sandboxPaths ?? []).join(':'),
    ...env,
  });
}

export interface RunningRelay {
  url: string;
  port: number;
  relay: Relay;
  config: Config;
  /** Current value of a relay gauge, e.g. `fjmcp_relay_open_streams`. */
  gauge(name: string): Promise<number>;
  /** Stops the HTTP server and the relay (every child). */
  close(): Promise<void>;
}

/** Starts route + relay on 127.0.0.1 (`port` 0 = any); the relay logs to `log` (silent by default). */
export async function startRelay(config: Config, port = 0, log: Logger = silentLogger): Promise<RunningRelay> {
  const metrics = createMetrics(false);
  const relay = createRelay({ config, log, audit: createAudit(silentLogger), metrics });
  const app = mcpRoute({ relay, authenticate: standinAuthenticate, config });
  let server!: ServerType;
  const bound = await new Promise<number>((resolve) => {
    server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port }, (info) => resolve(info.port));
  });
  return {
    url: `http://127.0.0.1:${bound}/mcp`,
    port: bound,
    relay,
    config,
    async gauge(name) {
      const m = await metrics.registry.getSingleMetric(name)?.get();
      return m?.values[0]?.value ?? 0;
    },
    async close() {
      await relay.shutdown(0);
      (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Headers that make the stand-in authenticate `person` (optionally with a given forge token). */
export function personHeaders(person: string, token?: string, expiresAt?: number): Record<string, string> {
  return {
    [STANDIN_PERSON_HEADER]: person,
    ...(token ? { [STANDIN_TOKEN_HEADER]: token } : {}),
    ...(expiresAt ? { [STANDIN_EXPIRES_HEADER]: String(expiresAt) } : {}),
  };
}

/** Live (non-zombie) processes whose environment holds `marker` (each test run uses its own). */
export function processesWithEnv(marker: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${name}/stat`, 'utf8'))) continue;
      if (readFileSync(`/proc/${name}/environ`, 'utf8').includes(marker)) out.push(Number(name));
    } catch {
      /* gone or not ours */
    }
  }
  return out;
}

/** Polls until `fn` is true or `ms` elapse. */
export async function until(fn: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (fn()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return fn();
}
