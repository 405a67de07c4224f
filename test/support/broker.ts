/**
 * In-process broker for tests: the real composition root (src/server.ts) in front of a test-bed
 * Gitea, with its own confidential OAuth2 application, data directory and encryption key.
 * `restart()` stops it and starts a new process-equivalent on the same port, data and keys.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { loadConfig, type Env } from '../../src/config.js';
import { startServer, type RunningBroker } from '../../src/server.js';
import { createLogger } from '../../src/ops/log.js';
import { createOAuthApp, type Testbed } from './testbed.js';
import { freePort } from './ports.js';

export { freePort };

export interface TestBroker {
  /** Base URL, e.g. http://127.0.0.1:41234 (no trailing slash). */
  url: string;
  /** The MCP endpoint: `${url}/mcp`. */
  mcpUrl: string;
  /** The operator listener (`/metrics`, detailed `/healthz`) of the running instance, e.g. http://127.0.0.1:41235. */
  readonly opsUrl: string;
  port: number;
  dataDir: string;
  /** The running instance (changes after restart). */
  running: RunningBroker;
  /** The settings the running instance was started with (for `fjmcp-broker admin` on its store). */
  env: Env;
  /** Every JSON log line the broker wrote so far (also across restarts). */
  logLines: string[];
  /**
   * Stops the broker (keeps data) and starts it again on the same port, with `env` overriding
   * the settings it was started with (e.g. a wrong forge client secret); `{}` restores them.
   */
  restart(env?: Env): Promise<void>;
  /** Stops the broker and removes its data directory. */
  stop(): Promise<void>;
}

export interface StartBrokerOptions {
  testbed: Testbed;
  /** Extra or overriding FJMCP_* settings. */
  env?: Env;
  /** Write the named secret setting's value (the app's client secret) to this file and pass `NAME_FILE` instead. */
  secretFile?: { name: 'FJMCP_FORGE_CLIENT_SECRET'; path: string };
}

/** A stream that collects each JSON log line into `lines` (for assertions on logs and audit events). */
export function lineSink(lines: string[]): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(line);
      cb();
    },
  });
}

/** Settings that run the npm gitea-mcp child the test bed installed (GITEA_HOST/GITEA_ACCESS_TOKEN, like the Go one). */
export function giteaMcpChildEnv(tb: Testbed): Env {
  if (!tb.children.npmGiteaMcp) throw new Error('the test bed recorded no gitea-mcp child; run scripts/testbed build');
  // The npm package's bin is a JS file; run it with this Node so PATH lookups do not matter.
  return { FJMCP_CHILD_PRESET: 'gitea-mcp-npm', FJMCP_CHILD_COMMAND: process.execPath, FJMCP_CHILD_ARGS: JSON.stringify([tb.children.npmGiteaMcp]) };
}

export async function startBroker(opts: StartBrokerOptions): Promise<TestBroker> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const app = await createOAuthApp(opts.testbed, { redirectUris: [`${url}/oauth/callback`], confidential: true, name: `broker-${port}` });
  const dataDir = mkdtempSync(join(tmpdir(), 'fjmcp-broker-test-'));
  const env: Env = {
    FJMCP_PUBLIC_URL: url,
    FJMCP_LISTEN_HOST: '127.0.0.1',
    FJMCP_LISTEN_PORT: String(port),
    FJMCP_OPS_LISTEN: '127.0.0.1:0',
    FJMCP_DATA_DIR: dataDir,
    FJMCP_FORGE_URL: opts.testbed.giteaUrl,
    FJMCP_FORGE_CLIENT_ID: app.clientId,
    FJMCP_FORGE_CLIENT_SECRET: app.clientSecret,
    FJMCP_ENCRYPTION_KEYS: randomBytes(32).toString('base64'),
    FJMCP_LOG_LEVEL: 'debug',
    // Every end-to-end test runs its children in the sandbox; no silent fallback.
    FJMCP_CHILD_SANDBOX: 'required',
    PATH: process.env.PATH,
    ...(opts.testbed.children.npmGiteaMcp ? giteaMcpChildEnv(opts.testbed) : {}),
    ...opts.env,
  };
  if (opts.secretFile) {
    writeFileSync(opts.secretFile.path, app.clientSecret, { mode: 0o600 });
    delete env[opts.secretFile.name];
    env[`${opts.secretFile.name}_FILE`] = opts.secretFile.path;
  }
  const config = loadConfig(env);
  const logLines: string[] = [];
  const sink = lineSink(logLines);
  const start = (c = config) => startServer(c, { log: createLogger(c.logLevel, sink), defaultMetrics: false });
  const broker: TestBroker = {
    url,
    mcpUrl: `${url}/mcp`,
    get opsUrl() {
      return `http://127.0.0.1:${broker.running.opsPort}`;
    },
    port,
    dataDir,
    env,
    running: await start(),
    logLines,
    async restart(overrides?: Env) {
      await broker.running.close(2_000);
      broker.env = { ...env, ...overrides };
      broker.running = await start(overrides ? loadConfig(broker.env) : config);
    },
    async stop() {
      await broker.running.close(2_000);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return broker;
}
