/**
 * @module bench/relay.bench
 * `npm run bench`: what the relay adds to a tool call, measured in one run on one machine.
 * - direct: JSON-RPC `tools/call echo` written straight to a server-everything stdio child;
 * - relay: the same call POSTed to the broker's `/mcp` (in process, loopback HTTP, SSE reply)
 *   and relayed to a server-everything child of the same build;
 * - warm initialize + call: a fresh session (`initialize`, `notifications/initialized`,
 *   `tools/call`) per iteration with the person's child already running (Claude.ai's pattern).
 * Both sides use raw JSON-RPC (no SDK client), so the difference is the broker's own cost.
 * Last line: `relay: added_p50_ms=… added_p99_ms=… warm_init_call_p50_ms=… direct_p50_ms=…`.
 * Targets: added p50 ≤ 0.5 ms, warm initialize + call p50 ≤ 5 ms.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { serve } from '@hono/node-server';
import { ChildProcess } from '../src/child/child-process.js';
import { loadConfig } from '../src/config.js';
import { mcpRoute } from '../src/http/mcp-route.js';
import type { Principal } from '../src/lib/principal.js';
import { createRelay } from '../src/mcp/relay.js';
import { createAudit } from '../src/ops/audit.js';
import { silentLogger } from '../src/ops/log.js';
import { createMetrics } from '../src/ops/metrics.js';

const N = Number(process.env.BENCH_CALLS ?? 3000);
const WARMUP = 300;
const N_INIT = Number(process.env.BENCH_INITS ?? 500);
const EVERYTHING = createRequire(import.meta.url).resolve('@modelcontextprotocol/server-everything/dist/index.js');

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const f = (x: number) => x.toFixed(3);
const echo = (id: number | string) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message: 'bench' } } });

async function direct(): Promise<number[]> {
  const child = await ChildProcess.spawn({
    command: process.execPath, args: [EVERYTHING, 'stdio'], env: (home) => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home }),
    maxMessageBytes: 32 << 20, stopGraceMs: 1000, log: silentLogger, secrets: [],
  });
  const waiting = new Map<number, () => void>();
  child.onMessage = (m) => waiting.get((m as { id: number }).id)?.();
  const call = (msg: object & { id: number }) => new Promise<void>((res) => {
    waiting.set(msg.id, () => { waiting.delete(msg.id); res(); });
    child.send(msg);
  });
  await call({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '1' } } } as never);
  child.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  const times: number[] = [];
  for (let i = 1; i <= N + WARMUP; i++) {
    const t = performance.now();
    await call(echo(i) as never);
    if (i > WARMUP) times.push(performance.now() - t);
  }
  await child.stop('bench');
  return times;
}

async function viaRelay(): Promise<{ calls: number[]; inits: number[]; close: () => Promise<void> }> {
  const config = loadConfig({
    FJMCP_PUBLIC_URL: 'http://127.0.0.1:8787', FJMCP_FORGE_URL: 'http://127.0.0.1:3000', FJMCP_FORGE_CLIENT_ID: 'bench',
    FJMCP_FORGE_CLIENT_SECRET: 'bench', FJMCP_ENCRYPTION_KEYS: randomBytes(32).toString('base64'), FJMCP_CHILD_PRESET: 'custom',
    FJMCP_CHILD_COMMAND: process.execPath, FJMCP_CHILD_ARGS: JSON.stringify([EVERYTHING, 'stdio']), FJMCP_CHILD_TOKEN_ENV: 'FORGE_TOKEN',
  });
  const relay = createRelay({ config, log: silentLogger, audit: createAudit(silentLogger), metrics: createMetrics(false) });
  // Stand-in for the bearer check: the bench measures the relay, not OAuth.
  const principal: Principal = { personId: 'bench', login: 'bench', clientId: 'bench', grantId: 'bench', scopes: [], forgeAccessToken: 'tok-bench', forgeTokenExpiresAt: 4_102_444_800_000 };
  const app = mcpRoute({ relay, authenticate: async () => principal, config });
  let server!: ReturnType<typeof serve>;
  const port = await new Promise<number>((res) => { server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (i) => res(i.port)); });
  const url = `http://127.0.0.1:${port}/mcp`;
  const base = { accept: 'application/json, text/event-stream', 'content-type': 'application/json' };
  const post = async (body: object, sid?: string) => {
    const res = await fetch(url, { method: 'POST', headers: sid ? { ...base, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' } : base, body: JSON.stringify(body) });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`HTTP ${res.status}: ${text}`);
    return { sid: res.headers.get('mcp-session-id') ?? sid, text };
  };
  const init = { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '1' } } };
  const first = await post(init); // starts the child
  await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, first.sid!);
  const calls: number[] = [];
  for (let i = 1; i <= N + WARMUP; i++) {
    const t = performance.now();
    const r = await post(echo(i), first.sid!);
    if (i > WARMUP) calls.push(performance.now() - t);
    if (i === 1 && !r.text.includes('Echo: bench')) throw new Error(`unexpected reply ${r.text}`);
  }
  const inits: number[] = [];
  for (let i = 0; i < N_INIT + 50; i++) {
    const t = performance.now();
    const s = await post(init);
    await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, s.sid!);
    await post(echo(1), s.sid!);
    if (i >= 50) inits.push(performance.now() - t);
  }
  return {
    calls, inits,
    close: async () => {
      await relay.shutdown(0);
      (server as unknown as { closeAllConnections(): void }).closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** The HTTP floor: the same fetch client against a handler that answers at once (no relay). */
