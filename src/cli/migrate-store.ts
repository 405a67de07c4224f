/**
 * @module cli/migrate-store
 * `fjmcp-broker migrate-store`: copies a single-machine SQLite store (`broker.sqlite` in
 * FJMCP_DATA_DIR) into an empty PostgreSQL database, so a deployment moves to PostgreSQL and
 * replicas without anyone signing in again (store/copy.ts does the work).
 *
 * A password is never taken from the command line (every local user can read argv with `ps`):
 * `--to` must not carry one; node-postgres then reads PGPASSWORD or ~/.pgpass. Without `--to`,
 * FJMCP_DATABASE_URL (or FJMCP_DATABASE_URL_FILE) names the target, password included.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Env } from '../config.js';
import { copySqliteToPostgres, TargetNotEmptyError } from '../store/copy.js';
import { DB_FILE } from '../store/db.js';

export interface MigrateStoreIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

export const MIGRATE_STORE_USAGE = `Usage: fjmcp-broker migrate-store [--to postgres://USER@HOST:PORT/DB] [--from PATH]

Copies the SQLite store into an empty PostgreSQL database (created tables included), so nobody
signs in again after the move. Stop the broker first: later writes are not copied. Then start
the broker (or its replicas) with FJMCP_DATABASE_URL pointing at the same database and the
same FJMCP_ENCRYPTION_KEYS.

  --to URL     the PostgreSQL database, without a password (taken from PGPASSWORD or ~/.pgpass);
               default FJMCP_DATABASE_URL or FJMCP_DATABASE_URL_FILE, which may hold a password
  --from PATH  the SQLite file (default $FJMCP_DATA_DIR/${DB_FILE}, FJMCP_DATA_DIR default ./data)
`;

const USAGE = 2;
const FAILED = 1;

/** @returns the exit code: 0 copied, 1 the copy failed (target left as it was), 2 bad usage. */
export async function runMigrateStore(argv: string[], env: Env, io: MigrateStoreIo): Promise<number> {
  const fail = (code: number, msg: string) => {
    io.stderr.write(`fjmcp-broker migrate-store: ${msg}\n`);
    if (code === USAGE) io.stderr.write('Run "fjmcp-broker migrate-store --help" for usage.\n');
    return code;
  };
  let values: { to?: string; from?: string; help?: boolean };
  try {
    ({ values } = parseArgs({ args: argv, options: { to: { type: 'string' }, from: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true }));
  } catch (err) {
    return fail(USAGE, (err as Error).message);
  }
  if (values.help) {
    io.stdout.write(MIGRATE_STORE_USAGE);
    return 0;
  }
  let target = values.to;
  if (target !== undefined) {
    let u: URL;
    try {
      u = new URL(target);
    } catch {
      return fail(USAGE, '--to must be a postgres:// URL');
    }
    if (!/^postgres(ql)?:$/.test(u.protocol)) return fail(USAGE, '--to must be a postgres:// URL');
    if (u.password) return fail(USAGE, '--to must not hold a password (the command line is readable by every local user): set PGPASSWORD, use ~/.pgpass, or FJMCP_DATABASE_URL_FILE');
  } else {
    try {
      target = env.FJMCP_DATABASE_URL || (env.FJMCP_DATABASE_URL_FILE ? readFileSync(env.FJMCP_DATABASE_URL_FILE, 'utf8').trim() : undefined);
    } catch (err) {
      return fail(USAGE, `FJMCP_DATABASE_URL_FILE cannot be read: ${(err as Error).message}`);
    }
    if (!target) return fail(USAGE, 'name the PostgreSQL database with --to or FJMCP_DATABASE_URL');
    if (!/^postgres(ql)?:\/\//.test(target)) return fail(USAGE, 'FJMCP_DATABASE_URL must be a postgres:// URL');
  }
  const from = resolve(values.from ?? join(env.FJMCP_DATA_DIR || './data', DB_FILE));
  if (!existsSync(from)) return fail(USAGE, `no SQLite store at ${from} (set FJMCP_DATA_DIR or --from)`);
  const where = new URL(target);
  const label = `${where.hostname}:${where.port || 5432}${where.pathname}`; // never the password
  try {
    const report = await copySqliteToPostgres(from, target);
    for (const { table, rows } of report) io.stdout.write(`${table}: ${rows} rows\n`);
    io.stdout.write(`copied ${from} into PostgreSQL at ${label}; start the broker with FJMCP_DATABASE_URL set to it\n`);
    return 0;
  } catch (err) {
    if (err instanceof TargetNotEmptyError) return fail(FAILED, `${err.message}; nothing was copied`);
    return fail(FAILED, `copy to ${label} failed, nothing was copied: ${(err as Error).message}`);
  }
}
