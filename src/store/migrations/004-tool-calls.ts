/**
 * @module store/migrations/004-tool-calls
 * The tool-call audit: one row per `tools/call` a client sent through the broker and per refusal
 * (policy, rate limit). Never the argument values: a SHA-256 digest of the canonical arguments.
 * Rows older than `FJMCP_AUDIT_RETENTION_DAYS` are deleted (docs/storage-schema.md).
 */
import type { Migration } from './index.js';

export const migration: Migration = {
  id: '004-tool-calls',
  sql: `
CREATE TABLE tool_calls (
  id           INTEGER PRIMARY KEY,
  at           INTEGER NOT NULL,
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
  duration_ms  REAL NOT NULL,
  result_bytes INTEGER NOT NULL
) STRICT;
CREATE INDEX tool_calls_at ON tool_calls (at);
CREATE INDEX tool_calls_person_at ON tool_calls (person_id, at);
`,
};
