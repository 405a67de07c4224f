/**
 * @module test/support/global-setup — vitest globalSetup: builds the test bed once
 * (`scripts/testbed build`, cached: ~1 s warm, minutes cold), starts ONE shared Gitea
 * provided as `inject('testbed')`, starts ONE throw-away PostgreSQL cluster provided as
 * `inject('postgres')` (test/support/postgres.ts), and at teardown stops both and fails the run loudly if any
 * gitea / gitea-mcp / forgejo-mcp / npm gitea-mcp process started by this run is still alive.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { TestProject } from 'vitest/node';
import { findForgeProcesses } from './processes.js';
import { REGISTRY_ENV, startTestbed, stopTestbed, testbedScript, type Testbed } from './testbed.js';
import { gcPostgres, startPostgres, stopPostgres } from './postgres.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Workers inherit process.env, so every startTestbed() in any worker registers here.
  const registry = mkdtempSync(join(tmpdir(), 'fjmcp-testbed-run.'));
  process.env[REGISTRY_ENV] = registry;

  await execa(testbedScript, ['gc'], { stdin: 'ignore', stdout: 'inherit', stderr: 'inherit' }); // litter of killed runs
  await execa(testbedScript, ['build'], { stdin: 'ignore', stdout: 'inherit', stderr: 'inherit', timeout: 30 * 60_000 });
  await gcPostgres(); // clusters of killed runs
  const postgres = await startPostgres();
  project.provide('postgres', postgres);
  const shared = await startTestbed();
  const { stop, ...plain } = shared;
  project.provide('testbed', plain satisfies Testbed);

  return async function teardown(): Promise<void> {
    const problems: string[] = [];
    await stop().catch((e: unknown) => problems.push(`stopping the shared test bed: ${String(e)}`));
    await stopPostgres(postgres).catch((e: unknown) => problems.push(`stopping the PostgreSQL cluster: ${String(e)}`));

    const instances = existsSync(join(registry, 'instances'))
      ? readFileSync(join(registry, 'instances'), 'utf8').trim().split('\n').filter(Boolean).map((l) => l.split('\t') as [string, string])
      : [];
    for (const [stateDir] of instances) {
      if (existsSync(join(stateDir, 'testbed.env'))) {
        problems.push(`a test started a test bed and never stopped it: ${stateDir}`);
        await stopTestbed({ envFile: join(stateDir, 'testbed.env') }).catch(() => undefined);
      }
    }

    const markers = [...instances.flat(), `${REGISTRY_ENV}=${registry}`];
    let left = findForgeProcesses(markers);
    for (let i = 0; left.length > 0 && i < 30; i++) {
      await new Promise((r) => setTimeout(r, 100)); // children get up to 3 s to exit after stdin EOF
      left = findForgeProcesses(markers);
    }
    for (const p of left) {
      problems.push(`leftover process ${p.pid}: ${p.cmdline}`);
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    rmSync(registry, { recursive: true, force: true });
    if (problems.length > 0) {
      // vitest 4 only logs a teardown error ("error during close") and keeps exit code 0: force failure.
      process.exitCode = 1;
      throw new Error(`test-bed teardown found leaks (now killed/stopped):\n  ${problems.join('\n  ')}`);
    }
  };
}
