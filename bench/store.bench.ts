/**
 * @module bench/store.bench
 * `npm run bench` (second part): the store engines on the paths requests really take, measured in
 * one run on one machine, PostgreSQL as ratios against SQLite.
 * - refresh grants/s: `POST /token grant_type=refresh_token` over loopback HTTP against the whole
 *   broker app (createContext + createApp), 16 refresh-token families refreshed concurrently, each
 *   one after the other (rotation: every answer's refresh token is the next request's), by clients
 *   in a worker thread so that their HTTP work is not counted as the broker's. SQLite is
 *   the broker's file with its settings (WAL, synchronous=FULL: every commit synced to disk, the
 *   concurrent rotations of one event-loop turn group-committed);
 *   PostgreSQL a throw-away cluster with fsync on (test/support/postgres.ts, `durable: true`).
 * - bearer check: a relayed `tools/call echo` (server-everything child) through the whole app with
 *   a real access token, so the bearer check reads the token, its grant, the block and the forge
 *   tokens from the store (one statement, `tokens.findForBearer`); SQLite and PostgreSQL apps
 *   interleaved call by call.
 * Beside each pair of calls, one `SELECT 1` round trip on a pooled PostgreSQL connection: the floor
 * any PostgreSQL read pays in the same machine state.
 * The forge is a stand-in (`benchStandinForge`): neither path calls it while tokens are fresh.
 * Last line: `store: sqlite_refresh_per_s=… postgres_refresh_per_s=… … bearer_added_p50_ms=…`.
 * Targets: ≥ 1,000 refresh grants/s on SQLite; PostgreSQL bearer check ≤ 0.3 ms p50 over SQLite.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { serve } from '@hono/node-server';
import pgLib from 'pg';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { closeContext, createContext } from '../src/context.js';
import { sha256 } from '../src/lib/crypto.js';
import { silentLogger } from '../src/ops/log.js';
import { openPostgresStore } from '../src/store/postgres/index.js';
import { openSqliteStore, type Store } from '../src/store/store.js';
import type { ForgeClient } from '../src/upstream/types.js';
import { createDatabase, startPostgres, stopPostgres } from '../test/support/postgres.js';

const FAMILIES = 16;
const REFRESH_MS = Number(process.env.BENCH_REFRESH_MS ?? 5000);
const N_CALLS = Number(process.env.BENCH_CALLS ?? 2000);
const WARMUP = 200;
const EVERYTHING = createRequire(import.meta.url).resolve('@modelcontextprotocol/server-everything/dist/index.js');
const MCP_URL = 'http://127.0.0.1:8787/mcp';
const FAR = 4_102_444_800_000;

/**
 * The refresh clients (a worker thread, CommonJS): one chain per family, each answer's refresh
 * token the next request's, for `ms`; posts the count, the seconds taken and the newest tokens.
 */
const REFRESH_CLIENTS = `
const { parentPort, workerData: { url, tokens, ms } } = require('node:worker_threads');
(async () => {
  let done = 0;
  const t0 = performance.now();
  const end = t0 + ms;
  try {
    await Promise.all(tokens.map(async (_, i) => {
      while (performance.now() < end) {
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens[i], client_id: 'bench-client' }).toString() });
        const body = await res.json();
        if (!body.refresh_token) throw new Error('refresh failed: ' + JSON.stringify(body));
        tokens[i] = body.refresh_token;
        done++;
      }
    }));
    parentPort.postMessage({ done, seconds: (performance.now() - t0) / 1000, tokens });
  } catch (err) {
    parentPort.postMessage({ done, seconds: 1, tokens, error: String(err) });
  }
})();
`;

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const f = (x: number) => x.toFixed(3);

/** Stand-in forge: the benchmarked paths never reach it while the stored forge token is fresh. */
const benchStandinForge: ForgeClient = {
  authorizationUrl: () => new URL('http://127.0.0.1:1/'),
  exchangeCode: async () => ({ accessToken: 'forge-at', refreshToken: 'forge-rt', expiresAt: FAR }),
  refresh: async () => ({ accessToken: 'forge-at', refreshToken: 'forge-rt', expiresAt: FAR }),
  identify: async () => ({ id: 'p1', login: 'bench', isAdmin: false }),
  isAllowed: async () => true,
  memberships: async () => ({ orgs: [], teams: [] }),
  health: async () => ({ ok: true }),
  credentials: () => ({ ok: true }),
  verifyCredentials: async () => ({ ok: true }),
};

