/**
 * @module test/support/stores — the two store engines for contract tests: SQLite in memory and
 * PostgreSQL in a fresh database of the run's throw-away cluster (test/support/postgres.ts).
 */
import { inject } from 'vitest';
import { openPostgresStore } from '../../src/store/postgres/index.js';
import { openSqliteStore, type Store } from '../../src/store/store.js';
import { createDatabase } from './postgres.js';

export interface Engine {
  name: Store['engine'];
  /** A new, empty, migrated store. */
  open(): Promise<Store>;
}

/** A URL of a new, empty PostgreSQL database on the run's cluster. */
export function freshPostgresUrl(): Promise<string> {
  return createDatabase(inject('postgres').url);
}

export const ENGINES: readonly Engine[] = [
  { name: 'sqlite', open: () => openSqliteStore(':memory:') },
  { name: 'postgres', open: async () => openPostgresStore(await freshPostgresUrl()) },
];
