/**
 * @module test/testbed/testbed-lifecycle — scripts/testbed up/down against Gitea 1.26.0:
 * seeded users, repository visibility, organisation membership, and no stray process.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { findForgeProcesses } from '../support/processes.js';
import { basicAuth, sharedTestbed, startTestbed, testbedScript, type TestbedUser } from '../support/testbed.js';

async function status(url: string, user: TestbedUser): Promise<number> {
  const tb = sharedTestbed();
  const res = await fetch(`${tb.giteaUrl}${url}`, { headers: { authorization: basicAuth(tb, user) } });
  await res.body?.cancel();
  return res.status;
}

describe('scripts/testbed up: seeded Gitea', () => {
  it('reports the pinned Gitea version on /api/v1/version and a URL without trailing slash', async () => {
    const tb = sharedTestbed();
    expect(tb.giteaUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${tb.giteaUrl}/api/v1/version`);
    expect(await res.json()).toEqual({ version: '1.26.0' });
    expect(tb.version).toBe('1.26.0');
  });

  it('shows each private repository to its owner only (404 to the others, never 403)', async () => {
    for (const owner of ['alice', 'bob', 'carol'] as const) {
      for (const viewer of ['alice', 'bob', 'carol'] as const) {
        const expected = owner === viewer || viewer === 'alice' ? 200 : 404; // alice is site admin
        expect(await status(`/api/v1/repos/${owner}/${owner}-private`, viewer), `${viewer} → ${owner}-private`).toBe(expected);
      }
    }
    expect(await status('/api/v1/repos/bob/bob-public', 'carol')).toBe(200);
  });

  it('makes alice and bob members of the organisation and not carol', async () => {
    const tb = sharedTestbed();
    expect(await status(`/api/v1/orgs/${tb.org}/members/alice`, 'alice')).toBe(204);
    expect(await status(`/api/v1/orgs/${tb.org}/members/bob`, 'alice')).toBe(204);
    expect(await status(`/api/v1/orgs/${tb.org}/members/carol`, 'alice')).toBe(404);
    expect(await status(`/api/v1/repos/${tb.org}/team-private`, 'bob')).toBe(200);
    expect(await status(`/api/v1/repos/${tb.org}/team-private`, 'carol')).toBe(404);
  });
});

describe('scripts/testbed down', () => {
  it('stops the instance and leaves no gitea process and no state directory behind', async () => {
    const tb = await startTestbed({ redirectUri: 'http://127.0.0.1:1/cb' });
    expect(tb.redirectUri).toBe('http://127.0.0.1:1/cb');
    expect(findForgeProcesses([tb.stateDir]).map((p) => p.pid)).toEqual([tb.pid]);
    expect((await fetch(`${tb.giteaUrl}/api/healthz`)).status).toBe(200);
    await tb.stop();
    expect(findForgeProcesses([tb.stateDir, tb.giteaUrl])).toEqual([]);
    expect(existsSync(tb.stateDir)).toBe(false);
    await expect(fetch(`${tb.giteaUrl}/api/healthz`)).rejects.toThrow();
  }, 180_000); // a whole Gitea start with seeding: over a minute on two loaded cores
});

describe('scripts/testbed up, interrupted', () => {
  it('stops the Gitea it started and removes its state when it gets SIGTERM while seeding', async () => {
    const up = spawn(testbedScript, ['up'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    up.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const t0 = Date.now();
    let m: RegExpExecArray | null;
    while (!(m = /gitea up on \S+ \(pid (\d+)\)/.exec(err))) {
      if (Date.now() - t0 > 60_000 || up.exitCode !== null) throw new Error(`up never started Gitea:\n${err}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const pid = Number(m[1]);
    const stateDir = /--work-path\0([^\0]+)/.exec(readFileSync(`/proc/${pid}/cmdline`, 'utf8'))![1]!;
    up.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => (up.exitCode !== null ? r(up.exitCode) : up.once('exit', (c) => r(c))));
    expect(code).not.toBe(0);
    expect(() => process.kill(-pid, 0)).toThrow(); // the whole process group is gone
    expect(existsSync(stateDir)).toBe(false);
  });
});