const config = loadConfig({
  FJMCP_PUBLIC_URL: 'http://127.0.0.1:8787', FJMCP_FORGE_URL: 'http://127.0.0.1:1', FJMCP_FORGE_CLIENT_ID: 'bench',
  FJMCP_FORGE_CLIENT_SECRET: 'bench', FJMCP_ENCRYPTION_KEYS: randomBytes(32).toString('base64'), FJMCP_CHILD_PRESET: 'custom',
  FJMCP_CHILD_COMMAND: process.execPath, FJMCP_CHILD_ARGS: JSON.stringify([EVERYTHING, 'stdio']), FJMCP_CHILD_TOKEN_ENV: 'FORGE_TOKEN',
  FJMCP_LOG_LEVEL: 'fatal', FJMCP_REFRESH_GRACE_S: '60',
    // The per-person rate limit stays on (its check is on the path a call takes) but set out of reach:
    // the bench sends far more than an assistant would.
    FJMCP_MCP_RATE_PER_MIN: '100000000', FJMCP_MCP_BURST: '100000000', FJMCP_OAUTH_RATE_PER_MIN: '100000000',
});

/** The whole broker on `store`, listening on loopback, with one person, one client and tokens. */
async function brokerOn(store: Store) {
  const ctx = await createContext(config, { log: silentLogger, defaultMetrics: false, store, forge: benchStandinForge });
  const app = createApp(ctx);
  const { server, port } = await new Promise<{ server: ReturnType<typeof serve>; port: number }>((res) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (i) => res({ server: s, port: i.port }));
  });
  const now = Date.now();
  await store.clients.insert({ clientId: 'bench-client', source: 'dcr', metadata: JSON.stringify({ redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] }), secretHash: null, createdAt: now, lastUsedAt: null, freshUntil: null });
  await ctx.forgeTokens.save({ id: 'p1', login: 'bench', isAdmin: false }, { accessToken: 'forge-at', refreshToken: 'forge-rt', expiresAt: FAR });
  const refreshTokens: string[] = [];
  for (let i = 0; i < FAMILIES; i++) {
    const grantId = `gr_bench_${i}`;
    await store.grants.createWithCode(
      { id: grantId, personId: 'p1', login: 'bench', clientId: 'bench-client', scope: 'mcp', resource: MCP_URL, createdAt: now },
      { hash: sha256(`code-${i}`), clientId: 'bench-client', redirectUri: 'http://127.0.0.1/cb', codeChallenge: 'x', resource: MCP_URL, scope: 'mcp', expiresAt: now },
    );
    const rt = `mcpb_rt_bench_${i}_${randomBytes(8).toString('hex')}`;
    await store.tokens.insert({ hash: sha256(rt), kind: 'refresh', grantId, clientId: 'bench-client', scope: 'mcp', resource: MCP_URL, createdAt: now, expiresAt: FAR });
    refreshTokens.push(rt);
  }
  const accessToken = `mcpb_at_bench_${randomBytes(8).toString('hex')}`;
  await store.tokens.insert({ hash: sha256(accessToken), kind: 'access', grantId: 'gr_bench_0', clientId: 'bench-client', scope: 'mcp', resource: MCP_URL, createdAt: now, expiresAt: FAR });
  const base = `http://127.0.0.1:${port}`;
  const headers = { accept: 'application/json, text/event-stream', 'content-type': 'application/json', authorization: `Bearer ${accessToken}` };
  const post = async (body: object, sid?: string) => {
    const res = await fetch(`${base}/mcp`, { method: 'POST', headers: sid ? { ...headers, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' } : headers, body: JSON.stringify(body) });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`HTTP ${res.status}: ${text}`);
    return { sid: res.headers.get('mcp-session-id') ?? sid, text };
  };
  return {
    /**
     * Refreshes every family in parallel, each in a chain, for `ms`, from a worker thread (the
     * clients are not the broker: their HTTP work runs beside its event loop, not on it).
     * @returns grants per second.
     */
    async refreshRate(ms: number): Promise<number> {
      const worker = new Worker(REFRESH_CLIENTS, { eval: true, workerData: { url: `${base}/token`, tokens: refreshTokens, ms } });
      const [out] = (await once(worker, 'message')) as [{ done: number; seconds: number; tokens: string[]; error?: string }];
      if (out.error) throw new Error(out.error);
      refreshTokens.splice(0, refreshTokens.length, ...out.tokens);
      return out.done / out.seconds;
    },
    async session() {
      const init = await post({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '1' } } });
      await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, init.sid!);
      const check = await post({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: 'bench' } } }, init.sid!);
      if (!check.text.includes('Echo: bench')) throw new Error(`unexpected reply ${check.text}`);
      return (i: number) => post({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'echo', arguments: { message: 'bench' } } }, init.sid!);
    },
    async close() {
      (server as unknown as { closeAllConnections(): void }).closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await closeContext(ctx, 0);
    },
  };
}

