/**
 * One person's child cannot reach another person's token or the broker's secrets (issue #13).
 * Through the broker, bob's child is a hostile MCP server (test/fixtures/hostile-child.mjs) while
 * alice's real gitea-mcp child runs. With the sandbox on (FJMCP_CHILD_SANDBOX=required) every
 * attempt fails: reading alice's child's /proc/<pid>/environ (her forge token), the broker's
 * environ, the database file, a secret file, alice's HOME; exceeding the memory and process
 * limits. With FJMCP_CHILD_SANDBOX=off the same reads succeed, so the test can fail.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT_NPROC_CAVEAT } from '../../src/child/sandbox.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { headlessDriver, signedInClient, toolText, type SignedInClient } from '../support/mcp-sign-in.js';
import { sharedTestbed } from '../support/testbed.js';
import { processesWithEnv, until } from '../relay/relay-harness.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/hostile-child.mjs', import.meta.url));
/**
 * What the child's runtime reserves before it runs any code (`VmData`, which RLIMIT_DATA counts):
 * ~50 MiB on Node 20, ~560 MiB on Node 24 (V8 reserves its code range read-write-execute there).
 * The limit gives the child HEADROOM_BYTES above it, and the attempt allocates twice that.
 */
const RUNTIME_DATA_BYTES = Number(/VmData:\s+(\d+) kB/.exec(execFileSync(process.execPath, ['-e', 'process.stdout.write(require("fs").readFileSync("/proc/self/status", "utf8"))'], { encoding: 'utf8' }))![1]) * 1024;
const HEADROOM_BYTES = 256 * 1024 * 1024;
const MEMORY_BYTES = RUNTIME_DATA_BYTES + HEADROOM_BYTES;
const MAX_PROCESSES = 32;
const scratch = mkdtempSync(join(tmpdir(), 'fjmcp-hostile-'));
const secretFile = join(scratch, 'forge-client-secret');
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Attempt { ok: boolean; content?: string; pids?: number[]; started?: number; failed?: number; error?: string }

async function scenario(mode: 'required' | 'off') {
  const tb = sharedTestbed();
  if (!tb.children.npmGiteaMcp) throw new Error('the test bed recorded no gitea-mcp child; run scripts/testbed build');
  const broker: TestBroker = await startBroker({
    testbed: tb,
    env: {
      FJMCP_CHILD_SANDBOX: mode,
      FJMCP_CHILD_PRESET: 'gitea-mcp',
      FJMCP_CHILD_COMMAND: process.execPath,
      FJMCP_CHILD_ARGS: JSON.stringify([FIXTURE, tb.children.npmGiteaMcp]),
      FJMCP_CHILD_ENV: JSON.stringify({ HOSTILE_LOGIN: 'bob' }),
      FJMCP_CHILD_MEMORY_BYTES: String(MEMORY_BYTES),
      FJMCP_CHILD_MAX_PROCESSES: String(MAX_PROCESSES),
    },
    secretFile: { name: 'FJMCP_FORGE_CLIENT_SECRET', path: secretFile },
  });
  const clients: SignedInClient[] = [];
  try {
    const drive = headlessDriver(tb, broker.url);
    const alice = await signedInClient(broker.mcpUrl, 'alice', drive);
    clients.push(alice);
    // alice's real gitea-mcp child runs and answers as her.
    const me = await alice.client.callTool({ name: 'user__get_my_userinfo', arguments: {} });
    expect(JSON.parse(toolText(me)).login).toBe('alice');
    const aliceToken = await aliceForgeToken(broker);
    const [alicePid] = processesWithEnv(`GITEA_ACCESS_TOKEN=${aliceToken}`);
    expect(alicePid, 'alice\'s child holds her token').toBeDefined();
    const aliceEnv = readFileSync(`/proc/${alicePid}/environ`, 'utf8').split('\0');
    const aliceHome = aliceEnv.find((v) => v.startsWith('HOME='))!.slice(5);
    writeFileSync(join(aliceHome, 'alice-notes.txt'), 'alice-home-marker');

    const bob = await signedInClient(broker.mcpUrl, 'bob', drive);
    clients.push(bob);
    // A call whose attempt kills the child (V8 aborts when it runs out of memory) failed too.
    const call = async (name: string, args: Record<string, unknown> = {}): Promise<Attempt> => {
      try {
        return JSON.parse(toolText(await bob.client.callTool({ name, arguments: args }))) as Attempt;
      } catch (err) {
        return { ok: false, error: (err as Error).message };
      }
    };
    const results = {
      aliceEnviron: await call('read_file', { path: `/proc/${alicePid}/environ` }),
      brokerEnviron: await call('read_file', { path: `/proc/${process.pid}/environ` }),
      database: await call('read_file', { path: join(broker.dataDir, 'broker.sqlite') }),
      secretFile: await call('read_file', { path: secretFile }),
      aliceHome: await call('read_file', { path: join(aliceHome, 'alice-notes.txt') }),
      pids: await call('list_pids'),
      processes: await call('spawn_processes', { count: 2 * MAX_PROCESSES }),
      memory: await call('allocate_memory', { mib: 2 * HEADROOM_BYTES / (1 << 20) }),
    };
    return { results, aliceToken, alicePid: alicePid!, health: await (await fetch(`${broker.opsUrl}/healthz`)).json() as { childSandbox?: { detail: string } } };
  } finally {
    for (const c of clients) await c.close().catch(() => {});
    await broker.stop();
  }
}

