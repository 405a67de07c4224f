/**
 * @module bench/sandbox.bench
 * `npm run bench` (second part): what the child sandbox (src/child/sandbox.ts) costs, measured in
 * one run on one machine, sandboxed and unsandboxed interleaved so background load hits both alike.
 * - cold first call: spawn a server-everything child, `initialize`, `notifications/initialized`,
 *   `tools/call echo`, until the echo's reply: what a person's first call after an idle stop waits
 *   for, minus HTTP and OAuth (the same in both);
 * - warm call: `tools/call echo` on a running child, sandboxed and not.
 * Last line: `sandbox: cold_added_p50_ms=… cold_ratio_p50=… warm_added_p50_ms=…`.
 * Targets: cold first call ≤ 50 ms added (p50), warm calls nothing added (within noise).
 */
import { createRequire } from 'node:module';
import { ChildProcess } from '../src/child/child-process.js';
import { ChildSandbox, type SandboxSettings } from '../src/child/sandbox.js';
import { silentLogger } from '../src/ops/log.js';

const COLD = Number(process.env.BENCH_COLD ?? 30);
const WARM = Number(process.env.BENCH_CALLS ?? 2000);
const EVERYTHING = createRequire(import.meta.url).resolve('@modelcontextprotocol/server-everything/dist/index.js');
const INIT = { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '1' } } };
const echo = (id: number) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message: 'bench' } } });
const settings: SandboxSettings = { mode: 'required', paths: [], memoryBytes: 1 << 30, maxProcesses: 256, maxOpenFiles: 1024, tmpBytes: 64 << 20 };
const sandbox = new ChildSandbox({ settings, log: silentLogger, hidden: [] });
const status = await sandbox.ready();
if (!status.active) throw new Error(`the sandbox cannot be set up here: ${status.detail}`);

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const f = (x: number) => x.toFixed(1);

async function child(sandboxed: boolean) {
  const proc = await ChildProcess.spawn({
    command: process.execPath, args: [EVERYTHING, 'stdio'], env: (home) => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home }),
    maxMessageBytes: 32 << 20, stopGraceMs: 1000, log: silentLogger, secrets: [], ...(sandboxed ? { sandbox } : {}),
  });
  const waiting = new Map<number, () => void>();
  proc.onMessage = (m) => waiting.get((m as { id: number }).id)?.();
  const call = (msg: { id: number }) => new Promise<void>((res) => {
    waiting.set(msg.id, () => { waiting.delete(msg.id); res(); });
    proc.send(msg);
  });
  await call(INIT);
  proc.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  return { proc, call: (i: number) => call(echo(i)) };
}

/** Spawn → initialize → first tool call answered, ms. */
async function coldFirstCall(sandboxed: boolean): Promise<number> {
  const t = performance.now();
  const c = await child(sandboxed);
  await c.call(1);
  const ms = performance.now() - t;
  await c.proc.stop('bench');
  return ms;
}

const cold: [number[], number[]] = [[], []];
await coldFirstCall(false); // warm the page cache for both
await coldFirstCall(true);
for (let i = 0; i < COLD; i++) {
  for (const k of i % 2 ? [0, 1] : [1, 0]) cold[k]!.push(await coldFirstCall(k === 1));
}

const [plain, boxed] = [await child(false), await child(true)];
if (!boxed.proc.sandboxed || plain.proc.sandboxed) throw new Error('bench set-up: expected one sandboxed and one plain child');
const warm: [number[], number[]] = [[], []];
for (let i = 1; i <= WARM + 200; i++) {
  for (const k of i % 2 ? [0, 1] : [1, 0]) {
    const t = performance.now();
    await (k ? boxed : plain).call(i);
    if (i > 200) warm[k]!.push(performance.now() - t);
  }
}
await Promise.all([plain.proc.stop('bench'), boxed.proc.stop('bench')]);

const [c0, c1] = [pct(cold[0], 50), pct(cold[1], 50)];
const [w0, w1] = [pct(warm[0], 50), pct(warm[1], 50)];
console.log(`child sandbox (bubblewrap), node ${process.version}, server-everything child, runs interleaved`);
console.log(`cold first call (spawn, initialize, tools/call echo), ${COLD} runs each:`);
console.log(`  unsandboxed:  p50 ${f(c0)} ms   p90 ${f(pct(cold[0], 90))} ms`);
console.log(`  sandboxed:    p50 ${f(c1)} ms   p90 ${f(pct(cold[1], 90))} ms`);
console.log(`  added:        p50 ${f(c1 - c0)} ms   ratio p50 ${(c1 / c0).toFixed(2)}x   (target added <= 50 ms)`);
console.log(`warm tool call (echo), ${WARM} calls each:`);
console.log(`  unsandboxed:  p50 ${(w0).toFixed(3)} ms   sandboxed: p50 ${(w1).toFixed(3)} ms   added p50 ${(w1 - w0).toFixed(3)} ms   (target: nothing added)`);
console.log(`sandbox: cold_added_p50_ms=${f(c1 - c0)} cold_ratio_p50=${(c1 / c0).toFixed(2)} warm_added_p50_ms=${(w1 - w0).toFixed(3)}`);
