/**
 * @module store/postgres/migrations/004-tool-calls
 * PostgreSQL twin of src/store/migrations/004-tool-calls.ts.
 */
import type { Migration } from '../../migrations/index.js';

export const migration: Migration = {
  id: '004-tool-calls',
  sql: `
CREATE TABLE tool_calls (
  id           BIGSERIAL PRIMARY KEY,
  at           BIGINT NOT NULL,
  person_id    TEXT NOT NULL,
  login        TEXT NOT NULL,
  client_id    TEXT,
  client_name  TEXT,
  session_id   TEXT,
  tool         TEXT NOT NULL,
  repository   TEXT,
  args_sha256  TEXT NOT NULL,
  outcome      TEXT NOT NULL,
  reason       TEXT,
  duration_ms  DOUBLE PRECISION NOT NULL,
  result_bytes BIGINT NOT NULL
);
CREATE INDEX tool_calls_at ON tool_calls (at);
CREATE INDEX tool_calls_person_at ON tool_calls (person_id, at);
`,
};
