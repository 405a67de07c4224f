/**
 * @module store/postgres/migrations/003-forge-refresh-lease
 * PostgreSQL twin of src/store/migrations/003-forge-refresh-lease.ts.
 */
import type { Migration } from '../../migrations/index.js';

export const migration: Migration = {
  id: '003-forge-refresh-lease',
  sql: `
ALTER TABLE forge_tokens ADD COLUMN refresh_lease_owner TEXT;
ALTER TABLE forge_tokens ADD COLUMN refresh_lease_until BIGINT;
`,
};
