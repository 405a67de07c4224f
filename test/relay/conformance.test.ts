/**
 * The official conformance suite (`@modelcontextprotocol/conformance` 0.1.13, server scenarios,
 * active suite) passes through the broker against our stdio fixture child. The runner cannot
 * send credentials, so a loopback proxy adds the stand-in identity; Host
 * and Origin pass through, so dns-rebinding-protection tests the broker's own checks.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startInjectingProxy, type InjectingProxy } from './injecting-proxy.js';
import { CONFORMANCE_FIXTURE, STANDIN_PERSON_HEADER, relayConfig, startRelay, type RunningRelay } from './relay-harness.js';

const CLI = resolve(import.meta.dirname, '../../node_modules/@modelcontextprotocol/conformance/dist/index.js');
let r: RunningRelay;
let proxy: InjectingProxy;
let workDir: string;
beforeAll(async () => {
  r = await startRelay(relayConfig(CONFORMANCE_FIXTURE));
  proxy = await startInjectingProxy(`http://127.0.0.1:${r.port}`, { [STANDIN_PERSON_HEADER]: 'conformance' });
  workDir = mkdtempSync(join(tmpdir(), 'fjmcp-conformance-'));
});
afterAll(async () => {
  await proxy.close();
  await r.close();
  rmSync(workDir, { recursive: true, force: true });
});

it('passes every active server scenario of the official conformance suite through the broker', async () => {
  const run = await promisify(execFile)(process.execPath, [CLI, 'server', '--url', `${proxy.url}/mcp`], { cwd: workDir, timeout: 180_000, maxBuffer: 64 << 20 }).catch((e: { stdout: string; stderr: string }) => e);
  const total = /Total: (\d+) passed, (\d+) failed/.exec(run.stdout);
  expect(total, run.stdout.slice(-4000)).not.toBeNull();
  const failed = run.stdout.split('\n').filter((l) => l.startsWith('✗'));
  expect(failed).toEqual([]);
  expect(Number(total![2])).toBe(0);
  // 39: server-sse-multiple-streams checks that SSE streams work only when the server answers its
  // concurrent tools/list POSTs with SSE; the broker answers them as JSON (src/mcp/session.ts,
  // JSON_ANSWERED_METHODS), which that scenario accepts ("each may return SSE or JSON").
  expect(Number(total![1])).toBeGreaterThanOrEqual(39);
  // One person, one child, however many sessions the suite opened.
  expect(r.relay.stats().children).toBe(1);
}, 200_000);
