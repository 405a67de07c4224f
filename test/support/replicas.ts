/**
 * @module test/support/replicas — N broker processes (`node src/main.ts serve`, real OS
 * processes) on one PostgreSQL database, with one public URL in front: the same encryption keys,
 * forge application and settings on every replica, as an operator runs them (docs/scale-out.md).
 *
 * The front is either {@link startSteeringProxy} — a loopback reverse proxy the test steers
 * request by request ("this one to replica B"), a stand-in for the load balancer used where a
 * test must choose the replica — or Debian's Caddy (test/deploy), passed in as `front`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import type { Env } from '../../src/config.js';
import { giteaMcpChildEnv } from './broker.js';
import { freePort } from './ports.js';
import { createOAuthApp, type Testbed } from './testbed.js';

/** One active health-check round of deploy/caddy/Caddyfile.replicas (health_interval + health_timeout), in ms. */
const HEALTH_ROUND_MS = 8_000;

const require = createRequire(import.meta.url);
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const TSX_LOADER = pathToFileURL(join(dirname(require.resolve('tsx/package.json')), 'dist/loader.mjs')).href;

export interface Replica {
  name: string;
  /** Direct URL of this replica (bypassing the front). */
  url: string;
  port: number;
  proc: ChildProcess;
  /** JSON log lines written so far. */
  logLines: string[];
  /** Resolves when the process has exited. */
  exited: Promise<void>;
}

export interface Front {
  /** The public URL (FJMCP_PUBLIC_URL of every replica). */
  url: string;
  stop(): Promise<void>;
}

export interface ReplicaSet {
  publicUrl: string;
  mcpUrl: string;
  replicas: Replica[];
  env: Env;
  /** Starts replica `i` again (after it was killed) on its port. */
  restart(i: number): Promise<void>;
  stop(): Promise<void>;
}

export interface StartReplicasOptions {
  testbed: Testbed;
  count: number;
  databaseUrl: string;
  /** Builds the front for the replicas' ports. */
  front: (ports: number[]) => Promise<Front>;
  env?: Env;
}

