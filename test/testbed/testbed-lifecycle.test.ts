/**
 * @module test/testbed/testbed-lifecycle — scripts/testbed up/down against Gitea 1.26.0:
 * seeded users, repository visibility, organisation membership, and no stray process.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { findForgeProcesses } from '../support/processes.js';
import { basicAuth, sharedTestbed, startTestbed, type TestbedUser } from '../support/testbed.js';

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
  });
});
