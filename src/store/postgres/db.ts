/**
 * @module store/postgres/db
 * The PostgreSQL engine's connection pool (node-postgres `pg`) and its numbered migrations
 * (`./migrations/`, the twins of the SQLite ones with the same ids), applied at start under a
 * session advisory lock so that replicas starting together migrate once: the first takes the
 * lock and migrates, the others wait for it and then find nothing left to do.
 */
import pg from 'pg';
import { MIGRATIONS } from './migrations/index.js';

export type PgPool = pg.Pool;
export type PgClient = pg.PoolClient;
/** Something that runs a query: the pool, or one client inside a transaction. */
export type Queryable = Pick<pg.Pool, 'query'>;

/** Key of the advisory lock held while migrating (any constant; "fjmcp" in ASCII). */
export const MIGRATION_LOCK_KEY = 0x666a6d6370;

/**
 * BIGINT (int8, OID 20) columns hold ms since the epoch and counts, all far below 2^53, so they
 * are parsed as numbers; pg's default is a string, to be safe for values beyond 2^53.
 */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/** Pool size per replica: enough for concurrent transactions of one broker process. */
export const POOL_MAX = 10;
/**
 * Connections kept open when idle (pg's default is 0: after `idleTimeoutMillis`, 10 s, all close),
 * so the first call after a quiet spell does not pay a TCP connect and the startup handshake.
 */
export const POOL_MIN = 2;

/**
 * Opens a pool to `url` (`postgres://…`) and applies missing migrations.
 * @throws when the server cannot be reached or a migration fails (each runs in its own
 *   transaction, so nothing is half-applied).
 */
export async function openPgPool(url: string): Promise<PgPool> {
  // pg sets TCP_NODELAY on its sockets itself; keepAlive lets the kernel notice a vanished server
  // (or a NAT that dropped the idle connection) instead of the next query waiting on it.
  const pool = new pg.Pool({ connectionString: url, max: POOL_MAX, min: POOL_MIN, keepAlive: true, types, application_name: 'fjmcp-broker' });
  // An idle client that loses its server emits 'error' on the pool; without a listener Node exits.
  pool.on('error', () => undefined);
  try {
    await migrate(pool);
  } catch (err) {
    await pool.end();
    throw err;
  }
  return pool;
}

async function migrate(pool: PgPool): Promise<void> {
  const c = await pool.connect();
  try {
    await c.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)');
    const done = new Set((await c.query<{ id: string }>('SELECT id FROM schema_migrations')).rows.map((r) => r.id));
    for (const m of MIGRATIONS) {
      if (done.has(m.id)) continue;
      await c.query('BEGIN');
      try {
        await c.query(m.sql);
        await c.query('INSERT INTO schema_migrations (id, applied_at) VALUES ($1, $2)', [m.id, Date.now()]);
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK');
        throw new Error(`PostgreSQL migration ${m.id} failed: ${(err as Error).message}`, { cause: err });
      }
    }
  } finally {
    await c.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    c.release();
  }
}

/**
 * Runs `fn` in one transaction (BEGIN…COMMIT) on one pooled client; rolls back when it throws.
 * `fn` must only run queries on `c` — never wait on anything else — so transactions stay short.
 */
export async function inTransaction<T>(pool: PgPool, fn: (c: PgClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const out = await fn(c);
    await c.query('COMMIT');
    return out;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

/** Rows changed by a statement (0 when pg reports none). */
export const changed = (r: { rowCount: number | null }): number => r.rowCount ?? 0;
