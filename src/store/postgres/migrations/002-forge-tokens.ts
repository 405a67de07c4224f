/**
 * @module store/postgres/migrations/002-forge-tokens
 * PostgreSQL twin of src/store/migrations/002-forge-tokens.ts.
 */
import type { Migration } from '../../migrations/index.js';

export const migration: Migration = {
  id: '002-forge-tokens',
  sql: `
CREATE TABLE forge_tokens (
  person_id  TEXT PRIMARY KEY,
  login      TEXT NOT NULL,
  sealed     TEXT NOT NULL,
  issued_at  BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  version    BIGINT NOT NULL
);
`,
};
