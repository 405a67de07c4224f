/**
 * `fjmcp-broker migrate-store` (the real command, as an operator runs it) copies a SQLite store
 * into PostgreSQL so that nobody signs in again: the access token, the refresh token and the
 * sealed forge tokens issued on SQLite work on PostgreSQL. It copies only into an empty store and
 * never takes a password from the command line.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { openPostgresStore } from '../../src/store/postgres/index.js';
import { openSqliteStore, type Store } from '../../src/store/store.js';
import { exchange, ISSUER, rig, signIn } from '../support/oauth-inprocess.js';
import { freshPostgresUrl } from '../support/stores.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const tsx = join(repoRoot, 'node_modules', '.bin', 'tsx');
const cli = (args: string[], env: Record<string, string>) =>
  spawnSync(tsx, [join(repoRoot, 'src/main.ts'), 'migrate-store', ...args], { encoding: 'utf8', env: { PATH: process.env.PATH!, ...env }, timeout: 60_000 });

const dirs: string[] = [];
const stores: Store[] = [];
afterAll(async () => {
  for (const s of stores) await s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('fjmcp-broker migrate-store', () => {
  it('copies a SQLite store into PostgreSQL: the tokens issued on SQLite keep working, nobody signs in again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fjmcp-migrate-'));
    dirs.push(dir);
    const keys = randomBytes(32).toString('base64');
    const sqlite = await openSqliteStore(join(dir, 'broker.sqlite'));
    const before = await rig({ store: sqlite, keys });
    const s = await signIn(before.app);
    const tokens = await exchange(before.app, s);
    await sqlite.close(); // the broker is stopped before the move

    const url = await freshPostgresUrl();
    const r = cli([], { FJMCP_DATA_DIR: dir, FJMCP_DATABASE_URL: url });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^oauth_tokens: 2 rows$/m);
    expect(r.stdout).toMatch(/^forge_tokens: 1 rows$/m);

    const pg = await openPostgresStore(url);
    stores.push(pg);
    const after = await rig({ store: pg, keys });
    const mcp = await after.app.request(`${ISSUER}/mcp`, { method: 'POST', headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(mcp.status).toBe(200);
    expect(await mcp.json()).toEqual({ login: 'dora' }); // forge tokens opened on the new store
    const refreshed = await after.app.request(`${ISSUER}/token`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: s.client_id }).toString(),
    });
    expect(refreshed.status).toBe(200);

    const again = cli([], { FJMCP_DATA_DIR: dir, FJMCP_DATABASE_URL: url });
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/not empty .*nothing was copied/);
  });

  it('refuses a password on the command line, without echoing it, and a missing source', () => {
    const r = cli(['--to', 'postgres://fjmcp:hunter2@127.0.0.1:1/x'], { FJMCP_DATA_DIR: '/nonexistent' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('must not hold a password');
    expect(r.stderr).not.toContain('hunter2');
    const none = cli(['--to', 'postgres://fjmcp@127.0.0.1:1/x'], { FJMCP_DATA_DIR: '/nonexistent' });
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('no SQLite store at /nonexistent/broker.sqlite');
  });
});
