/**
 * @module store/postgres/migrations/005-control
 * PostgreSQL twin of src/store/migrations/005-control.ts.
 */
import type { Migration } from '../../migrations/index.js';

export const migration: Migration = {
  id: '005-control',
  sql: `
ALTER TABLE oauth_grants ADD COLUMN last_used_at BIGINT;

CREATE TABLE person_blocks (
  login      TEXT PRIMARY KEY,
  person_id  TEXT,
  blocked_at BIGINT NOT NULL,
  reason     TEXT
);
CREATE INDEX person_blocks_person ON person_blocks(person_id);

CREATE TABLE control_events (
  id        BIGSERIAL PRIMARY KEY,
  at        BIGINT NOT NULL,
  kind      TEXT NOT NULL CHECK (kind IN ('grants', 'person', 'block')),
  person_id TEXT,
  grant_ids TEXT
);

CREATE TABLE broker_state (
  name       TEXT PRIMARY KEY,
  value      TEXT NOT NULL,
  updated_at BIGINT NOT NULL
);
`,
};