const dir = mkdtempSync(join(tmpdir(), 'fjmcp-bench-store-'));
const cluster = await startPostgres({ durable: true });
try {
  const sqlite = await brokerOn(await openSqliteStore(join(dir, 'broker.sqlite')));
  const pgUrl = await createDatabase(cluster.url, 'bench');
  const pg = await brokerOn(await openPostgresStore(pgUrl));

  await sqlite.refreshRate(500); // warm-up
  await pg.refreshRate(500);
  const sqliteRate = await sqlite.refreshRate(REFRESH_MS);
  const pgRate = await pg.refreshRate(REFRESH_MS);

  const calls = [await sqlite.session(), await pg.session()] as const;
  // The floor of any PostgreSQL read here: one `SELECT 1` round trip on a pooled connection (as
  // the store's), timed between the relayed calls so that it meets the same machine state.
  const probe = new pgLib.Pool({ connectionString: pgUrl, max: 1, min: 1 });
  const times: [number[], number[]] = [[], []];
  const roundTrips: number[] = [];
  for (let i = 2; i < N_CALLS + WARMUP + 2; i++) {
    for (let k = 0; k < 2; k++) {
      const j = (i + k) % 2; // alternate which engine goes first
      const t = performance.now();
      await calls[j]!(i);
      if (i >= WARMUP + 2) times[j]!.push(performance.now() - t);
    }
    const t = performance.now();
    await probe.query({ name: 'probe', text: 'SELECT 1' });
    if (i >= WARMUP + 2) roundTrips.push(performance.now() - t);
  }
  await probe.end();
  await sqlite.close();
  await pg.close();

  const [sP50, pP50] = [pct(times[0], 50), pct(times[1], 50)];
  const [sP99, pP99] = [pct(times[0], 99), pct(times[1], 99)];
  console.log(`refresh grants at POST /token, ${FAMILIES} families concurrently for ${REFRESH_MS} ms each, node ${process.version}`);
  console.log(`  SQLite (WAL, synchronous=FULL):    ${sqliteRate.toFixed(0)} grants/s   (target >= 1000)`);
  console.log(`  PostgreSQL (fsync on):            ${pgRate.toFixed(0)} grants/s   ratio ${(pgRate / sqliteRate).toFixed(2)}x of SQLite`);
  console.log(`relayed tools/call (echo) with the bearer check reading the store, ${N_CALLS} calls per engine, interleaved:`);
  console.log(`  SQLite:      p50 ${f(sP50)} ms   p99 ${f(sP99)} ms`);
  console.log(`  PostgreSQL:  p50 ${f(pP50)} ms   p99 ${f(pP99)} ms   added p50 ${f(pP50 - sP50)} ms   ratio p50 ${(pP50 / sP50).toFixed(2)}x   (target added p50 <= 0.3 ms)`);
  console.log(`  one PostgreSQL round trip (SELECT 1, pooled connection, between the calls): p50 ${f(pct(roundTrips, 50))} ms`);
  console.log(`store: sqlite_refresh_per_s=${sqliteRate.toFixed(0)} postgres_refresh_per_s=${pgRate.toFixed(0)} postgres_refresh_ratio=${(pgRate / sqliteRate).toFixed(2)} sqlite_call_p50_ms=${f(sP50)} postgres_call_p50_ms=${f(pP50)} bearer_added_p50_ms=${f(pP50 - sP50)} postgres_round_trip_p50_ms=${f(pct(roundTrips, 50))}`);
} finally {
  await stopPostgres(cluster);
  rmSync(dir, { recursive: true, force: true });
}
