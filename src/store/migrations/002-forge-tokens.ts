/**
 * @module store/migrations/002-forge-tokens
 * One row per person with their newest forge token set, sealed (AES-256-GCM, AAD = person id).
 * `version` grows on every write of new tokens so a refresh that raced a newer sign-in can tell
 * (compare-and-set); `issued_at` gives the token's lifetime for the refresh margin.
 */
import type { Migration } from './index.js';

export const migration: Migration = {
  id: '002-forge-tokens',
  sql: `
CREATE TABLE forge_tokens (
  person_id  TEXT PRIMARY KEY,
  login      TEXT NOT NULL,
  sealed     TEXT NOT NULL,
  issued_at  INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  version    INTEGER NOT NULL
) STRICT;
`,
};
