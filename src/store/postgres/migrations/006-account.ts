/**
 * @module store/postgres/migrations/006-account
 * PostgreSQL twin of src/store/migrations/006-account.ts.
 */
import type { Migration } from '../../migrations/index.js';

export const migration: Migration = {
  id: '006-account',
  sql: `
CREATE TABLE account_logins (
  state_hash      TEXT PRIMARY KEY,
  browser_hash    TEXT NOT NULL,
  verifier_sealed TEXT NOT NULL,
  expires_at      BIGINT NOT NULL
);

CREATE TABLE account_sessions (
  id_hash    TEXT PRIMARY KEY,
  person_id  TEXT NOT NULL,
  login      TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX account_sessions_person ON account_sessions(person_id);
`,
};
