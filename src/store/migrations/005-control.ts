/**
 * @module store/migrations/005-control
 * What operators and people need to see and cut connections (issue: account page, admin CLI):
 * when each grant was last used, people blocked by the operator, the queue of revocations that a
 * running broker applies to its open MCP sessions (written by `fjmcp-broker admin` or the
 * broker itself, read by every running broker), and small named values of the broker (its live
 * snapshot for the CLI, the sealed key of MCP session ids). Times are ms since the epoch.
 */
import type { Migration } from './index.js';

export const migration: Migration = {
  id: '005-control',
  sql: `
ALTER TABLE oauth_grants ADD COLUMN last_used_at INTEGER;

CREATE TABLE person_blocks (
  login      TEXT PRIMARY KEY,
  person_id  TEXT,
  blocked_at INTEGER NOT NULL,
  reason     TEXT
) STRICT;
CREATE INDEX person_blocks_person ON person_blocks(person_id);

CREATE TABLE control_events (
  id        INTEGER PRIMARY KEY AUTOINCREMENT,
  at        INTEGER NOT NULL,
  kind      TEXT NOT NULL CHECK (kind IN ('grants', 'person', 'block')),
  person_id TEXT,
  grant_ids TEXT
) STRICT;

CREATE TABLE broker_state (
  name       TEXT PRIMARY KEY,
  value      TEXT NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
`,
};
