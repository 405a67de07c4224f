/**
 * @module bench/relay.bench
 * `npm run bench`: what the relay adds to a tool call, measured in one run on one machine.
 * - direct: JSON-RPC `tools/call echo` written straight to a server-everything stdio child;
 * - relay: the same call POSTed to the broker's `/mcp` (in process, loopback HTTP, SSE reply)
 *   and relayed to a server-everything child of the same build, on a 2025-11-25 session;
 * - modern: the same call as a 2026-07-28 request (no session; `_meta` envelope, `Mcp-Method`,
 *   `Mcp-Name`; JSON reply), through the same broker and child;
 * - HTTP floor: the same fetch client against a handler that answers at once (no relay);
 * - warm initialize + call: a fresh session (`initialize`, `notifications/initialized`,
 *   `tools/call`) per iteration with the person's child already running (Claude.ai's pattern).
 * Both sides use raw JSON-RPC (no SDK client), so the difference is the broker's own cost plus
 * HTTP. The three call paths are interleaved call by call, so background load hits them alike.
 * Last line: `relay: added_p50_ms=… added_p99_ms=… warm_init_call_p50_ms=… direct_p50_ms=…
 * modern_added_p50_ms=… modern_added_p99_ms=… floor_p50_ms=… floor_p99_ms=…`. "Added" holds one HTTP
 * round trip, so it can never be below the floor's p50; the relay's own share is what is above it.
 * Targets (both paths): added p50 ≤ 0.5 ms, added p99 ≤ 2 ms; warm initialize + call p50 ≤ 5 ms.
 */
import { randomBytes } from 'node:crypto';
import { serve } from '@hono/node-server';
import { loadConfig } from '../src/config.js';
import { mcpRoute } from '../src/http/mcp-route.js';
import type { Principal } from '../src/lib/principal.js';
import { createRelay } from '../src/mcp/relay.js';
import { createAudit } from '../src/ops/audit.js';
import { silentLogger } from '../src/ops/log.js';
import { createMetrics } from '../src/ops/metrics.js';
import { EVERYTHING, INIT, directChild, echo } from './direct-child.js';

const N = Number(process.env.BENCH_CALLS ?? 3000);
const WARMUP = 300;
const N_INIT = Number(process.env.BENCH_INITS ?? 500);

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const f = (x: number) => x.toFixed(3);
type Server = ReturnType<typeof serve>;
const listen = (fetch: (req: Request) => Response | Promise<Response>) =>
  new Promise<{ server: Server; port: number }>((res) => {
    const server = serve({ fetch, hostname: '127.0.0.1', port: 0 }, (i) => res({ server, port: i.port }));
  });
const closeServer = async (server: Server) => {
  (server as unknown as { closeAllConnections(): void }).closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
};

