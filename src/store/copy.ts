/**
 * @module store/copy
 * Copies a SQLite store into an empty PostgreSQL store (`fjmcp-broker migrate-store`), so moving
 * a single-machine deployment to replicas signs nobody out: clients, grants, codes, tokens,
 * forge tokens (still sealed: the same `FJMCP_ENCRYPTION_KEYS` open them) and every table a later
 * migration adds. Both sides are migrated to the newest schema first; the tables and columns are
 * then the same by construction (test/store/contract.test.ts keeps the migration lists equal).
 *
 * The source is read in one read transaction (a consistent snapshot); the target is written in
 * one transaction, parents before children (foreign keys), so a failed copy leaves the target
 * empty. Stop the broker first: writes made after the snapshot are not copied.
 */
import { openDb } from './db.js';
import { inTransaction, openPgPool, type PgClient } from './postgres/db.js';

/** Rows copied per table, in copy order. */
export type CopyReport = { table: string; rows: number }[];

/** Thrown when the target already holds data (nothing is written then). */
export class TargetNotEmptyError extends Error {
  constructor(readonly table: string, readonly rows: number) {
    super(`the PostgreSQL store is not empty (${table} has ${rows} rows); migrate-store only copies into an empty store`);
    this.name = 'TargetNotEmptyError';
  }
}

/** Tables of the SQLite file in an order where every table comes after the tables it references. */
function tablesInCopyOrder(db: ReturnType<typeof openDb>): string[] {
  const names = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations' ORDER BY name`).pluck().all() as string[]);
  const deps = new Map(names.map((n) => [n, new Set((db.prepare(`SELECT "table" FROM pragma_foreign_key_list(?)`).pluck().all(n) as string[]).filter((t) => t !== n))]));
  const out: string[] = [];
  const visit = (n: string, path: Set<string>) => {
    if (out.includes(n)) return;
    if (path.has(n)) throw new Error(`foreign keys form a cycle through ${n}`);
    path.add(n);
    for (const d of deps.get(n) ?? []) if (deps.has(d)) visit(d, path);
    path.delete(n);
    out.push(n);
  };
  for (const n of names) visit(n, new Set());
  return out;
}

/** PostgreSQL limits a statement to 65535 parameters; stay below it. */
const MAX_PARAMS = 60_000;

async function insertRows(c: PgClient, table: string, rows: Record<string, unknown>[]): Promise<void> {
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0]!);
  const per = Math.max(1, Math.floor(MAX_PARAMS / cols.length));
  const colList = cols.map((k) => `"${k}"`).join(', ');
  for (let i = 0; i < rows.length; i += per) {
    const batch = rows.slice(i, i + per);
    const values: unknown[] = [];
    const tuples = batch.map((r, j) => {
      for (const k of cols) values.push(r[k]);
      return `(${cols.map((_, n) => `$${j * cols.length + n + 1}`).join(', ')})`;
    });
    await c.query(`INSERT INTO "${table}" (${colList}) VALUES ${tuples.join(', ')}`, values);
  }
}

/**
 * Copies everything from the SQLite database at `sqlitePath` into the PostgreSQL database at
 * `postgresUrl` (migrating both first).
 * @throws {TargetNotEmptyError} when any table of the target holds rows.
 * @throws when either side cannot be opened, or a row does not fit (the target stays empty).
 */
export async function copySqliteToPostgres(sqlitePath: string, postgresUrl: string): Promise<CopyReport> {
  const db = openDb(sqlitePath);
  const pool = await openPgPool(postgresUrl).catch((err: unknown) => {
    db.close();
    throw err;
  });
  try {
    const snapshot = db.transaction(() => tablesInCopyOrder(db).map((table) => ({ table, rows: db.prepare(`SELECT * FROM "${table}"`).all() as Record<string, unknown>[] })))();
    return await inTransaction(pool, async (c) => {
      for (const { table } of snapshot) {
        const n = Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM "${table}"`)).rows[0]!.n);
        if (n > 0) throw new TargetNotEmptyError(table, n);
      }
      for (const { table, rows } of snapshot) await insertRows(c, table, rows);
      return snapshot.map(({ table, rows }) => ({ table, rows: rows.length }));
    });
  } finally {
    db.close();
    await pool.end();
  }
}
