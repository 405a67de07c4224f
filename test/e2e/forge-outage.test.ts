/**
 * The forge goes away and comes back: `/healthz` turns 503 naming the forge within seconds and 200
 * again once Gitea is back; a tool call in between fails with a clear error instead of hanging.
 * Gitea is really stopped (its process group gets SIGTERM) and started again on the same state.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestbed, type Testbed } from '../support/testbed.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { headlessDriver, signedInClient, toolText, type SignedInClient } from '../support/mcp-sign-in.js';

let tb: Testbed & { stop(): Promise<void> };
let broker: TestBroker;
let alice: SignedInClient;
let restartedPgid: number | undefined;

beforeAll(async () => {
  tb = await startTestbed();
  broker = await startBroker({ testbed: tb });
  alice = await signedInClient(broker.mcpUrl, 'alice', headlessDriver(tb, broker.url));
}, 120_000);
afterAll(async () => {
  await alice?.close().catch(() => {});
  await broker?.stop();
  if (restartedPgid) {
    try {
      process.kill(-restartedPgid, 'SIGTERM');
    } catch {
      /* already gone */
    }
    await waitFor(() => !alive(restartedPgid!), 10_000);
  }
  await tb?.stop();
});

function alive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}
async function waitFor(cond: () => boolean | Promise<boolean>, ms: number): Promise<number> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return Date.now() - t0;
}
const healthStatus = async () => (await fetch(`${broker.url}/healthz`)).status;

describe('forge outage', () => {
  it('reports 503 naming the forge within seconds of Gitea stopping, fails tool calls clearly, and recovers when Gitea is back', async () => {
    expect(await healthStatus()).toBe(200);
    const before = await alice.client.callTool({ name: 'user__get_my_userinfo', arguments: {} });
    expect(JSON.parse(toolText(before))).toMatchObject({ login: 'alice' });

    process.kill(-tb.pid, 'SIGTERM');
    await waitFor(() => !alive(tb.pid), 15_000);
    const downAfterMs = await waitFor(async () => (await healthStatus()) === 503, 10_000);
    expect(downAfterMs).toBeLessThan(5_000);
    const body = (await (await fetch(`${broker.opsUrl}/healthz`)).json()) as { failing: string[]; forge: { ok: boolean; detail: string } };
    expect(body.failing).toEqual(['forge']);
    expect(body.forge.detail).toBeTruthy();

    // In between: an error the person can read, not a hang. (gitea-mcp caches GET answers per
    // argument set for minutes, so ask for a page it has not fetched before.)
    const t0 = Date.now();
    const during = await Promise.race([
      alice.client.callTool({ name: 'repo__list_my', arguments: { page: 7 } }).then(
        (r) => ({ isError: r.isError === true, text: toolText(r) }),
        (err: Error) => ({ isError: true, text: err.message }),
      ),
      new Promise<{ isError: boolean; text: string }>((r) => setTimeout(() => r({ isError: false, text: 'HUNG' }), 20_000)),
    ]);
    expect(during.text).not.toBe('HUNG');
    expect(during.isError, during.text).toBe(true);
    expect(during.text.length).toBeGreaterThan(0);
    expect(Date.now() - t0).toBeLessThan(20_000);
    console.info(`healthz 503 after ${downAfterMs} ms; tool call during the outage failed in ${Date.now() - t0} ms: ${during.text.slice(0, 160)}`);

    const env = { ...process.env, GITEA_I_AM_BEING_UNSAFE_RUNNING_AS_ROOT: 'true' };
    const bin = (await import('../support/testbed.js')).parseEnvFile(tb.envFile).TESTBED_GITEA_BIN!;
    const restarted = spawn(bin, ['web', '--config', join(tb.stateDir, 'app.ini'), '--work-path', tb.stateDir], {
      detached: true,
      stdio: 'ignore',
      env,
    });
    restartedPgid = restarted.pid!;
    restarted.unref();
    await waitFor(async () => (await healthStatus()) === 200, 30_000);

    const after = await alice.client.callTool({ name: 'repo__list_my', arguments: { page: 1, limit: 49 } });
    expect(after.isError ?? false, toolText(after)).toBe(false);
    expect(toolText(after)).toContain('alice/alice-private');
  }, 120_000);
});