export async function startReplicas(opts: StartReplicasOptions): Promise<ReplicaSet> {
  const ports = await Promise.all(Array.from({ length: opts.count }, () => freePort()));
  const front = await opts.front(ports);
  const app = await createOAuthApp(opts.testbed, { redirectUris: [`${front.url}/oauth/callback`], confidential: true, name: `replicas-${ports[0]}` });
  const dataDir = mkdtempSync(join(tmpdir(), 'fjmcp-replicas-'));
  const env: Env = {
    FJMCP_PUBLIC_URL: front.url,
    FJMCP_LISTEN_HOST: '127.0.0.1',
    FJMCP_DATA_DIR: dataDir,
    FJMCP_DATABASE_URL: opts.databaseUrl,
    FJMCP_FORGE_URL: opts.testbed.giteaUrl,
    FJMCP_FORGE_CLIENT_ID: app.clientId,
    FJMCP_FORGE_CLIENT_SECRET: app.clientSecret,
    FJMCP_ENCRYPTION_KEYS: randomBytes(32).toString('base64'),
    FJMCP_LOG_LEVEL: 'debug',
    FJMCP_TRUST_PROXY: 'true',
    PATH: process.env.PATH,
    ...(opts.testbed.children.npmGiteaMcp ? giteaMcpChildEnv(opts.testbed) : {}),
    ...opts.env,
  };
  const replicas: Replica[] = [];
  const launch = async (i: number): Promise<Replica> => {
    const port = ports[i]!;
    const proc = spawn(process.execPath, ['--import', TSX_LOADER, join(repoRoot, 'src/main.ts'), 'serve'], {
      cwd: repoRoot,
      env: { ...(env as NodeJS.ProcessEnv), FJMCP_LISTEN_PORT: String(port), FJMCP_OPS_LISTEN: '127.0.0.1:0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const logLines: string[] = [];
    let buf = '';
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      const lines = buf.split('\n');
      buf = lines.pop()!;
      logLines.push(...lines.filter(Boolean));
    });
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    const r: Replica = { name: String.fromCharCode(65 + i), url: `http://127.0.0.1:${port}`, port, proc, logLines, exited };
    const deadline = Date.now() + 60_000;
    while (!logLines.some((l) => l.includes('"listening"'))) {
      if (proc.exitCode !== null) throw new Error(`replica ${r.name} exited ${proc.exitCode}: ${stderr}${logLines.join('\n')}`);
      if (Date.now() > deadline) throw new Error(`replica ${r.name} did not listen within 60 s: ${stderr}`);
      await new Promise((res) => setTimeout(res, 50));
    }
    return r;
  };
  try {
    // One after another, then together would also work (migrations run under a lock); sequential
    // keeps the machine's load down while the others start.
    for (let i = 0; i < opts.count; i++) replicas.push(await launch(i));
    // A replica that listens may still answer its first /healthz with 503 (its first checks are
    // still running): wait until each one answers 200 itself.
    const deadline = Date.now() + 30_000;
    for (const r of replicas) {
      while (!(await fetch(`${r.url}/healthz`).then((res) => res.ok, () => false))) {
        if (Date.now() > deadline) throw new Error(`replica ${r.name} did not answer /healthz 200 within 30 s`);
        await new Promise((res) => setTimeout(res, 100));
      }
    }
    // The front may have checked its upstreams before then (Caddy's active health check runs at
    // start, then every health_interval): wait until it routes to them.
    while (!(await fetch(`${front.url}/healthz`).then((res) => res.ok, () => false))) {
      if (Date.now() > deadline) throw new Error('the front did not route to any replica within 30 s');
      await new Promise((res) => setTimeout(res, 100));
    }
    // The front hashes a person's Authorization header over the upstreams it holds healthy; one
    // replica found healthy a round after the others would move a person mid-test. Caddy's view is
    // not observable (its admin API reports no health state), so wait one full active-check round
    // (health_interval 5 s + health_timeout 3 s in Caddyfile.replicas) after all answer 200.
    await new Promise((res) => setTimeout(res, HEALTH_ROUND_MS));
  } catch (err) {
    for (const r of replicas) r.proc.kill('SIGKILL');
    await front.stop();
    throw err;
  }
  return {
    publicUrl: front.url,
    mcpUrl: `${front.url}/mcp`,
    replicas,
    env,
    async restart(i) {
      replicas[i] = await launch(i);
    },
    async stop() {
      for (const r of replicas) if (r.proc.exitCode === null && r.proc.signalCode === null) r.proc.kill('SIGTERM');
      await Promise.all(replicas.map((r) => Promise.race([r.exited, new Promise((res) => setTimeout(res, 15_000))])));
      for (const r of replicas) if (r.proc.exitCode === null && r.proc.signalCode === null) r.proc.kill('SIGKILL');
      await front.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Which replica (index) serves a request; the default alternates. */
export type Steer = (req: IncomingMessage) => number;

export interface SteeringProxy extends Front {
  /** Replaces the routing rule. */
  steer: Steer;
  /** How many requests each replica got (by index). */
  counts: number[];
}

/**
 * Stand-in load balancer for tests that must choose the replica of each request: a loopback
 * HTTP reverse proxy that forwards to `ports[steer(req)]` (streams both ways, SSE included) and
 * sets X-Forwarded-For like Caddy.
 */
export async function startSteeringProxy(ports: number[]): Promise<SteeringProxy> {
  let next = 0;
  const proxy: SteeringProxy = {
    url: '',
    counts: ports.map(() => 0),
    steer: () => next++ % ports.length,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server: Server = createServer((req, res) => {
    const i = proxy.steer(req);
    proxy.counts[i]!++;
    const up = httpRequest(
      { host: '127.0.0.1', port: ports[i], method: req.method, path: req.url, headers: { ...req.headers, 'x-forwarded-for': '127.0.0.1' } },
      (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
      },
    );
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end('steering proxy: replica unreachable');
      else res.destroy();
    });
    req.pipe(up);
  });
  const port = await new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as { port: number }).port)));
  proxy.url = `http://127.0.0.1:${port}`;
  return proxy;
}