/** A server-everything child spoken to directly over stdio. */
/** The broker's /mcp route and relay in process, with a stand-in bearer check. */
async function broker() {
  const config = loadConfig({
    FJMCP_PUBLIC_URL: 'http://127.0.0.1:8787', FJMCP_FORGE_URL: 'http://127.0.0.1:3000', FJMCP_FORGE_CLIENT_ID: 'bench',
    FJMCP_FORGE_CLIENT_SECRET: 'bench', FJMCP_ENCRYPTION_KEYS: randomBytes(32).toString('base64'), FJMCP_CHILD_PRESET: 'custom',
    FJMCP_CHILD_COMMAND: process.execPath, FJMCP_CHILD_ARGS: JSON.stringify([EVERYTHING, 'stdio']), FJMCP_CHILD_TOKEN_ENV: 'FORGE_TOKEN',
    // Like the direct child: the relay's own cost only. The sandbox's cost: bench/sandbox.bench.ts.
    FJMCP_CHILD_SANDBOX: 'off',
  });
  const relay = createRelay({ config, log: silentLogger, audit: createAudit(silentLogger), metrics: createMetrics(false) });
  // Stand-in for the bearer check: the bench measures the relay, not OAuth.
  const principal: Principal = { personId: 'bench', login: 'bench', clientId: 'bench', grantId: 'bench', scopes: [], forgeAccessToken: 'tok-bench', forgeTokenExpiresAt: 4_102_444_800_000 };
  const app = mcpRoute({ relay, authenticate: async () => principal, config });
  const { server, port } = await listen(app.fetch);
  const url = `http://127.0.0.1:${port}/mcp`;
  const base = { accept: 'application/json, text/event-stream', 'content-type': 'application/json' };
  const post = async (body: object, sid?: string) => {
    const res = await fetch(url, { method: 'POST', headers: sid ? { ...base, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' } : base, body: JSON.stringify(body) });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`HTTP ${res.status}: ${text}`);
    return { sid: res.headers.get('mcp-session-id') ?? sid, text };
  };
  const first = await post(INIT); // starts the child
  await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, first.sid!);
  const check = await post(echo(1), first.sid!);
  if (!check.text.includes('Echo: bench')) throw new Error(`unexpected reply ${check.text}`);
  const modernHeaders = { ...base, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'echo' };
  const envelope = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientInfo': { name: 'bench', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': {} };
  const modernCall = async (i: number) => {
    const body = { jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'echo', arguments: { message: 'bench' }, _meta: envelope } };
    const res = await fetch(url, { method: 'POST', headers: modernHeaders, body: JSON.stringify(body) });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${text}`);
    return text;
  };
  const modernCheck = await modernCall(1);
  if (!modernCheck.includes('Echo: bench') || !modernCheck.includes('"resultType":"complete"')) throw new Error(`unexpected modern reply ${modernCheck}`);
  return {
    call: (i: number) => post(echo(i), first.sid!),
    modern: { call: (i: number) => modernCall(i) },
    warmInitCall: async () => {
      const s = await post(INIT);
      await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, s.sid!);
      await post(echo(1), s.sid!);
    },
    close: async () => {
      await relay.shutdown(0);
      await closeServer(server);
    },
  };
}

/** The HTTP floor: a handler that answers at once. */
async function floorServer() {
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'Echo: bench' }] } });
  const { server, port } = await listen(async (req) => {
    await req.text();
    return new Response(body, { headers: { 'content-type': 'application/json' } });
  });
  return {
    call: async (i: number) => void (await (await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: JSON.stringify(echo(i)) })).text()),
    close: () => closeServer(server),
  };
}

const d = await directChild();
const b = await broker();
const h = await floorServer();
const paths = [d, b, h, b.modern] as const;
const times: number[][] = [[], [], [], []];
for (let i = 1; i <= N + WARMUP; i++) {
  for (let k = 0; k < paths.length; k++) {
    const j = (i + k) % paths.length; // rotate the order so no path always runs first
    const t = performance.now();
    await paths[j]!.call(i);
    if (i > WARMUP) times[j]!.push(performance.now() - t);
  }
}
const inits: number[] = [];
for (let i = 0; i < N_INIT + 50; i++) {
  const t = performance.now();
  await b.warmInitCall();
  if (i >= 50) inits.push(performance.now() - t);
}
await Promise.all([d.close(), b.close(), h.close()]);

const [dt, rt, ht, mt] = times as [number[], number[], number[], number[]];
const dP50 = pct(dt, 50), dP99 = pct(dt, 99), rP50 = pct(rt, 50), rP99 = pct(rt, 99), iP50 = pct(inits, 50), iP99 = pct(inits, 99);
const mP50 = pct(mt, 50), mP99 = pct(mt, 99);
console.log(`tool call (echo), ${N} calls per path after ${WARMUP} warm-up, paths interleaved, node ${process.version}`);
console.log(`  direct stdio:        p50 ${f(dP50)} ms   p99 ${f(dP99)} ms`);
console.log(`  through the broker:  p50 ${f(rP50)} ms   p99 ${f(rP99)} ms`);
console.log(`  added:               p50 ${f(rP50 - dP50)} ms   p99 ${f(rP99 - dP99)} ms   ratio p50 ${(rP50 / dP50).toFixed(2)}x   (target added p50 <= 0.5 ms)`);
console.log(`  2026-07-28 request:  p50 ${f(mP50)} ms   p99 ${f(mP99)} ms   (no session; JSON reply)`);
console.log(`  added (2026-07-28):  p50 ${f(mP50 - dP50)} ms   p99 ${f(mP99 - dP99)} ms   ratio p50 ${(mP50 / dP50).toFixed(2)}x   (target: added p50 <= 0.5 ms, p99 <= 2 ms, no worse than the 2025 path)`);
const hP50 = pct(ht, 50), hP99 = pct(ht, 99);
console.log(`  HTTP floor:          p50 ${f(hP50)} ms   p99 ${f(hP99)} ms (same fetch client, a handler that answers at once: the part of "added" any HTTP relay pays)`);
console.log(`  relay's own share (added less the HTTP floor): 2025-11-25 p50 ${f(rP50 - dP50 - hP50)} ms, 2026-07-28 p50 ${f(mP50 - dP50 - hP50)} ms`);
console.log(`warm initialize + initialized + tool call, fresh session each, child running (${N_INIT} runs):`);
console.log(`  p50 ${f(iP50)} ms   p99 ${f(iP99)} ms   (target p50 <= 5 ms)`);
console.log(`relay: added_p50_ms=${f(rP50 - dP50)} added_p99_ms=${f(rP99 - dP99)} warm_init_call_p50_ms=${f(iP50)} direct_p50_ms=${f(dP50)} modern_added_p50_ms=${f(mP50 - dP50)} modern_added_p99_ms=${f(mP99 - dP99)} floor_p50_ms=${f(hP50)} floor_p99_ms=${f(hP99)}`);
