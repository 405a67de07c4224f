/**
 * @module store/postgres/migrations/007-personal-tokens
 * PostgreSQL twin of src/store/migrations/007-personal-tokens.ts.
 */
import type { Migration } from '../../migrations/index.js';

export const migration: Migration = {
  id: '007-personal-tokens',
  sql: `
CREATE TABLE personal_access_tokens (
  grant_id   TEXT PRIMARY KEY REFERENCES oauth_grants(id) ON DELETE CASCADE,
  person_id  TEXT NOT NULL,
  name       TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX personal_access_tokens_person ON personal_access_tokens(person_id);
`,
};