async function httpFloor(): Promise<number[]> {
  let server!: ReturnType<typeof serve>;
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'Echo: bench' }] } });
  const port = await new Promise<number>((res) => {
    server = serve({ fetch: async (req) => { await req.text(); return new Response(body, { headers: { 'content-type': 'application/json' } }); }, hostname: '127.0.0.1', port: 0 }, (i) => res(i.port));
  });
  const times: number[] = [];
  for (let i = 0; i < N + WARMUP; i++) {
    const t = performance.now();
    await (await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: JSON.stringify(echo(i)) })).text();
    if (i >= WARMUP) times.push(performance.now() - t);
  }
  (server as unknown as { closeAllConnections(): void }).closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  return times;
}

const floor = await httpFloor();
const d = await direct();
const r = await viaRelay();
await r.close();
const dP50 = pct(d, 50), dP99 = pct(d, 99), rP50 = pct(r.calls, 50), rP99 = pct(r.calls, 99), iP50 = pct(r.inits, 50), iP99 = pct(r.inits, 99);
console.log(`tool call (echo), ${N} sequential calls after ${WARMUP} warm-up, node ${process.version}`);
console.log(`  direct stdio:        p50 ${f(dP50)} ms   p99 ${f(dP99)} ms`);
console.log(`  through the broker:  p50 ${f(rP50)} ms   p99 ${f(rP99)} ms`);
console.log(`  added:               p50 ${f(rP50 - dP50)} ms   p99 ${f(rP99 - dP99)} ms   ratio p50 ${(rP50 / dP50).toFixed(2)}x   (target added p50 <= 0.5 ms)`);
console.log(`  of which HTTP floor:  p50 ${f(pct(floor, 50))} ms (same fetch client, a handler that answers at once)`);
console.log(`warm initialize + initialized + tool call, fresh session each, child running (${N_INIT} runs):`);
console.log(`  p50 ${f(iP50)} ms   p99 ${f(iP99)} ms   (target p50 <= 5 ms)`);
console.log(`relay: added_p50_ms=${f(rP50 - dP50)} added_p99_ms=${f(rP99 - dP99)} warm_init_call_p50_ms=${f(iP50)} direct_p50_ms=${f(dP50)}`);
