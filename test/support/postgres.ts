/**
 * @module test/support/postgres — a throw-away PostgreSQL cluster for the tests: `initdb` into a
 * temporary directory, `pg_ctl start` on a free loopback port with the Unix socket inside that
 * directory, trust authentication on loopback only. No running service is assumed. As root the
 * binaries run as the `postgres` user (`runuser`), which owns the directory. The vitest global
 * setup starts one cluster per run (`inject('postgres')`) and stops it at teardown; each test
 * takes a database of its own ({@link createDatabase}). Clusters left by killed runs are stopped
 * by {@link gcPostgres}.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, chownSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import pg from 'pg';
import { freePort } from './ports.js';

export interface PgCluster {
  /** Connection URL of the `postgres` database as superuser `postgres`, e.g. postgres://postgres@127.0.0.1:5433/postgres. */
  url: string;
  port: number;
  /** The temporary directory (data, socket, log). */
  dir: string;
}

const PREFIX = 'fjmcp-pg-';

/** The directory of initdb/pg_ctl: `FJMCP_PG_BIN`, else the newest /usr/lib/postgresql/N/bin. */
export function pgBinDir(): string {
  if (process.env.FJMCP_PG_BIN) return process.env.FJMCP_PG_BIN;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  if (!versions[0]) throw new Error('PostgreSQL binaries not found under /usr/lib/postgresql (apt-get install postgresql, or set FJMCP_PG_BIN)');
  return join(root, versions[0], 'bin');
}

function asRoot(): boolean {
  return process.getuid?.() === 0;
}

/** Runs a PostgreSQL binary, as `postgres` when we are root (initdb refuses to run as root). */
async function run(bin: string, args: string[]): Promise<void> {
  const path = join(pgBinDir(), bin);
  if (asRoot()) await execa('runuser', ['-u', 'postgres', '--', path, ...args], { stdin: 'ignore' });
  else await execa(path, args, { stdin: 'ignore' });
}

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const { stdout: uid } = await execa('id', ['-u', 'postgres']);
  const { stdout: gid } = await execa('id', ['-g', 'postgres']);
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * Creates and starts a cluster. `durable: false` (the default for tests) turns fsync off; the
 * bench passes `durable: true` to measure what production pays.
 * @throws when the binaries are missing or the cluster does not start (with its log).
 */
export async function startPostgres(opts: { durable?: boolean } = {}): Promise<PgCluster> {
  const dir = mkdtempSync(join(tmpdir(), PREFIX));
  chmodSync(dir, 0o700);
  if (asRoot()) {
    const { uid, gid } = await postgresIds();
    chownSync(dir, uid, gid);
  }
  writeFileSync(join(dir, 'owner.pid'), String(process.pid));
  if (asRoot()) chownSync(join(dir, 'owner.pid'), (await postgresIds()).uid, (await postgresIds()).gid);
  const data = join(dir, 'data');
  await run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  const port = await freePort();
  const settings = [
    `-p ${port}`, `-k ${dir}`, '-c listen_addresses=127.0.0.1', '-c max_connections=200',
    ...(opts.durable ? [] : ['-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off']),
  ];
  try {
    await run('pg_ctl', ['-D', data, '-l', join(dir, 'postgres.log'), '-o', settings.join(' '), '-w', '-t', '60', 'start']);
  } catch (err) {
    const log = existsSync(join(dir, 'postgres.log')) ? readFileSync(join(dir, 'postgres.log'), 'utf8') : '';
    throw new Error(`PostgreSQL did not start: ${(err as Error).message}\n${log}`);
  }
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, port, dir };
}

/** Stops the cluster (fast shutdown) and removes its directory. */
export async function stopPostgres(c: Pick<PgCluster, 'dir'>, mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
  try {
    if (existsSync(join(c.dir, 'data', 'postmaster.pid'))) await run('pg_ctl', ['-D', join(c.dir, 'data'), '-m', mode, '-w', 'stop']);
  } finally {
    rmSync(c.dir, { recursive: true, force: true });
  }
}

/** Stops clusters of earlier runs whose vitest process is gone (killed runs leave them running). */
export async function gcPostgres(): Promise<void> {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(PREFIX)) continue;
    const dir = join(tmpdir(), name);
    let owner = 0;
    try {
      owner = Number(readFileSync(join(dir, 'owner.pid'), 'utf8'));
      process.kill(owner, 0);
      continue; // its run is alive
    } catch {
      /* owner gone (or unreadable): litter */
    }
    await stopPostgres({ dir }, 'immediate').catch(() => undefined);
  }
}

/**
 * Creates an empty database on the cluster and returns its URL (one per test or per broker
 * group, so tests do not see each other's rows).
 */
export async function createDatabase(clusterUrl: string, prefix = 't'): Promise<string> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: clusterUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const u = new URL(clusterUrl);
  u.pathname = `/${name}`;
  return u.href;
}

declare module 'vitest' {
  export interface ProvidedContext {
    postgres: PgCluster;
  }
}