/** alice's forge access token, read from the environment of her child (found under the pid of the audit's child.started). */
async function aliceForgeToken(broker: TestBroker): Promise<string> {
  const started = broker.logLines.map((l) => JSON.parse(l) as { event?: string; login?: string; pid?: number }).find((e) => e.event === 'child.started' && e.login === 'alice');
  expect(started, 'audit child.started for alice').toBeDefined();
  // The audit pid is bwrap's (sandboxed) or the child's own (off); find the process holding GITEA_ACCESS_TOKEN below it.
  const tokenOf = (pid: number) => readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').find((v) => v.startsWith('GITEA_ACCESS_TOKEN='))?.slice('GITEA_ACCESS_TOKEN='.length);
  let token: string | undefined;
  await until(() => {
    for (const pid of descendants(started!.pid!)) token ??= tokenOf(pid);
    return token !== undefined;
  });
  expect(token).toBeTruthy();
  return token!;
}

function descendants(root: number): number[] {
  const out = [root];
  for (let i = 0; i < out.length; i++) {
    try {
      for (const t of readFileSync(`/proc/${out[i]}/task/${out[i]}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) out.push(Number(t));
    } catch {
      /* gone */
    }
  }
  return out;
}

describe('a hostile child of bob, next to alice\'s real gitea-mcp child', () => {
  it('with FJMCP_CHILD_SANDBOX=required: every attempt fails', async () => {
    const { results: r, aliceToken, alicePid, health } = await scenario('required');
    expect(r.aliceEnviron.content ?? '').not.toContain(aliceToken);
    expect(r.aliceEnviron.ok, `alice's /proc/${alicePid}/environ`).toBe(false);
    expect(r.brokerEnviron.ok, 'the broker\'s environ').toBe(false);
    expect(r.database.ok, 'broker.sqlite').toBe(false);
    expect(r.secretFile.ok, 'the client secret file').toBe(false);
    expect(r.aliceHome.ok, 'alice\'s HOME').toBe(false);
    expect(Math.max(...r.pids.pids!), 'only its own PID namespace is visible').toBeLessThan(50);
    expect(r.memory.ok, `allocating twice the headroom FJMCP_CHILD_MEMORY_BYTES leaves above the runtime: ${JSON.stringify(r.memory)}`).toBe(false);
    if (process.getuid?.() === 0) {
      // Linux exempts uid 0 from RLIMIT_NPROC: the broker says so instead of pretending.
      expect(health.childSandbox!.detail).toContain(ROOT_NPROC_CAVEAT);
    } else {
      expect(r.processes.ok, `starting twice FJMCP_CHILD_MAX_PROCESSES: ${JSON.stringify(r.processes)}`).toBe(false);
      expect(r.processes.started).toBeLessThan(MAX_PROCESSES);
    }
  }, 180_000);

  it('with FJMCP_CHILD_SANDBOX=off: the same reads succeed (the test can fail)', async () => {
    const { results: r, aliceToken } = await scenario('off');
    expect(r.aliceEnviron.content).toContain(aliceToken);
    expect(r.brokerEnviron.ok).toBe(true);
    expect(r.database.content).toMatch(/^SQLite format 3/);
    expect(r.secretFile.content).toBe(readFileSync(secretFile, 'utf8'));
    expect(r.aliceHome.content).toBe('alice-home-marker');
    expect(Math.max(...r.pids.pids!)).toBeGreaterThan(50);
    expect(r.memory.ok).toBe(true);
    expect(r.processes).toMatchObject({ ok: true, started: 2 * MAX_PROCESSES });
  }, 180_000);
});
