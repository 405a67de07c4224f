/**
 * The official conformance suite 0.2 (`@modelcontextprotocol/conformance` 0.2.0-alpha.12, run
 * under Node 24 as it needs Node >= 22) through the broker against our stdio fixture child: the
 * server scenarios MCP 2026-07-28 requires and those 2025-11-25 requires, each against a baseline
 * of expected failures with a reason per entry (`conformance-<revision>.expected-failures.yml`).
 * The runner cannot send credentials, so a loopback proxy adds the stand-in identity; Host and
 * Origin pass through, so dns-rebinding-protection tests the broker's own checks.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { NODE24, node24Tool } from '../support/node24.js';
import { startInjectingProxy, type InjectingProxy } from './injecting-proxy.js';
import { CONFORMANCE_FIXTURE, STANDIN_PERSON_HEADER, relayConfig, startRelay, type RunningRelay } from './relay-harness.js';

let r: RunningRelay;
let proxy: InjectingProxy;
let workDir: string;
beforeAll(async () => {
  r = await startRelay(relayConfig(CONFORMANCE_FIXTURE));
  proxy = await startInjectingProxy(`http://127.0.0.1:${r.port}`, { [STANDIN_PERSON_HEADER]: 'conformance' });
  workDir = mkdtempSync(join(tmpdir(), 'fjmcp-conformance02-'));
});
afterAll(async () => {
  await proxy.close();
  await r.close();
  rmSync(workDir, { recursive: true, force: true });
});

async function runRequirements(revision: string): Promise<{ code: number; stdout: string; passed: number; failed: number }> {
  const cli = node24Tool('@modelcontextprotocol/conformance/dist/index.js');
  const baseline = resolve(import.meta.dirname, `conformance-${revision}.expected-failures.yml`);
  const args = [cli, 'server', '--url', `${proxy.url}/mcp`, '--requirements', revision, '--expected-failures', baseline, '-o', join(workDir, revision)];
  const run = await promisify(execFile)(NODE24, args, { cwd: workDir, timeout: 280_000, maxBuffer: 64 << 20 })
    .then((o) => ({ ...o, code: 0 }))
    .catch((e: { stdout: string; stderr: string; code: number }) => e);
  const total = /Total: (\d+) passed, (\d+) failed/.exec(run.stdout);
  return { code: run.code, stdout: run.stdout + run.stderr, passed: Number(total?.[1] ?? 0), failed: Number(total?.[2] ?? -1) };
}

it('meets the 2026-07-28 server requirements but for the baseline\'s expected failures', async () => {
  const res = await runRequirements('2026-07-28');
  expect(res.code, res.stdout.slice(-6000)).toBe(0); // no unexpected failure, no stale baseline entry
  expect(res.stdout).toMatch(/Baseline check passed/);
  expect(res.passed).toBeGreaterThanOrEqual(120);
  expect(r.relay.stats().children).toBe(1); // one person, one child, both eras
}, 300_000);

it('meets the 2025-11-25 server requirements but for the baseline\'s expected failures', async () => {
  const res = await runRequirements('2025-11-25');
  expect(res.code, res.stdout.slice(-6000)).toBe(0);
  expect(res.stdout).toMatch(/Baseline check passed/);
  expect(res.passed).toBeGreaterThanOrEqual(70);
}, 300_000);
