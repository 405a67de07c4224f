/**
 * @module store/db
 * Opens the broker's SQLite database (better-sqlite3): WAL, foreign keys, a busy timeout, and the
 * numbered migrations in `./migrations/`, the pending ones applied in one IMMEDIATE transaction and recorded in
 * `schema_migrations`. Only src/store/ holds SQL.
 */
import Database from 'better-sqlite3';
import { MIGRATIONS } from './migrations/index.js';
import { preparePrivateDbFile } from './private-files.js';

export type Db = Database.Database;

/** Database file name inside the data directory. */
export const DB_FILE = 'broker.sqlite';

/**
 * Opens (creating if needed: directory 0700, files 0600) and migrates the database at `path`
 * (`:memory:` for unit tests).
 * @throws when the file cannot be opened or a migration fails (nothing is half-applied).
 */
export function openDb(path: string): Db {
  if (path !== ':memory:') preparePrivateDbFile(path); // dir 0700, files 0600 whatever the umask
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  // FULL, not WAL's usual NORMAL: a commit (a rotated refresh token, a revocation, a block) must
  // survive a power loss or kernel crash too, or a revoked token could be valid again after it
  // (https://sqlite.org/pragma.html#pragma_synchronous). Refresh rotations are group-committed
  // (store/tokens.ts) so that concurrent ones share one sync.
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

function migrate(db: Db): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)');
  // BEGIN IMMEDIATE takes the write lock before reading what is applied, so two processes
  // opening one file at once migrate once (the second waits up to busy_timeout, then sees it done).
  db.transaction(() => {
    const done = new Set(db.prepare('SELECT id FROM schema_migrations').pluck().all() as string[]);
    for (const m of MIGRATIONS) {
      if (done.has(m.id)) continue;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)').run(m.id, Date.now());
    }
  }).immediate();
}

/** Runs a trivial query; throws when SQLite does not answer. Used by `/healthz`. */
export function pingDb(db: Db): void {
  db.prepare('SELECT 1').get();
}
